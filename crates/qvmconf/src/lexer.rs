//! Splitting a qvmconf file into words.
//!
//! Whitespace separates words; `#` at the start of a word comments out the
//! rest of the line; double quotes group text with spaces (and newlines) into
//! one word, and may appear inside a word (`a"b c"d` is the word `ab cd`).

use crate::codes;
use diag::{Diagnostic, FileId, Span};

/// One word of the option stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The word with its quotes removed.
    pub text: String,
    /// Where it is (quotes included).
    pub span: Span,
    /// True when any part of it was quoted (a quoted word is never an option name).
    pub quoted: bool,
}

/// Splits `text` (the contents of `file`) into tokens. An unterminated quote
/// is reported and its word runs to the end of the file.
pub fn lex(file: FileId, text: &str, out: &mut Vec<Token>, diags: &mut Vec<Diagnostic>) {
    let bytes = text.as_bytes();
    // A UTF-8 byte-order mark (from some editors) is not a word.
    let mut i = if bytes.starts_with(b"\xef\xbb\xbf") {
        3
    } else {
        0
    };
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if b == b'#' {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        let mut word = String::new();
        let mut quoted = false;
        let mut run = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            if bytes[i] == b'"' {
                word.push_str(&text[run..i]);
                quoted = true;
                let q = i;
                i += 1;
                let body = i;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += 1;
                }
                word.push_str(&text[body..i]);
                if i >= bytes.len() {
                    diags.push(
                        Diagnostic::new(&codes::Q0101, "this quoted string is never closed")
                            .at(Span::new(file, q, q + 1), "opening quote")
                            .help("add the closing `\"`; a quoted string may span lines"),
                    );
                    run = i;
                    break;
                }
                i += 1;
                run = i;
            } else {
                i += 1;
            }
        }
        word.push_str(&text[run..i.min(bytes.len())]);
        out.push(Token {
            text: word,
            span: Span::new(file, start, i),
            quoted,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> (Vec<String>, usize) {
        let mut t = Vec::new();
        let mut d = Vec::new();
        lex(FileId(0), s, &mut t, &mut d);
        (t.into_iter().map(|t| t.text).collect(), d.len())
    }

    #[test]
    fn comments_quotes_and_whitespace() {
        let (w, d) = words("vdev pl011 # c\n\tloc 0x1 # x\ncmdline \"a b\nc\" x\"y z\"w\n");
        assert_eq!(d, 0);
        assert_eq!(
            w,
            ["vdev", "pl011", "loc", "0x1", "cmdline", "a b\nc", "xy zw"]
        );
    }

    #[test]
    fn byte_order_mark_and_crlf() {
        let (w, _) = words("\u{feff}system a\r\nram 1m\r\n");
        assert_eq!(w, ["system", "a", "ram", "1m"]);
    }

    #[test]
    fn hash_inside_a_word_is_not_a_comment() {
        let (w, _) = words("peer /dev/a#b");
        assert_eq!(w, ["peer", "/dev/a#b"]);
    }

    #[test]
    fn unterminated_quote_is_reported() {
        let (w, d) = words("cmdline \"abc\n def");
        assert_eq!(d, 1);
        assert_eq!(w, ["cmdline", "abc\n def"]);
    }
}
