//! Attribute names, their kinds, and the syntax of their values.

use crate::lexer::{Part, Word};
use diag::Span;

/// Whether an attribute is a boolean (`+a`/`-a`), takes a value (`a=v`), or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `+name` / `-name`.
    Bool,
    /// `name=value`.
    Value,
    /// Either (`+compress` or `compress=2`).
    Both,
}

macro_rules! names {
    ($(#[$m:meta])* $ty:ident { $( $(#[$vm:meta])* $variant:ident = $text:literal, $kind:ident; )* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $ty { $( $(#[$vm])* $variant, )* }
        impl $ty {
            /// Every name with its spelling and kind, sorted by spelling.
            pub const ALL: &'static [($ty, &'static str, Kind)] = &[ $( ($ty::$variant, $text, Kind::$kind), )* ];
            /// The spelling.
            pub fn as_str(self) -> &'static str {
                match self { $( $ty::$variant => $text, )* }
            }
            /// The kind.
            pub fn kind(self) -> Kind {
                match self { $( $ty::$variant => Kind::$kind, )* }
            }
        }
    };
}

/// A set of attribute names: one bit per [`AttrName`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttrSet(u64);

impl AttrSet {
    /// Adds `name`.
    pub fn insert(&mut self, name: AttrName) {
        self.0 |= 1 << name as u32;
    }

    /// Whether `name` is in the set.
    pub fn contains(&self, name: AttrName) -> bool {
        self.0 & (1 << name as u32) != 0
    }
}

names! {
    /// An mkifs buildfile attribute.
    AttrName {
        /// `autolink`.
        Autolink = "autolink", Bool;
        /// `autoso=list|add`.
        Autoso = "autoso", Value;
        /// `bigendian`.
        Bigendian = "bigendian", Bool;
        /// `cd=dir`.
        Cd = "cd", Value;
        /// `chain=addr`.
        Chain = "chain", Value;
        /// `code=uip|copy`.
        Code = "code", Value;
        /// `compress[=n]`.
        Compress = "compress", Both;
        /// `data=uip|copy`.
        Data = "data", Value;
        /// `dperms=mode`.
        Dperms = "dperms", Value;
        /// `dupignore`: a later entry with a target already in the image is ignored silently.
        Dupignore = "dupignore", Bool;
        /// `filter=cmd`.
        Filter = "filter", Value;
        /// `followlink`.
        Followlink = "followlink", Bool;
        /// `gid=n|*`.
        Gid = "gid", Value;
        /// `image=addr[-end][,max][=total][%align]`.
        Image = "image", Value;
        /// `+include`: the named file is a buildfile whose lines are read here.
        Include = "include", Bool;
        /// `keeplinked`.
        Keeplinked = "keeplinked", Bool;
        /// `keepsection=a,b`.
        Keepsection = "keepsection", Value;
        /// `linker=spec`.
        Linker = "linker", Value;
        /// `module=name`.
        Module = "module", Value;
        /// `mount=path`.
        Mount = "mount", Value;
        /// `optional`.
        Optional = "optional", Bool;
        /// `page_align`.
        PageAlign = "page_align", Bool;
        /// `perms=*|octal|symbolic`.
        Perms = "perms", Value;
        /// `phys_align=n`.
        PhysAlign = "phys_align", Value;
        /// `physical=[cpu,]bootfile [args]`.
        Physical = "physical", Value;
        /// `prefix=path`.
        Prefix = "prefix", Value;
        /// `ram=addr[-end][,max][=total][%align]`.
        Ram = "ram", Value;
        /// `raw`.
        Raw = "raw", Bool;
        /// `relocs`.
        Relocs = "relocs", Bool;
        /// `script`.
        Script = "script", Bool;
        /// `search=p1:p2`.
        Search = "search", Value;
        /// `type=file|dir|link|fifo`.
        Type = "type", Value;
        /// `uid=n|*`.
        Uid = "uid", Value;
        /// `virtual=[cpu,]bootfile [args]`.
        Virtual = "virtual", Value;
    }
}

