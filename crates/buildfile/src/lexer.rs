//! Tokens of the buildfile language.
//!
//! The lexer works on bytes (buildfiles are not always UTF-8) and keeps the
//! span of every token. It has two modes: the top level, where a newline ends
//! an entry and `=` separates names, and attribute lists, where newlines are
//! plain white space and `=` belongs to `name=value`. Inline file contents are
//! not tokenized here: [`Lexer::inline_body`] returns their byte range.
//!
//! Rules (buildfile-language.md §1):
//! - `#` starts a comment only at the start of a token.
//! - `"..."` groups words; the quotes are removed; nothing is expanded inside.
//! - `\\`, `\"`, `\$` and `\]` give the character; backslash-newline joins
//!   lines; any other backslash stays.
//! - `${NAME}` is kept as a variable part, expanded later by the resolver with
//!   the variables in force at that line; `$NAME` is left alone.

#![allow(
    unsafe_code,
    reason = "one from_utf8_unchecked, on bytes checked to be ASCII (see its SAFETY note)"
)]

use diag::{FileId, Span};

/// One part of a word: literal text or a `${NAME}` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal bytes (quotes and escapes already removed).
    Lit(String),
    /// `${NAME}`.
    Var {
        /// The variable name.
        name: String,
        /// The span of `${NAME}`.
        span: Span,
    },
}

/// A word: a file name, an attribute, a script argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The text with quotes and escapes removed and `${...}` references kept
    /// as written (use `parts` to expand them).
    pub text: String,
    /// The parts, when the word holds at least one `${NAME}`; `None` for
    /// plain words (the common case: no allocation).
    pub parts: Option<Vec<Part>>,
    /// True when any part of the word was quoted.
    pub quoted: bool,
    /// Where the word is.
    pub span: Span,
}

impl Word {
    /// True when the word holds `${...}` references.
    pub fn has_vars(&self) -> bool {
        self.parts.is_some()
    }
}

/// A top-level token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// A word.
    Word(Word),
    /// `=` between names.
    Eq(Span),
    /// `[`: an attribute list follows (read it with [`Lexer::attr_word`]).
    LBracket(Span),
    /// `{` at the start of a token: inline contents follow.
    LBrace(Span),
    /// The end of a line.
    Newline(Span),
    /// The end of the input.
    Eof(Span),
}

/// Something in the input that the lexer could not accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexError {
    /// A `"` without its closing quote.
    UnterminatedQuote(Span),
    /// `${` without `}`.
    UnterminatedVar(Span),
}

/// A sign that the file is a template for another tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateMark {
    /// A C-preprocessor directive (`#include`, `#if defined`, ...).
    Cpp(Span),
    /// An `@NAME@` or `__NAME__` placeholder.
    Placeholder(Span),
}

/// What ends an attribute word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrTok {
    /// An attribute (`+name`, `-name`, `?name=value`, ...).
    Word(Word),
    /// The closing `]`.
    Close(Span),
    /// A `[` or `{` where an attribute was expected: the list was never
    /// closed (the lexer stops before it).
    Unclosed(Span),
    /// The end of the input inside the list.
    Eof(Span),
}

/// The lexer over one file (or one range of it).
pub struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    end: usize,
    file: FileId,
    /// Errors found so far.
    pub errors: Vec<LexError>,
    /// Template marks found so far.
    pub marks: Vec<TemplateMark>,
    /// True when the next token starts a line (for template detection).
    at_line_start: bool,
}

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t' || b == b'\r' || b == 0x0c || b == 0x0b
}

