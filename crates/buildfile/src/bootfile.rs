//! `.boot` bootfiles: a text header `[ ... ]` and optional binary preboot code.

use crate::Bootfile;
use crate::attrs::{parse_number, parse_u64};
use std::path::PathBuf;

/// Parses a bootfile's bytes. `Err` says what is wrong with the header.
pub fn parse_bootfile(path: PathBuf, bytes: &[u8]) -> Result<Bootfile, String> {
    let mut i = 0;
    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    if bytes.get(i) != Some(&b'[') {
        return Err("a bootfile starts with a `[` header".into());
    }
    i += 1;
    let mut b = Bootfile {
        path,
        ..Bootfile::default()
    };
    // Words of the header: `name=value` (value may be quoted, `\"` inside),
    // `+name`/`-name`, `#` comments to the end of the line.
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        match bytes.get(i) {
            None => return Err("the header has no closing `]`".into()),
            Some(b']') => {
                i += 1;
                break;
            }
            Some(b'#') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        let mut word = Vec::new();
        let mut in_quote = false;
        while i < bytes.len() {
            let c = bytes[i];
            if !in_quote && (c.is_ascii_whitespace() || c == b']') {
                break;
            }
            if c == b'"' {
                in_quote = !in_quote;
                i += 1;
                continue;
            }
            if c == b'\\' && i + 1 < bytes.len() && (bytes[i + 1] == b'"' || bytes[i + 1] == b'\\')
            {
                word.push(bytes[i + 1]);
                i += 2;
                continue;
            }
            word.push(c);
            i += 1;
        }
        if in_quote {
            return Err("a quoted value in the header is never closed".into());
        }
        let word = String::from_utf8_lossy(&word).into_owned();
        setting(&mut b, &word)?;
    }
    // Binary preboot code follows the `boot` marker, if there is one.
    let rest = &bytes[i..];
    if let Some(at) = rest.windows(4).position(|w| w == b"boot") {
        b.preboot = rest[at + 4..].to_vec();
    }
    Ok(b)
}

fn setting(b: &mut Bootfile, word: &str) -> Result<(), String> {
    if let Some(name) = word.strip_prefix('+').or_else(|| word.strip_prefix('-')) {
        let on = word.starts_with('+');
        match name {
            "rsvd_vaddr" => b.rsvd_vaddr = Some(on),
            _ => b
                .other
                .push((name.to_string(), if on { "+" } else { "-" }.to_string())),
        }
        return Ok(());
    }
    let Some((name, value)) = word.split_once('=') else {
        return Err(format!("`{word}` is not `name=value`, `+name` or `-name`"));
    };
    let num = |v: &str| parse_u64(v).ok_or_else(|| format!("`{name}={v}`: not a number"));
    match name {
        "attr" => b.attr.push(value.to_string()),
        "default_image" => b.default_image = Some(value.to_string()),
        "default_ram" => b.default_ram = Some(value.to_string()),
        "filter" => b.filter = Some(value.to_string()),
        "len" => b.len = Some(num(value)?),
        "pagesize" | "pagesizes" => {
            let first = value.split(',').next().unwrap_or(value);
            b.pagesize = Some(num(first)?);
        }
        "paddr_bias" => {
            let v = parse_number(value).ok_or_else(|| format!("`{name}={value}`: not a number"))?;
            b.paddr_bias =
                Some(i64::try_from(v).map_err(|_| format!("`{name}={value}`: out of range"))?);
        }
        "vboot" => b.vboot = Some(num(value)?),
        "notloaded" => b.notloaded = Some(num(value)?),
        _ => b.other.push((name.to_string(), value.to_string())),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(name: &str) -> Vec<u8> {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/corpus/bootfiles")
            .join(name);
        std::fs::read(p).unwrap()
    }

    #[test]
    fn multiboot_header() {
        let b = parse_bootfile("m.boot".into(), &corpus("qnx700_x86_64_multiboot.boot")).unwrap();
        assert_eq!(b.default_image.as_deref(), Some("4m"));
        assert_eq!(b.len, Some(0x200));
        assert_eq!(b.attr, ["?-bigendian"]);
        assert_eq!(b.vboot, Some(0xffff800000000000));
        assert_eq!(b.rsvd_vaddr, Some(true));
        assert_eq!(b.filter.as_deref(), Some("mkifsf_elf -m3 -e1 %a %s %i"));
        assert!(b.preboot.is_empty());
    }

    #[test]
    fn crlf_escaped_quotes_and_two_attr_lines() {
        let b = parse_bootfile("n.boot".into(), &corpus("qnx660_x86_nobios.boot")).unwrap();
        assert_eq!(b.attr.len(), 2);
        assert_eq!(
            b.attr[1],
            "linker=\"(3,6;2;0x4001)ldrel -s!* -p %(f==0,-l -t 0x%t%)%(f!=0,-x -b 0x%h%) %(d!=0, -d 0x%d%) %i %o\""
        );
        assert_eq!(b.vboot, Some(0xfe400000));
    }

    #[test]
    fn negative_bias_pagesizes_and_comments() {
        let b = parse_bootfile("d.boot".into(), &corpus("qnx650_mipsle_dongle.boot")).unwrap();
        assert_eq!(b.paddr_bias, Some(-0x80000000));
        let b = parse_bootfile("a.boot".into(), &corpus("qnx700_aarch64le_binary.boot")).unwrap();
        assert_eq!(b.pagesize, Some(4096));
    }

    #[test]
    fn every_corpus_bootfile_parses() {
        let dir =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/bootfiles");
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let bytes = std::fs::read(&p).unwrap();
            parse_bootfile(p.clone(), &bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            n += 1;
        }
        assert!(n >= 30, "only {n} bootfiles");
    }

    #[test]
    fn binary_preboot_after_marker_and_errors() {
        let b = parse_bootfile("x".into(), b"[len=4]\nboot\x01\x02\x03").unwrap();
        assert_eq!(b.preboot, [1, 2, 3]);
        assert!(parse_bootfile("x".into(), b"len=4").is_err());
        assert!(parse_bootfile("x".into(), b"[len=zz]").is_err());
        assert!(parse_bootfile("x".into(), b"[attr=\"x").is_err());
        assert!(parse_bootfile("x".into(), b"[len=4").is_err());
    }
}