const _: () = assert!(AttrName::ALL.len() <= 64, "AttrSet holds at most 64 names");

names! {
    /// A boot script modifier.
    ModName {
        /// `argv0=name`.
        Argv0 = "argv0", Value;
        /// `cpu=N|*`.
        Cpu = "cpu", Value;
        /// `+|-debug`.
        Debug = "debug", Bool;
        /// `+|-external`.
        External = "external", Bool;
        /// `pri=N[f|r|o]`.
        Pri = "pri", Value;
        /// `sched_aps=partition`.
        SchedAps = "sched_aps", Value;
        /// `+|-session`.
        Session = "session", Bool;
    }
}

/// Attribute names of mkqnx6fsimg/mkefs buildfiles that mkifs does not know:
/// seeing one means the file is for another tool.
pub const OTHER_TOOL_ATTRS: &[&str] = &["num_sectors", "num_inodes", "blksize"];

/// The result of looking a name up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<T> {
    /// Exactly one name matches (in full or as a unique prefix).
    Found(T),
    /// Several names start with the abbreviation.
    Ambiguous(Vec<&'static str>),
    /// No name matches; the closest spelling, if one is close.
    Unknown(Option<&'static str>),
}

/// Looks `text` up in `table`: an exact name, or a unique prefix.
#[inline]
pub fn lookup<T: Copy>(table: &[(T, &'static str, Kind)], text: &str) -> Lookup<T> {
    // The tables are sorted by spelling: an exact name is found by halving.
    if let Ok(i) = table.binary_search_by(|(_, s, _)| short_cmp(s.as_bytes(), text.as_bytes())) {
        return Lookup::Found(table[i].0);
    }
    // (A table that is not sorted still works, more slowly.)
    if let Some(&(n, _, _)) = table.iter().find(|(_, s, _)| *s == text) {
        return Lookup::Found(n);
    }
    let matches: Vec<_> = table
        .iter()
        .filter(|(_, s, _)| !text.is_empty() && s.starts_with(text))
        .collect();
    match matches.len() {
        1 => Lookup::Found(matches[0].0),
        0 => Lookup::Unknown(closest(table.iter().map(|(_, s, _)| *s), text)),
        _ => Lookup::Ambiguous(matches.iter().map(|(_, s, _)| *s).collect()),
    }
}

/// `a.cmp(b)` by a plain loop: for names of a few bytes, cheaper than a
/// call to `memcmp`.
fn short_cmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// The candidate closest to `text` by edit distance, if it is close enough
/// to be a likely misspelling: of the whole name, or (for four letters or
/// more) of an abbreviation (`prem` for `perm`, short for `perms`). Among
/// abbreviations equally close, the one nearer as a whole wins; none when
/// that does not decide.
#[cold]
pub fn closest<'a>(candidates: impl Iterator<Item = &'a str>, text: &str) -> Option<&'a str> {
    let limit = (text.len() / 3).clamp(1, 3);
    // (distance, by abbreviation, whole distance), smaller is closer.
    let mut best: Option<((usize, bool, usize), &'a str)> = None;
    let mut tied = false;
    for c in candidates {
        let whole = edit_distance(c, text);
        let abbrev = (text.len() >= 4 && c.len() > text.len())
            .then(|| c.get(..text.len()).map(|p| edit_distance(p, text)))
            .flatten()
            .filter(|&a| a < whole);
        let key = match abbrev {
            Some(a) => (a, true, whole),
            None => (whole, false, whole),
        };
        if key.0 > limit {
            continue;
        }
        match best {
            Some((b, _)) if key > b => {}
            // Equally close names: the first is kept, as before; equally
            // close abbreviations are no guess.
            Some((b, _)) if key == b => tied |= key.1,
            _ => {
                best = Some((key, c));
                tied = false;
            }
        }
    }
    best.filter(|_| !tied).map(|(_, c)| c)
}

/// Levenshtein distance (optimal string alignment: a swap of two neighbours costs 1).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2 = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The sign of an attribute word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    /// `+name`.
    On,
    /// `-name`.
    Off,
    /// `name=value` (the value word, with its own span and `${}` parts).
    Value(Word),
}

/// An attribute word split into its parts, before its name is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAttr {
    /// `?` given: only if never set before.
    pub conditional: bool,
    /// The name as written (possibly abbreviated).
    pub name: String,
    /// The span of the name.
    pub name_span: Span,
    /// On, off or a value.
    pub setting: Setting,
    /// The whole word.
    pub span: Span,
}