impl<'a> Lexer<'a> {
    /// A lexer over `src[start..end]`, whose offsets are those of `file`.
    pub fn new(src: &'a [u8], file: FileId, start: usize, end: usize) -> Lexer<'a> {
        Lexer {
            src,
            pos: start,
            end: end.min(src.len()),
            file,
            errors: Vec::new(),
            marks: Vec::new(),
            at_line_start: true,
        }
    }

    /// Current offset.
    pub fn pos(&self) -> usize {
        self.pos
    }

    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, start, end)
    }

    fn peek(&self) -> Option<u8> {
        (self.pos < self.end).then(|| self.src[self.pos])
    }

    fn peek_at(&self, i: usize) -> Option<u8> {
        let p = self.pos + i;
        (p < self.end).then(|| self.src[p])
    }

    /// Skips blanks, comments and backslash-newlines; stops at a newline
    /// when `newline_is_space` is false.
    fn skip_blank(&mut self, newline_is_space: bool) {
        while let Some(b) = self.peek() {
            if is_space(b) {
                self.pos += 1;
            } else if b == b'\n' && newline_is_space {
                self.pos += 1;
                self.at_line_start = true;
            } else if b == b'\\' && self.peek_at(1) == Some(b'\n') {
                self.pos += 2;
            } else if b == b'\\' && self.peek_at(1) == Some(b'\r') && self.peek_at(2) == Some(b'\n')
            {
                self.pos += 3;
            } else if b == b'#' {
                self.skip_comment();
            } else {
                break;
            }
        }
    }

    fn skip_comment(&mut self) {
        let start = self.pos;
        let line_end = memchr::memchr(b'\n', &self.src[self.pos..self.end])
            .map(|i| self.pos + i)
            .unwrap_or(self.end);
        if self.at_line_start && is_cpp_directive(&self.src[start..line_end]) {
            let word_end = self.src[start..line_end]
                .iter()
                .position(|&b| is_space(b))
                .map(|i| start + i)
                .unwrap_or(line_end);
            self.marks
                .push(TemplateMark::Cpp(self.span(start, word_end)));
        }
        self.pos = line_end;
    }

    /// The next top-level token.
    pub fn next_tok(&mut self) -> Tok {
        self.skip_blank(false);
        let start = self.pos;
        let Some(b) = self.peek() else {
            return Tok::Eof(self.span(start, start));
        };
        match b {
            b'\n' => {
                self.pos += 1;
                self.at_line_start = true;
                Tok::Newline(self.span(start, start + 1))
            }
            b'=' => {
                self.pos += 1;
                self.at_line_start = false;
                Tok::Eq(self.span(start, start + 1))
            }
            b'[' => {
                self.pos += 1;
                self.at_line_start = false;
                Tok::LBracket(self.span(start, start + 1))
            }
            b'{' => {
                self.pos += 1;
                self.at_line_start = false;
                Tok::LBrace(self.span(start, start + 1))
            }
            _ => {
                self.at_line_start = false;
                Tok::Word(self.word(WordMode::TopLevel))
            }
        }
    }

    /// The next word of an attribute list (after `[`).
    pub fn attr_word(&mut self) -> AttrTok {
        self.skip_blank(true);
        let start = self.pos;
        match self.peek() {
            None => AttrTok::Eof(self.span(start, start)),
            Some(b']') => {
                self.pos += 1;
                self.at_line_start = false;
                AttrTok::Close(self.span(start, start + 1))
            }
            Some(b'[') | Some(b'{') => AttrTok::Unclosed(self.span(start, start + 1)),
            Some(_) => {
                self.at_line_start = false;
                AttrTok::Word(self.word(WordMode::Attr))
            }
        }
    }

    /// After `{`: checks that only blanks or a comment follow on the line and
    /// returns the byte range of the contents: from the next line up to (not
    /// including) the first unescaped `}`, and the span of that `}`. `Err`
    /// holds the span of unexpected text after `{` (the contents then start
    /// after that line) or, with `None`, means no `}` was found.
    pub fn inline_body(&mut self) -> InlineBody {
        // Rest of the `{` line.
        let mut junk = None;
        while let Some(b) = self.peek() {
            if b == b'\n' {
                self.pos += 1;
                break;
            } else if is_space(b) {
                self.pos += 1;
            } else if b == b'#' {
                self.skip_comment();
            } else {
                let s = self.pos;
                let e = memchr::memchr(b'\n', &self.src[s..self.end])
                    .map(|i| s + i)
                    .unwrap_or(self.end);
                junk = Some(self.span(s, e));
                self.pos = e;
            }
        }
        let start = self.pos;
        let opener = match self.scan_contents(start) {
            Ok(i) => {
                self.pos = i + 1;
                self.at_line_start = false;
                return InlineBody {
                    start,
                    end: i,
                    close: Some(self.span(i, i + 1)),
                    junk,
                    reopen: None,
                };
            }
            Err(opener) => opener,
        };
        let end = match opener {
            // Read on from the line of the other entry.
            Some(o) => {
                let line = self.src[start..o.start as usize]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(start, |n| start + n + 1);
                self.at_line_start = true;
                line
            }
            None => self.end,
        };
        self.pos = end;
        InlineBody {
            start,
            end,
            close: None,
            junk,
            reopen: opener,
        }
    }

    /// The offset of the end of the line that holds offset `at` (its
    /// newline, or the end of the input).
    pub fn line_end(&self, at: u32) -> usize {
        let at = (at as usize).min(self.end);
        memchr::memchr(b'\n', &self.src[at..self.end]).map_or(self.end, |n| at + n)
    }

    /// Looks for the end of inline contents from `start`: `Ok` with the
    /// offset of the first unescaped `}`, or `Err` when the contents have
    /// none of their own, with the first line since the last `\}` that opens
    /// another entry (`name = {`), if any: the `}` found after that line
    /// (or the end of the input) belongs to that entry.
    fn scan_contents(&self, start: usize) -> Result<usize, Option<Span>> {
        let (src, end) = (self.src, self.end);
        let mut opener: Option<Span> = None;
        let mut i = start;
        while i < end {
            let line_end = memchr::memchr(b'\n', &src[i..end]).map_or(end, |n| i + n);
            let line = &src[i..line_end];
            if opener.is_none() && memchr::memchr(b'{', line).is_some() {
                opener = entry_opener(line).map(|(a, b)| self.span(i + a, i + b));
            }
            let mut j = i;
            while let Some(k) = memchr::memchr2(b'\\', b'}', &src[j..line_end]) {
                let p = j + k;
                if src[p] == b'}' {
                    return if opener.is_none() { Ok(p) } else { Err(opener) };
                }
                // An escape: `\}` is contents (and closes a `{` of them).
                if p + 1 < end && src[p + 1] == b'}' {
                    opener = None;
                }
                j = (p + 2).min(end);
                if j > line_end {
                    break;
                }
            }
            i = line_end + 1;
        }
        Err(opener)
    }

    /// Where the text ends: the end of the input before its trailing white
    /// space (a place to point at, on the last line that holds text).
    pub fn text_end(&self) -> usize {
        self.src[..self.end].trim_ascii_end().len()
    }

    /// A word of plain bytes only (most words), made into its `String` with
    /// one allocation of the right size; None when the word has quotes,
    /// escapes or variables.
    fn plain_word(&mut self, mode: WordMode) -> Option<Word> {
        let start = self.pos;
        let table = &CLASS[mode as usize];
        let rest = &self.src[start..self.end];
        let mut seen = 0u8;
        let run = rest
            .iter()
            .position(|&c| {
                let k = table[c as usize];
                seen |= k;
                k & PLAIN == 0
            })
            .unwrap_or(rest.len());
        let ends_word = match rest.get(run) {
            None => true,
            Some(&c) => !matches!(c, b'"' | b'\\' | b'$'),
        };
        if run == 0 || !ends_word {
            return None;
        }
        let bytes = &rest[..run];
        // `seen` also holds the class of the stopping byte, which is
        // ASCII.
        let text = if seen & NON_ASCII == 0 {
            // SAFETY: every byte of `bytes` is below 0x80 (their OR is),
            // so the slice is valid ASCII and thus valid UTF-8.
            unsafe { std::str::from_utf8_unchecked(bytes) }.to_owned()
        } else {
            lossy(bytes)
        };
        self.pos = start + run;
        let span = self.span(start, self.pos);
        if seen & MARK != 0 && has_placeholder(text.as_bytes()) {
            self.marks.push(TemplateMark::Placeholder(span));
        }
        Some(Word {
            text,
            parts: None,
            quoted: false,
            span,
        })
    }

    /// Reads a `"..."` part of a word (from its opening quote) into `text`.
    fn quoted_part(&mut self, mode: WordMode, text: &mut Vec<u8>) {
        let qstart = self.pos;
        self.pos += 1;
        let mut closed = false;
        while let Some(c) = self.peek() {
            if c == b'\n' {
                // A quote ends with its line: an unclosed one
                // must not swallow the rest of the file.
                break;
            }
            if c == b'"' {
                self.pos += 1;
                closed = true;
                break;
            }
            if c == b'\\' {
                if let Some(n) = self.escape(mode) {
                    text.extend_from_slice(n);
                }
                continue;
            }
            text.push(c);
            self.pos += 1;
        }
        if !closed {
            self.errors
                .push(LexError::UnterminatedQuote(self.span(qstart, qstart + 1)));
        }
    }

    /// Reads one word. The caller has checked that the next byte starts one.
    fn word(&mut self, mode: WordMode) -> Word {
        let start = self.pos;
        if let Some(w) = self.plain_word(mode) {
            return w;
        }
        let table = &CLASS[mode as usize];
        let mut text = Vec::new();
        let mut parts: Option<Vec<Part>> = None;
        let mut quoted = false;
        let mut lit_start = 0usize; // index in `text` where the current literal run began
        while let Some(b) = self.peek() {
            match b {
                b'\n' => break,
                _ if is_space(b) => break,
                b'=' if mode == WordMode::TopLevel => break,
                b']' if mode == WordMode::Attr => break,
                b'"' => {
                    quoted = true;
                    self.quoted_part(mode, &mut text);
                }
                b'\\' => {
                    if let Some(n) = self.escape(mode) {
                        text.extend_from_slice(n);
                    }
                }
                b'$' if mode != WordMode::Script && self.peek_at(1) == Some(b'{') => {
                    let vstart = self.pos;
                    let name_start = self.pos + 2;
                    let close = self.src[name_start..self.end]
                        .iter()
                        .position(|&c| c == b'}' || c == b'\n')
                        .map(|i| name_start + i)
                        .filter(|&i| self.src[i] == b'}');
                    match close {
                        Some(ce) => {
                            let parts = parts.get_or_insert_with(Vec::new);
                            if text.len() > lit_start {
                                parts.push(Part::Lit(lossy(&text[lit_start..])));
                            }
                            let name = lossy(&self.src[name_start..ce]);
                            text.extend_from_slice(&self.src[vstart..ce + 1]);
                            lit_start = text.len();
                            parts.push(Part::Var {
                                name,
                                span: self.span(vstart, ce + 1),
                            });
                            self.pos = ce + 1;
                        }
                        None => {
                            self.errors
                                .push(LexError::UnterminatedVar(self.span(vstart, vstart + 2)));
                            text.push(b'$');
                            self.pos += 1;
                        }
                    }
                }
                _ => {
                    // A run of ordinary bytes, copied at once.
                    let run = self.src[self.pos..self.end]
                        .iter()
                        .position(|&c| table[c as usize] & PLAIN == 0)
                        .unwrap_or(self.end - self.pos)
                        .max(1);
                    text.extend_from_slice(&self.src[self.pos..self.pos + run]);
                    self.pos += run;
                }
            }
        }
        if let Some(p) = parts.as_mut()
            && text.len() > lit_start
        {
            p.push(Part::Lit(lossy(&text[lit_start..])));
        }
        let span = self.span(start, self.pos);
        if has_placeholder(&text) {
            self.marks.push(TemplateMark::Placeholder(span));
        }
        Word {
            text: into_string(text),
            parts,
            quoted,
            span,
        }
    }

    /// At a backslash: consumes the escape and returns the bytes it stands
    /// for (`None` for a line continuation).
    fn escape(&mut self, mode: WordMode) -> Option<&'static [u8]> {
        let next = self.peek_at(1);
        match next {
            Some(b'\\') => {
                self.pos += 2;
                Some(b"\\")
            }
            Some(b'"') => {
                self.pos += 2;
                Some(b"\"")
            }
            Some(b'$') => {
                self.pos += 2;
                Some(b"$")
            }
            Some(b']') => {
                self.pos += 2;
                Some(b"]")
            }
            Some(b'}') if mode == WordMode::Script => {
                self.pos += 2;
                Some(b"}")
            }
            Some(b'\n') => {
                self.pos += 2;
                None
            }
            Some(b'\r') if self.peek_at(2) == Some(b'\n') => {
                self.pos += 3;
                None
            }
            _ => {
                self.pos += 1;
                Some(b"\\")
            }
        }
    }

    /// Splits a line of a boot block or script into words: `[...]` modifier
    /// lists come back as [`LineTok::Attrs`] (their words read with the
    /// attribute rules), everything else as words; no `${}` expansion.
    /// Returns `None` at the end of the range.
    pub fn script_line(&mut self) -> Option<ScriptLine> {
        let mut toks = Vec::new();
        let line_start = self.pos;
        loop {
            self.skip_blank(false);
            let start = self.pos;
            match self.peek() {
                None => {
                    if toks.is_empty() && start == line_start && start >= self.end {
                        return None;
                    }
                    break;
                }
                Some(b'\n') => {
                    self.pos += 1;
                    self.at_line_start = true;
                    break;
                }
                Some(b'[')
                    if toks.is_empty() || matches!(toks.last(), Some(LineTok::Attrs { .. })) =>
                {
                    self.pos += 1;
                    let mut words = Vec::new();
                    let close;
                    loop {
                        // A modifier list ends on its line.
                        self.skip_blank(false);
                        if matches!(self.peek(), None | Some(b'\n')) {
                            close = None;
                            break;
                        }
                        match self.attr_word() {
                            AttrTok::Word(w) => words.push(w),
                            AttrTok::Close(s) => {
                                close = Some(s);
                                break;
                            }
                            AttrTok::Unclosed(_) | AttrTok::Eof(_) => {
                                close = None;
                                break;
                            }
                        }
                    }
                    let end = close.map(|s| s.end as usize).unwrap_or(self.pos);
                    toks.push(LineTok::Attrs {
                        words,
                        span: self.span(start, end),
                        closed: close.is_some(),
                    });
                }
                Some(_) => {
                    self.at_line_start = false;
                    toks.push(LineTok::Word(self.word(WordMode::Script)));
                }
            }
        }
        let end = toks
            .last()
            .map(|t| match t {
                LineTok::Word(w) => w.span.end as usize,
                LineTok::Attrs { span, .. } => span.end as usize,
            })
            .unwrap_or(line_start);
        let first = toks
            .first()
            .map(|t| match t {
                LineTok::Word(w) => w.span.start as usize,
                LineTok::Attrs { span, .. } => span.start as usize,
            })
            .unwrap_or(line_start);
        Some(ScriptLine {
            toks,
            span: self.span(first, end),
        })
    }
}

