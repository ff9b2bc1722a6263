//! Bytes that are usually text (an image's paths, its mount point) as a
//! string, losslessly: the one way every JSON output writes them.

/// `bytes` as a string: UTF-8 as it is, except that a backslash is doubled
/// (`\\`) and each byte that is not part of valid UTF-8 is written `\xHH`
/// (two lowercase hex digits). [`unescape`] gives the bytes back.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// The bytes [`escape`] wrote `s` from; `None` when `s` has a backslash
/// that [`escape`] would not have written.
pub fn unescape(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.extend_from_slice(&rest.as_bytes()[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('\\') {
            out.push(b'\\');
            rest = r;
        } else {
            let hex = after.strip_prefix('x')?.get(..2)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &after[3..];
        }
    }
    out.extend_from_slice(rest.as_bytes());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_stays_and_other_bytes_round_trip() {
        assert_eq!(escape(b"proc/boot/ksh"), "proc/boot/ksh");
        assert_eq!(escape("vm/é".as_bytes()), "vm/é");
        assert_eq!(escape(b"a\\b"), "a\\\\b");
        assert_eq!(escape(b"bad\xff\xfe/x"), "bad\\xff\\xfe/x");
        for b in [
            &b"bad\xff\xfe/x"[..],
            b"a\\b",
            b"\\x41",
            b"\xc3",
            "é\\".as_bytes(),
        ] {
            assert_eq!(unescape(&escape(b)).as_deref(), Some(b), "{b:?}");
        }
        assert_eq!(unescape("a\\q"), None);
        assert_eq!(unescape("a\\x4"), None);
        assert_eq!(unescape("a\\x+1"), None);
    }
}