/// Splits `+name`, `-name`, `?+name`, `name=value`, `?name=value`. `None` when
/// the word has no name (`+`, `=x`, `?`).
pub fn split_attr(word: &Word) -> Option<RawAttr> {
    let sp = split(word)?;
    let setting = match sp.setting {
        SplitSetting::On => Setting::On,
        SplitSetting::Off => Setting::Off,
        SplitSetting::Value(off, span) => Setting::Value(value_word(word, off, span)),
    };
    Some(RawAttr {
        conditional: sp.conditional,
        name: word.text[sp.name].to_string(),
        name_span: sp.name_span,
        setting,
        span: word.span,
    })
}

/// An attribute word split without copying: offsets into its text.
#[derive(Debug, Clone)]
pub(crate) struct Split {
    /// `?` given.
    pub conditional: bool,
    /// Where the name is in the word's text.
    pub name: std::ops::Range<usize>,
    /// The span of the name.
    pub name_span: Span,
    /// On, off, or where the value starts (and its span).
    pub setting: SplitSetting,
}

/// The sign of a [`Split`] attribute word.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SplitSetting {
    On,
    Off,
    Value(usize, Span),
}

/// [`split_attr`] without allocating.
pub(crate) fn split(word: &Word) -> Option<Split> {
    let text = word.text.as_str();
    let conditional = text.starts_with('?');
    let off = usize::from(conditional);
    let rest = &text.as_bytes()[off..];
    let sp = word.span;
    // Offsets in the text match offsets in the file for the name part (names
    // never hold quotes or escapes in practice); spans are clamped to the word.
    let at = |a: usize, b: usize| {
        let s = (sp.start as usize + a).min(sp.end as usize);
        let e = (sp.start as usize + b).min(sp.end as usize);
        Span::new(sp.file, s, e)
    };
    if let Some(&sign @ (b'+' | b'-')) = rest.first() {
        let name = &rest[1..];
        if name.is_empty() || name.contains(&b'=') {
            return None;
        }
        return Some(Split {
            conditional,
            name: off + 1..text.len(),
            name_span: at(off + 1, off + 1 + name.len()),
            setting: if sign == b'+' {
                SplitSetting::On
            } else {
                SplitSetting::Off
            },
        });
    }
    let eq = rest.iter().position(|&b| b == b'=')?;
    if eq == 0 {
        return None;
    }
    let value_off = off + eq + 1;
    Some(Split {
        conditional,
        name: off..off + eq,
        name_span: at(off, off + eq),
        setting: SplitSetting::Value(value_off, at(value_off, text.len())),
    })
}

/// The value part of `name=value` taken out of the word: its text is reused.
pub(crate) fn into_value(word: Word, off: usize, span: Span) -> Word {
    if word.parts.is_some() {
        return value_word(&word, off, span);
    }
    let mut text = word.text;
    text.drain(..off);
    Word {
        text,
        parts: None,
        quoted: word.quoted,
        span,
    }
}

/// The value part of `name=value`: the text after byte `off`, keeping `${}` parts.
fn value_word(word: &Word, off: usize, span: Span) -> Word {
    let text = word.text[off..].to_string();
    let parts = word.parts.as_ref().map(|parts| {
        let mut out = Vec::new();
        let mut pos = 0usize;
        for p in parts {
            let len = match p {
                Part::Lit(s) => s.len(),
                Part::Var { span, .. } => span.len(),
            };
            let (s, e) = (pos, pos + len);
            pos = e;
            if e <= off {
                continue;
            }
            match p {
                Part::Lit(t) => out.push(Part::Lit(t[off.saturating_sub(s)..].to_string())),
                v @ Part::Var { .. } => out.push(v.clone()),
            }
        }
        out
    });
    Word {
        text,
        parts,
        quoted: word.quoted,
        span,
    }
}