/// The range of inline contents found by [`Lexer::inline_body`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineBody {
    /// First byte of the contents.
    pub start: usize,
    /// One past the last byte (the `}` or the end of input).
    pub end: usize,
    /// The closing `}`; `None` when the input ended first.
    pub close: Option<Span>,
    /// Text found after `{` on its own line, if any.
    pub junk: Option<Span>,
    /// With no `}`: the line inside that opens another entry (`name = {`,
    /// from its first word to its `{`), where the contents are taken to end
    /// and reading goes on.
    pub reopen: Option<Span>,
}

/// Whether `line` opens an entry with inline contents (`[attrs] name = {`,
/// nothing but a comment after the `{`): the range from its first word to
/// the `{`.
fn entry_opener(line: &[u8]) -> Option<(usize, usize)> {
    let text_end = line
        .windows(2)
        .position(|w| is_space(w[0]) && w[1] == b'#')
        .unwrap_or(line.len());
    let body = line[..text_end].trim_ascii_end();
    let brace = body.len().checked_sub(1).filter(|&b| body[b] == b'{')?;
    let before = body[..brace].trim_ascii_end();
    let name_part = before.strip_suffix(b"=")?.trim_ascii_end();
    let first = name_part.iter().position(|&b| !is_space(b))?;
    let mut rest = &name_part[first..];
    if rest.first() == Some(&b'[') {
        let close = rest.iter().position(|&b| b == b']')?;
        rest = rest[close + 1..].trim_ascii_start();
    }
    let name_ok = !rest.is_empty()
        && rest
            .iter()
            .all(|&b| !is_space(b) && !matches!(b, b'=' | b'{' | b'}' | b'[' | b']' | b'"'));
    name_ok.then_some((first, brace + 1))
}

