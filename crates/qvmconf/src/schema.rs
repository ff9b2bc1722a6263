//! The words of the language: the top-level options, those of `cpu`,
//! `pass` and `reserve`, and — from the device declarations in the `vdev`
//! crate ([`vdev::decl`]) — those of each vdev.

use crate::config::VdevKind;
use vdev::decl::{OptDecl, ValueType};

pub use vdev::base_name;

/// How many values an option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// A flag (`legacy`).
    Flag,
    /// One value (`loc 0x3f8`).
    One,
    /// A number if one follows, else nothing (`its` or `its 0x2f020000`).
    OptionalNumber,
}

impl Arity {
    /// The arity of a value type.
    pub fn of(t: ValueType) -> Arity {
        match t {
            ValueType::Flag => Arity::Flag,
            ValueType::OptionalNumber => Arity::OptionalNumber,
            _ => Arity::One,
        }
    }
}

/// True for a word that is an option every vdev takes.
pub fn is_common(word: &str) -> bool {
    vdev::decl::common_names().any(|c| c == word)
}

/// The device's own option `word`.
pub fn own_option(kind: VdevKind, word: &str) -> Option<&'static OptDecl> {
    kind.decl().option(word)
}

/// True when some vdev has its own option `word`.
pub fn is_device_option(word: &str) -> bool {
    VdevKind::ALL.iter().any(|k| own_option(*k, word).is_some())
}

/// The top-level options (those that are not a vdev's, cpu's, pass's or reserve's).
pub const TOP_OPTIONS: &[&str] = &[
    "system",
    "ram",
    "rom",
    "cpu",
    "load",
    "cmdline",
    "pass",
    "reserve",
    "vdev",
    "unsupported",
    "tolerance",
    "safety",
    "logger",
    "dump",
    "set",
    "dryrun",
    "acpi",
    "data",
    "fdt",
    "initrd",
];

/// Options of a `cpu`.
pub const CPU_OPTIONS: &[&str] = &["sched", "runmask", "partition", "cluster"];

/// Options of a `pass` or `reserve`.
pub const PASS_OPTIONS: &[&str] = &["loc", "intr"];

/// The closest of `candidates` to `word`, if it is close enough to be a
/// likely typo: an edit distance (counting a swap of two neighbours as one
/// edit) of at most a quarter of the length, at least 1; or letters left
/// out of it, two thirds of it still there (`partion` for `partition`).
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let n = word.chars().count();
    let limit = (n / 4).max(1);
    let shortened = |c: &str| 3 * n >= 2 * c.chars().count() && is_subsequence(word, c);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= limit || shortened(c))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// True when `c` has every letter of `word`, in order (case-insensitive).
fn is_subsequence(word: &str, c: &str) -> bool {
    let mut rest = c.chars().map(|x| x.to_ascii_lowercase());
    word.chars()
        .map(|x| x.to_ascii_lowercase())
        .all(|w| rest.any(|x| x == w))
}

/// Optimal-string-alignment distance (case-insensitive; inputs are cut at 64
/// characters: option names are short).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(64).map(|c| c.to_ascii_lowercase()).collect();
    let b: Vec<char> = b.chars().take(64).map(|c| c.to_ascii_lowercase()).collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_forms_name_the_same_vdev() {
        for w in ["ser8250", "vdev-ser8250", "vdev-ser8250.so"] {
            assert_eq!(VdevKind::from_written(w), Some(VdevKind::Ser8250), "{w}");
        }
        assert_eq!(
            VdevKind::from_written("vdev-8259.so"),
            Some(VdevKind::Pic8259)
        );
        assert_eq!(VdevKind::from_written("ser825"), None);
        assert!(is_common("loc") && !is_common("hostdev"));
        assert!(is_device_option("hostdev") && !is_device_option("loc"));
    }

    #[test]
    fn suggestions_are_close_words_only() {
        assert_eq!(
            did_you_mean("ser8205", ["ser8250", "pl011"]),
            Some("ser8250")
        );
        assert_eq!(did_you_mean("hostdv", ["hostdev", "loc"]), Some("hostdev"));
        assert_eq!(did_you_mean("zzzzzz", ["hostdev", "loc"]), None);
    }
}