/// Matches a value against its choices by unique prefix (`c` is `copy`).
pub fn choose(value: &str, choices: &[&'static str]) -> Option<&'static str> {
    if let Some(c) = choices.iter().find(|c| **c == value) {
        return Some(c);
    }
    let mut m = choices
        .iter()
        .filter(|c| !value.is_empty() && c.starts_with(value));
    match (m.next(), m.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

/// A number in C syntax (`0x` hex, leading `0` octal, decimal) with an
/// optional `k`, `m` or `g` suffix (powers of 1024) and an optional sign.
pub fn parse_number(text: &str) -> Option<i128> {
    let t = text.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (digits, mult) = match t.as_bytes().last()? {
        b'k' | b'K' => (&t[..t.len() - 1], 1i128 << 10),
        b'm' | b'M' => (&t[..t.len() - 1], 1 << 20),
        b'g' | b'G' => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let v = if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i128::from_str_radix(h, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        i128::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse::<i128>().ok()?
    };
    let v = v.checked_mul(mult)?;
    Some(if neg { -v } else { v })
}

/// A non-negative number that fits in 64 bits.
pub fn parse_u64(text: &str) -> Option<u64> {
    parse_number(text).and_then(|v| u64::try_from(v).ok())
}

/// An `image=`/`ram=` value: `addr[-end][,max][=total][%align]`.
pub fn parse_range(text: &str) -> Result<crate::AddrRange, String> {
    let mut r = crate::AddrRange::default();
    let mut rest = text.trim();
    let take = |s: &str| -> usize { s.find(['-', ',', '=', '%']).unwrap_or(s.len()) };
    let n = take(rest);
    if n > 0 {
        r.start =
            Some(parse_u64(&rest[..n]).ok_or_else(|| format!("`{}` is not a number", &rest[..n]))?);
    }
    rest = &rest[n..];
    while let Some(c) = rest.chars().next() {
        let body = &rest[1..];
        let n = take(body);
        let v = parse_u64(&body[..n]).ok_or_else(|| format!("`{}` is not a number", &body[..n]))?;
        match c {
            '-' => r.end = Some(v),
            ',' => r.max = Some(v),
            '=' => r.total = Some(v),
            '%' => {
                if v == 0 || !v.is_power_of_two() {
                    return Err(format!("alignment {v} is not a power of two"));
                }
                r.align = Some(v)
            }
            _ => unreachable!("take() stops only at - , = %"),
        }
        rest = &body[n..];
    }
    if let (Some(s), Some(e)) = (r.start, r.end)
        && e < s
    {
        return Err(format!("the end {e:#x} is below the start {s:#x}"));
    }
    Ok(r)
}

/// A `perms=` or `dperms=` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Perms {
    /// `*`: the host file's.
    Host,
    /// An octal mode (`0755`, `4755`).
    Octal(u32),
    /// Symbolic changes applied in order (`a+x`, `go-w,u+s`).
    Symbolic(Vec<PermOp>),
}

/// One clause of a symbolic mode: `[ugoa]*[+-=][rwxst]*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PermOp {
    /// Who: bits 0o700 user, 0o070 group, 0o007 other (0o777 for `a` or none).
    pub who: u32,
    /// `+`, `-` or `=`.
    pub op: u8,
    /// Which: `r` `w` `x` `s` `t`.
    pub what: u32,
}

/// Parses a `perms=` value.
pub fn parse_perms(text: &str) -> Result<Perms, String> {
    let t = text.trim();
    if t == "*" {
        return Ok(Perms::Host);
    }
    if !t.is_empty() && t.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        let v = u32::from_str_radix(t, 8).map_err(|e| e.to_string())?;
        if v > 0o7777 {
            return Err(format!("`{t}` has more than 12 permission bits"));
        }
        return Ok(Perms::Octal(v));
    }
    let mut ops = Vec::new();
    for clause in t.split(',') {
        let b = clause.as_bytes();
        let mut i = 0;
        let mut who = 0;
        while i < b.len() && b"ugoa".contains(&b[i]) {
            who |= match b[i] {
                b'u' => 0o4700,
                b'g' => 0o2070,
                b'o' => 0o0007,
                _ => 0o7777,
            };
            i += 1;
        }
        if who == 0 {
            who = 0o7777;
        }
        if i >= b.len() || !b"+-=".contains(&b[i]) {
            return Err(format!(
                "`{clause}` is not a mode: write octal (0755) or [ugoa][+-=][rwxst] (a+x)"
            ));
        }
        let op = b[i];
        i += 1;
        let mut what = 0;
        while i < b.len() {
            what |= match b[i] {
                b'r' => 0o444,
                b'w' => 0o222,
                b'x' => 0o111,
                b's' => 0o6000,
                b't' => 0o1000,
                c => {
                    return Err(format!(
                        "`{}` in `{clause}` is not one of r w x s t",
                        c as char
                    ));
                }
            };
            i += 1;
        }
        ops.push(PermOp { who, op, what });
    }
    Ok(Perms::Symbolic(ops))
}

impl Perms {
    /// Applies the setting to `base` (the host file's permissions, or the default).
    pub fn apply(&self, base: u32) -> u32 {
        match self {
            Perms::Host => base & 0o7777,
            Perms::Octal(v) => *v,
            Perms::Symbolic(ops) => {
                let mut m = base & 0o7777;
                for o in ops {
                    let bits = o.who & o.what;
                    match o.op {
                        b'+' => m |= bits,
                        b'-' => m &= !bits,
                        _ => m = (m & !(o.who & 0o7777)) | bits,
                    }
                }
                m
            }
        }
    }
}

/// A `pri=` modifier: `N[f|r|o]`.
pub fn parse_priority(text: &str) -> Option<(u8, crate::Policy)> {
    let (digits, policy) = match text.as_bytes().last()? {
        b'f' => (&text[..text.len() - 1], crate::Policy::Fifo),
        b'r' => (&text[..text.len() - 1], crate::Policy::RoundRobin),
        b'o' => (&text[..text.len() - 1], crate::Policy::Other),
        _ => (text, crate::Policy::Unchanged),
    };
    let n: u8 = digits.parse().ok()?;
    Some((n, policy))
}

/// A timeout `secs[.fraction]` as a number of 100 ms checks, and whether
/// that is exact. As mkifs: a finer fraction is rounded to tenths (half up),
/// and a timeout beyond the 16-bit field is clamped to 0xffff checks.
pub fn parse_timeout(text: &str) -> Option<(u16, bool)> {
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !digits(secs) || !digits(frac) || (secs.is_empty() && frac.is_empty()) {
        return None;
    }
    let secs = secs.trim_start_matches('0');
    let digit = |i: usize| u64::from(frac.as_bytes().get(i).map_or(0, |b| b - b'0'));
    let mut exact = frac.bytes().skip(1).all(|b| b == b'0');
    // More than 6 digits of seconds is beyond any clamp.
    let checks = if secs.len() > 6 {
        u64::MAX
    } else {
        let s: u64 = if secs.is_empty() {
            0
        } else {
            secs.parse().ok()?
        };
        s * 10 + digit(0) + u64::from(digit(1) >= 5)
    };
    let stored = u16::try_from(checks).unwrap_or_else(|_| {
        exact = false;
        u16::MAX
    });
    Some((stored, exact))
}

#[cfg(test)]
mod tests {
    use super::*;
    use diag::FileId;

    fn word(text: &str) -> Word {
        Word {
            text: text.into(),
            parts: None,
            quoted: false,
            span: Span::new(FileId(0), 10, 10 + text.len()),
        }
    }

    #[test]
    fn a_misspelled_abbreviation_gets_a_guess() {
        let names = || AttrName::ALL.iter().map(|(_, s, _)| *s);
        // `prem` is one swap from `perm` (short for `perms`) and one letter
        // from `pref` (short for `prefix`): the nearer whole name decides.
        assert_eq!(closest(names(), "prem"), Some("perms"));
        assert_eq!(closest(names(), "folowlink"), Some("followlink"));
        // Too short to guess an abbreviation from.
        assert_eq!(closest(names(), "pe"), None);
        // Equally close abbreviations and whole names alike: no guess.
        assert_eq!(closest(["abcdx", "abcdy"].into_iter(), "abce"), None);
        assert_eq!(closest(["copy", "uip"].into_iter(), "cpy"), Some("copy"));
    }

    #[test]
    fn name_tables_are_sorted_for_lookup() {
        assert!(AttrName::ALL.windows(2).all(|w| w[0].1 < w[1].1));
        assert!(ModName::ALL.windows(2).all(|w| w[0].1 < w[1].1));
    }

    #[test]
    fn names_match_exactly_or_by_unique_prefix() {
        assert_eq!(
            lookup(AttrName::ALL, "compress"),
            Lookup::Found(AttrName::Compress)
        );
        assert_eq!(
            lookup(AttrName::ALL, "comp"),
            Lookup::Found(AttrName::Compress)
        );
        assert_eq!(
            lookup(AttrName::ALL, "opt"),
            Lookup::Found(AttrName::Optional)
        );
        assert_eq!(lookup(AttrName::ALL, "raw"), Lookup::Found(AttrName::Raw));
        assert_eq!(
            lookup(AttrName::ALL, "ra"),
            Lookup::Ambiguous(vec!["ram", "raw"])
        );
        assert_eq!(
            lookup(AttrName::ALL, "s"),
            Lookup::Ambiguous(vec!["script", "search"])
        );
        assert_eq!(
            lookup(AttrName::ALL, "optinal"),
            Lookup::Unknown(Some("optional"))
        );
        assert_eq!(
            lookup(AttrName::ALL, "premss"),
            Lookup::Unknown(Some("perms"))
        );
        assert_eq!(lookup(AttrName::ALL, "zzzzzz"), Lookup::Unknown(None));
    }

    #[test]
    fn attribute_words_split() {
        let a = split_attr(&word("?+compress")).unwrap();
        assert!(a.conditional);
        assert_eq!(a.name, "compress");
        assert_eq!(a.setting, Setting::On);
        assert_eq!((a.name_span.start, a.name_span.end), (12, 20));
        let b = split_attr(&word("uid=0")).unwrap();
        assert!(matches!(b.setting, Setting::Value(ref w) if w.text == "0" && w.span.start == 14));
        let c = split_attr(&word("-optional")).unwrap();
        assert_eq!(c.setting, Setting::Off);
        assert!(split_attr(&word("+")).is_none());
        assert!(split_attr(&word("=x")).is_none());
        assert!(split_attr(&word("plain")).is_none());
    }

    #[test]
    fn value_keeps_variable_parts() {
        let w = Word {
            text: "search=${A}/b".into(),
            parts: Some(vec![
                Part::Lit("search=".into()),
                Part::Var {
                    name: "A".into(),
                    span: Span::new(FileId(0), 7, 11),
                },
                Part::Lit("/b".into()),
            ]),
            quoted: false,
            span: Span::new(FileId(0), 0, 13),
        };
        let a = split_attr(&w).unwrap();
        let Setting::Value(v) = a.setting else {
            panic!()
        };
        assert_eq!(v.text, "${A}/b");
        assert_eq!(v.parts.unwrap().len(), 2);
    }

    #[test]
    fn numbers_in_c_syntax_with_suffixes() {
        assert_eq!(parse_number("0x80000"), Some(0x80000));
        assert_eq!(parse_number("010"), Some(8));
        assert_eq!(parse_number("0"), Some(0));
        assert_eq!(parse_number("4m"), Some(4 << 20));
        assert_eq!(parse_number("4K"), Some(4096));
        assert_eq!(parse_number("1g"), Some(1 << 30));
        assert_eq!(parse_number("-0x80000000"), Some(-0x8000_0000));
        assert_eq!(parse_number("08"), None);
        assert_eq!(parse_number("0x"), None);
        assert_eq!(parse_number("12z"), None);
    }

    #[test]
    fn image_ranges() {
        let r = parse_range("0x80000").unwrap();
        assert_eq!(
            (r.start, r.end, r.max, r.total, r.align),
            (Some(0x80000), None, None, None, None)
        );
        let r = parse_range("0x1000-0x2fff,8k=16k%4k").unwrap();
        assert_eq!(
            (r.start, r.end, r.max, r.total, r.align),
            (
                Some(0x1000),
                Some(0x2fff),
                Some(8192),
                Some(16384),
                Some(4096)
            )
        );
        assert!(parse_range("0x2000-0x1000").is_err());
        assert!(parse_range("0x1000%3").is_err());
        assert!(parse_range("zz").is_err());
    }

    #[test]
    fn perms_octal_symbolic_and_host() {
        assert_eq!(parse_perms("*").unwrap(), Perms::Host);
        assert_eq!(parse_perms("0755").unwrap().apply(0), 0o755);
        assert_eq!(parse_perms("4755").unwrap().apply(0), 0o4755);
        assert_eq!(parse_perms("a+x").unwrap().apply(0o644), 0o755);
        assert_eq!(parse_perms("+x").unwrap().apply(0o600), 0o711);
        assert_eq!(parse_perms("go-w,u+s").unwrap().apply(0o777), 0o4755);
        assert_eq!(parse_perms("u=rw").unwrap().apply(0o755), 0o655);
        assert!(parse_perms("a+q").is_err());
        assert!(parse_perms("rwx").is_err());
        assert!(parse_perms("17777").is_err());
    }

    #[test]
    fn priorities_and_timeouts() {
        assert_eq!(parse_priority("10f"), Some((10, crate::Policy::Fifo)));
        assert_eq!(parse_priority("25"), Some((25, crate::Policy::Unchanged)));
        assert_eq!(parse_priority("10o"), Some((10, crate::Policy::Other)));
        assert_eq!(parse_priority("x"), None);
        assert_eq!(parse_timeout("4"), Some((40, true)));
        assert_eq!(parse_timeout("0.5"), Some((5, true)));
        assert_eq!(parse_timeout("3000"), Some((30000, true)));
        assert_eq!(parse_timeout("6553.5"), Some((0xffff, true)));
        assert_eq!(parse_timeout("1.50"), Some((15, true)));
        // As mkifs: rounded to tenths, clamped to the field.
        assert_eq!(parse_timeout("1.25"), Some((13, false)));
        assert_eq!(parse_timeout("1.24"), Some((12, false)));
        assert_eq!(parse_timeout("7000"), Some((0xffff, false)));
        assert_eq!(parse_timeout("99999999999"), Some((0xffff, false)));
        assert_eq!(parse_timeout("x"), None);
        assert_eq!(parse_timeout("."), None);
        assert_eq!(parse_timeout("-1"), None);
    }

    #[test]
    fn values_abbreviate_to_a_unique_prefix() {
        assert_eq!(choose("c", &["uip", "copy"]), Some("copy"));
        assert_eq!(choose("uip", &["uip", "copy"]), Some("uip"));
        assert_eq!(choose("f", &["file", "dir", "link", "fifo"]), None);
        assert_eq!(choose("fi", &["file", "dir", "link", "fifo"]), None);
        assert_eq!(
            choose("fil", &["file", "dir", "link", "fifo"]),
            Some("file")
        );
        assert_eq!(choose("", &["uip", "copy"]), None);
        assert_eq!(choose("x", &["uip", "copy"]), None);
    }

    #[test]
    fn edit_distance_counts_swaps_once() {
        assert_eq!(edit_distance("ser8250", "ser8520"), 1);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