/// A token of a boot-block or script line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineTok {
    /// A word.
    Word(Word),
    /// A `[...]` attribute or modifier list.
    Attrs {
        /// Its words.
        words: Vec<Word>,
        /// From `[` to `]`.
        span: Span,
        /// False when the `]` is missing.
        closed: bool,
    },
}

/// One line of a boot block or script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptLine {
    /// Its tokens (empty for a blank or comment line).
    pub toks: Vec<LineTok>,
    /// From the first token to the last.
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WordMode {
    TopLevel,
    Attr,
    Script,
}

/// Whether `b` is an ordinary byte of a word in `mode`: one that [`Lexer::word`]
/// copies as it is.
const fn is_plain(b: u8, mode: WordMode) -> bool {
    match b {
        b'\n' | b'"' | b'\\' | b'$' => false,
        b'=' => !matches!(mode, WordMode::TopLevel),
        b']' => !matches!(mode, WordMode::Attr),
        b' ' | b'\t' | b'\r' | 0x0c | 0x0b => false,
        _ => true,
    }
}

/// Byte class: [`is_plain`].
const PLAIN: u8 = 1;
/// Byte class: `@` or `_`, which a template placeholder needs.
const MARK: u8 = 2;
/// Byte class: not ASCII.
const NON_ASCII: u8 = 4;

