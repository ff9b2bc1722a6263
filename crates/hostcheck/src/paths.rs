//! Paths inside an image, as text: the lowest layer of this crate.

/// The last component of a path.
pub fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// An absolute, normalised path: relative paths are taken from `/`; `.`,
/// `..` and repeated slashes are removed.
pub fn absolute(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}