const fn class_table(mode: WordMode) -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut k = 0;
        if is_plain(b, mode) {
            k |= PLAIN;
        }
        if b == b'@' || b == b'_' {
            k |= MARK;
        }
        if b >= 0x80 {
            k |= NON_ASCII;
        }
        t[i] = k;
        i += 1;
    }
    t
}

/// The class bits of every byte, per [`WordMode`] (indexed by `mode as usize`).
static CLASS: [[u8; 256]; 3] = [
    class_table(WordMode::TopLevel),
    class_table(WordMode::Attr),
    class_table(WordMode::Script),
];

/// `b` as a String, without a copy when it is valid UTF-8.
fn into_string(b: Vec<u8>) -> String {
    match String::from_utf8(b) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Bytes to text; invalid UTF-8 bytes become U+FFFD (file names in the image
/// are written from this text).
pub(crate) fn lossy(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(b).into_owned(),
    }
}

/// Removes the escapes of inline contents as mkifs does: a backslash before
/// any character is dropped and the character kept (`\}` → `}`, `\\` → `\`,
/// `\"` → `"`, `\n` → `n`).
pub fn unescape_inline(body: &[u8]) -> Vec<u8> {
    if memchr::memchr(b'\\', body).is_none() {
        return body.to_vec();
    }
    let mut out = Vec::with_capacity(body.len());
    unescape_each(body, |b, _| out.push(b));
    out
}

/// [`unescape_inline`], with the offset in `body` of every byte of the
/// result (and one more entry, `body.len()`, for the end).
pub fn unescape_inline_mapped(body: &[u8]) -> (Vec<u8>, Vec<u32>) {
    let mut out = Vec::with_capacity(body.len());
    let mut origin = Vec::with_capacity(body.len() + 1);
    unescape_each(body, |b, at| {
        out.push(b);
        origin.push(at as u32);
    });
    origin.push(body.len() as u32);
    (out, origin)
}

/// Calls `f` with every byte of the unescaped `body` and its offset there.
fn unescape_each(body: &[u8], mut f: impl FnMut(u8, usize)) {
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'\\' && i + 1 < body.len() {
            f(body[i + 1], i + 1);
            i += 2;
        } else {
            f(body[i], i);
            i += 1;
        }
    }
}

fn is_cpp_directive(comment: &[u8]) -> bool {
    let rest = &comment[1..];
    let starts = |p: &[u8]| rest.starts_with(p);
    (starts(b"include")
        && rest[7..]
            .iter()
            .find(|&&b| !is_space(b))
            .is_some_and(|&b| b == b'"' || b == b'<'))
        || starts(b"if defined")
        || starts(b"if !defined")
        || starts(b"ifdef ")
        || starts(b"ifndef ")
        || starts(b"define ")
        || rest.trim_ascii_end() == b"endif"
        || rest.trim_ascii_end() == b"else"
        || starts(b"elif ")
}

/// `@NAME@` or `__NAME__` with NAME in capitals, digits and `_`.
fn has_placeholder(text: &[u8]) -> bool {
    // Words are short: a plain loop beats a SIMD search's setup.
    if !text.contains(&b'@') && !text.windows(2).any(|w| w == b"__") {
        return false;
    }
    let is_name = |s: &[u8]| {
        !s.is_empty()
            && s[0].is_ascii_uppercase()
            && s.iter()
                .all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    };
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'@'
            && let Some(j) = text[i + 1..].iter().position(|&b| b == b'@')
            && is_name(&text[i + 1..i + 1 + j])
        {
            return true;
        }
        if text[i..].starts_with(b"__") {
            let rest = &text[i + 2..];
            if let Some(j) = rest.windows(2).position(|w| w == b"__")
                && is_name(&rest[..j])
                && !rest[..j].ends_with(b"_")
            {
                return true;
            }
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests;
