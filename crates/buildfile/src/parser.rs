//! The syntax of one buildfile: lines of attributes and entries.
//!
//! The parser recovers from every error at the next line, so one run reports
//! every mistake in the file.

use crate::attrs::{self, AttrName, Kind, Lookup, Setting, Split, SplitSetting};
use crate::codes;
use crate::lexer::{AttrTok, InlineBody, LexError, Lexer, TemplateMark, Tok, Word};
use diag::{Diagnostic, FileId, SourceMap, Span};

/// One attribute of a list, with its name looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    /// Which attribute.
    pub name: AttrName,
    /// `?`: only if never set before.
    pub conditional: bool,
    /// On, off, or the value.
    pub setting: Setting,
    /// The whole word.
    pub span: Span,
}

/// `[ ... ]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttrList {
    /// The attributes, in order.
    pub attrs: Vec<Attr>,
    /// Words after `virtual=`/`physical=` that are not attributes: the
    /// bootfile's arguments.
    pub bootfile_args: Vec<Word>,
    /// From `[` to `]`.
    pub span: Span,
}

impl AttrList {
    /// The `virtual=` or `physical=` attribute, if the list has one.
    pub fn boot_attr(&self) -> Option<&Attr> {
        self.attrs
            .iter()
            .find(|a| matches!(a.name, AttrName::Virtual | AttrName::Physical))
    }
}

/// `{ ... }` contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inline {
    /// The `{`.
    pub open: Span,
    /// The raw contents (escapes not yet removed), from the line after `{`
    /// to the `}`.
    pub body: Span,
    /// The `}`.
    pub close: Span,
}

/// A line that names an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryLine {
    /// Its own attributes.
    pub attrs: Option<AttrList>,
    /// The target (first name).
    pub target: Word,
    /// The host file (second name), if given.
    pub host: Option<Word>,
    /// The inline contents, if given.
    pub inline: Option<Inline>,
    /// The whole line (to the `}` of inline contents).
    pub span: Span,
}

/// One item of a buildfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// An attribute-only line: changes the global attributes.
    Attrs(AttrList),
    /// An entry.
    Entry(EntryLine),
}

/// The syntax tree of one buildfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buildfile {
    /// The file the items are in.
    pub file: FileId,
    /// The items, in order.
    pub items: Vec<Item>,
    /// True when the file was recognised as a template or as a buildfile of
    /// another tool (a diagnostic says which): resolving it is pointless.
    pub foreign: bool,
}

/// Parses a whole file of `map`.
pub fn parse(map: &SourceMap, file: FileId) -> (Buildfile, Vec<Diagnostic>) {
    let src = map.file(file).bytes();
    parse_range(src, file, 0, src.len())
}

/// The diagnostics of a template (placeholders, preprocessor directives);
/// true when the file is one.
fn template_diagnostics(marks: &[TemplateMark], diags: &mut Vec<Diagnostic>) -> bool {
    let mut foreign = false;
    let cpp: Vec<Span> = marks
        .iter()
        .filter_map(|m| match m {
            TemplateMark::Cpp(s) => Some(*s),
            _ => None,
        })
        .collect();
    let placeholders: Vec<Span> = marks
        .iter()
        .filter_map(|m| match m {
            TemplateMark::Placeholder(s) => Some(*s),
            _ => None,
        })
        .collect();
    if let Some(&first) = placeholders.first() {
        foreign = true;
        let mut d = Diagnostic::new(
            &codes::B0113,
            format!(
                "this buildfile is a template: it holds {} placeholder{} for another tool to fill in",
                placeholders.len(),
                if placeholders.len() == 1 { "" } else { "s" }
            ),
        )
        .at(first, "a placeholder, not a value mkifs understands")
        .help("run the tool that fills in the placeholders (BitBake, configure, a build script) and check its output instead");
        for &s in placeholders.iter().skip(1).take(3) {
            d = d.with(s, "another placeholder");
        }
        diags.push(d);
    }
    if let Some(&first) = cpp.first() {
        foreign = true;
        let mut d = Diagnostic::new(
            &codes::B0114,
            "this buildfile is a C-preprocessor template: mkifs would read these directives as comments",
        )
        .at(first, "a preprocessor directive")
        .help("run it through the preprocessor first (for example `cpp -P -undef file.build`) and check the result");
        for &s in cpp.iter().skip(1).take(3) {
            d = d.with(s, "another directive");
        }
        diags.push(d);
    }
    foreign
}

/// Parses `src[start..end]` (whose offsets are those of `file`).
pub fn parse_range(
    src: &[u8],
    file: FileId,
    start: usize,
    end: usize,
) -> (Buildfile, Vec<Diagnostic>) {
    let mut p = Parser {
        lx: Lexer::new(src, file, start, end),
        diags: Vec::new(),
        // About one item per line: reserved at once rather than grown
        // (and copied) a dozen times.
        items: Vec::with_capacity(
            memchr::memchr_iter(b'\n', src.get(start..end.min(src.len())).unwrap_or(&[])).count()
                / 2
                + 1,
        ),
        other_tool: None,
        scratch: Scratch::default(),
    };
    p.run();
    let Parser {
        lx,
        mut diags,
        items,
        other_tool,
        ..
    } = p;
    diags.extend(lx.errors.iter().map(lex_diagnostic));
    let mut foreign = template_diagnostics(&lx.marks, &mut diags);
    if let Some(s) = other_tool {
        foreign = true;
        diags.push(
            Diagnostic::new(
                &codes::B0112,
                "this is a buildfile for mkqnx6fsimg (a QNX6 filesystem image), not for mkifs",
            )
            .at(s, "a filesystem-image attribute that mkifs does not have")
            .help("build it with mkqnx6fsimg; hvhost reads mkifs buildfiles only"),
        );
    }
    if foreign {
        // Only the diagnostics that say what the file is: the rest follow from it.
        let keep: Vec<Diagnostic> = diags
            .into_iter()
            .filter(|d| {
                d.code == &codes::B0112 || d.code == &codes::B0113 || d.code == &codes::B0114
            })
            .collect();
        diags = keep;
    }
    (
        Buildfile {
            file,
            items,
            foreign,
        },
        diags,
    )
}

/// B0103 for the `{` at `open` whose contents `body` have no `}`: at the
/// `{`, and at the line that opens another entry inside them or at the end
/// of the file (`text_end`).
fn unclosed_inline(open: Span, body: &InlineBody, text_end: usize) -> Diagnostic {
    let d =
        Diagnostic::new(&codes::B0103, "this inline file is never closed").at(open, "opened here");
    let d = match body.reopen {
        Some(r) => d
            .with(r, "another entry starts here: reading goes on from this line")
            .note("the `}` after that entry's contents would close this one, and the rest would be read as its contents"),
        None => d.with(
            Span::new(open.file, text_end, text_end),
            "the file ends here, inside the contents",
        ),
    };
    d.help("end the contents with `}` on a line of its own; write `\\}` for a literal brace inside")
}

/// The diagnostic of something the lexer could not accept.
pub(crate) fn lex_diagnostic(e: &LexError) -> Diagnostic {
    match e {
        LexError::UnterminatedQuote(s) => Diagnostic::new(
            &codes::B0108,
            "this quote is never closed",
        )
        .at(*s, "opened here")
        .help("add the closing `\"`; a quoted string ends on its own line (write `\\\"` for a quote inside it)"),
        LexError::UnterminatedVar(s) => {
            Diagnostic::new(&codes::B0109, "`${` without a closing `}`")
                .at(*s, "variable reference starts here")
                .help("write `${NAME}`, or `\\$` for a literal dollar sign")
        }
    }
}

struct Parser<'a> {
    lx: Lexer<'a>,
    diags: Vec<Diagnostic>,
    items: Vec<Item>,
    other_tool: Option<Span>,
    scratch: Scratch,
}

/// The vectors of one line, kept from line to line (empty between lines)
/// so that their memory is allocated once.
#[derive(Default)]
struct Scratch {
    lists: Vec<AttrList>,
    names: Vec<Word>,
    eqs: Vec<Span>,
}

impl Parser<'_> {
    fn run(&mut self) {
        loop {
            match self.line() {
                LineEnd::Eof => break,
                LineEnd::Newline => {}
            }
        }
    }

    /// Parses one line; returns how it ended.
    fn line(&mut self) -> LineEnd {
        let mut scratch = std::mem::take(&mut self.scratch);
        let end = self.line_in(&mut scratch);
        scratch.lists.clear();
        scratch.names.clear();
        scratch.eqs.clear();
        self.scratch = scratch;
        end
    }

    fn line_in(&mut self, scratch: &mut Scratch) -> LineEnd {
        let Scratch { lists, names, eqs } = scratch;
        let lex_errors = self.lx.errors.len();
        let mut inline = None;
        let end;
        loop {
            match self.lx.next_tok() {
                Tok::Eof(s) => {
                    end = (LineEnd::Eof, s);
                    break;
                }
                Tok::Newline(s) => {
                    end = (LineEnd::Newline, s);
                    break;
                }
                Tok::LBracket(s) => {
                    if !names.is_empty() {
                        // `file [attr]`: attributes after the name.
                        let (list, _) = self.attr_list(s);
                        self.diags.push(
                            Diagnostic::new(
                                &codes::B0116,
                                "attributes must come before the file name",
                            )
                            .at(list.span, "this list follows the name")
                            .with(names[0].span, "the name")
                            .help(
                                "move the list to the start of the line: `[attrs] target = host`",
                            ),
                        );
                        continue;
                    }
                    let (list, closed) = self.attr_list(s);
                    lists.push(list);
                    if !closed {
                        // Recover at the `[` or `{` that stopped the list.
                        end = (LineEnd::Newline, s);
                        break;
                    }
                }
                Tok::Eq(s) => eqs.push(s),
                Tok::Word(w) => names.push(w),
                Tok::LBrace(s) => {
                    let body = self.lx.inline_body();
                    if let Some(j) = body.junk {
                        self.diags.push(
                            Diagnostic::new(&codes::B0110, "inline contents cannot start on the line of `{`")
                                .at(j, "this text is on the `{` line")
                                .with(s, "the `{`")
                                .help("start the contents on the next line; only a comment may follow `{`"),
                        );
                    }
                    let close = match body.close {
                        Some(c) => c,
                        None => {
                            let end = self.lx.text_end();
                            self.diags.push(unclosed_inline(s, &body, end));
                            // Where the contents end is a guess: the errors
                            // they would give follow from the missing `}`,
                            // so the entry is left out. Reading goes on at
                            // the entry found inside, if any.
                            return match body.reopen {
                                Some(_) => LineEnd::Newline,
                                None => LineEnd::Eof,
                            };
                        }
                    };
                    inline = Some(Inline {
                        open: s,
                        body: Span::new(s.file, body.start, body.end),
                        close,
                    });
                    // The rest of the `}` line continues as the next line.
                    end = (LineEnd::Newline, close);
                    break;
                }
            }
        }
        let line_end = end.1;
        if self.lx.errors[lex_errors..]
            .iter()
            .any(|e| matches!(e, LexError::UnterminatedQuote(_)))
        {
            // The line cannot be read as its author meant: drop it.
            return end.0;
        }
        self.finish_line(lists, names, eqs, inline, line_end);
        end.0
    }

    fn finish_line(
        &mut self,
        lists: &mut Vec<AttrList>,
        names: &mut Vec<Word>,
        eqs: &[Span],
        inline: Option<Inline>,
        line_end: Span,
    ) {
        if lists.len() > 1 && !names.is_empty() {
            let mut d = Diagnostic::new(
                &codes::B0101,
                "missing filename: two attribute lists before one name",
            )
            .at(
                lists[1].span,
                "a second list where a file name was expected",
            )
            .with(lists[0].span, "the first list");
            d = d.help("combine the attributes in one list: `[a b] file`, not `[a] [b] file`");
            self.diags.push(d);
            // Recover as if they had been written together.
            let mut merged = lists.remove(0);
            for l in lists.drain(..) {
                merged.attrs.extend(l.attrs);
                merged.bootfile_args.extend(l.bootfile_args);
                merged.span = merged.span.to(l.span);
            }
            lists.push(merged);
        } else if lists.len() > 1 {
            // Several attribute-only lists on one line: each sets globals.
            for l in lists.drain(..) {
                self.items.push(Item::Attrs(l));
            }
            if names.is_empty() && inline.is_none() {
                return;
            }
        }
        let attrs = lists.pop();
        if names.is_empty() {
            if let Some(i) = &inline {
                self.diags.push(
                    Diagnostic::new(&codes::B0115, "inline contents without a file name")
                        .at(i.open, "this `{` has no name before it")
                        .help("name the file: `name = {`"),
                );
                return;
            }
            if let Some(&e) = eqs.first() {
                self.diags.push(
                    Diagnostic::new(&codes::B0111, "`=` without a target name before it")
                        .at(e, "nothing before this `=`")
                        .help("write `target = host`"),
                );
                return;
            }
            if let Some(a) = attrs {
                self.items.push(Item::Attrs(a));
            }
            return;
        }
        if names.len() > 2 {
            self.diags.push(
                Diagnostic::new(
                    &codes::B0107,
                    format!("improper filename specification: {} names on one line", names.len()),
                )
                .at(names[2].span.to(names[names.len() - 1].span), "extra names")
                .with(names[0].span.to(names[1].span), "target and host")
                .help("an entry is `target = host` or a single name; quote a name that holds spaces or `=`"),
            );
            return;
        }
        let target = names.remove(0);
        let host = names.pop();
        if host.is_none() && inline.is_none() && !eqs.is_empty() {
            self.diags.push(
                Diagnostic::new(&codes::B0111, format!("no host file after `{} =`", target.text))
                    .at(eqs[0], "nothing follows this `=`")
                    .help("name the host file (`target = host`), or give the contents inline (`target = {`)"),
            );
            return;
        }
        if let (Some(h), Some(i)) = (&host, &inline) {
            self.diags.push(
                Diagnostic::new(
                    &codes::B0107,
                    "an entry has a host file and inline contents",
                )
                .at(h.span, "host file")
                .with(i.open, "inline contents")
                .help("give either `target = host` or `target = {` ... `}`"),
            );
            return;
        }
        let start = attrs.as_ref().map(|a| a.span).unwrap_or(target.span);
        let end = inline
            .as_ref()
            .map(|i| i.close)
            .or(host.as_ref().map(|h| h.span))
            .unwrap_or(target.span);
        let _ = line_end;
        self.items.push(Item::Entry(EntryLine {
            attrs,
            target,
            host,
            inline,
            span: start.to(end),
        }));
    }

    /// Reads an attribute list after `[`; false when it was never closed.
    fn attr_list(&mut self, open: Span) -> (AttrList, bool) {
        let mut list = AttrList {
            span: open,
            ..AttrList::default()
        };
        // What the words of the first line had said, for an unclosed list.
        let mut first_line: Option<(usize, usize)> = None;
        let open_line_end = self.lx.line_end(open.start);
        loop {
            match self.lx.attr_word() {
                AttrTok::Close(s) => {
                    list.span = open.to(s);
                    return (list, true);
                }
                AttrTok::Unclosed(s) | AttrTok::Eof(s) => {
                    let mut d =
                        Diagnostic::new(&codes::B0102, "this attribute list is never closed")
                            .at(open, "opened here")
                            .with(s, "a `]` was expected before this");
                    if let Some((attrs, diags)) = first_line {
                        // The lines after the `[` were most likely entries:
                        // what they would say as attributes follows from the
                        // missing `]`.
                        list.attrs.truncate(attrs);
                        self.diags.truncate(diags);
                        d = d.note(
                            "the lines after the `[` are read as part of the list, not as entries",
                        );
                    }
                    self.diags.push(
                        d.help("close the list with `]`; a list may span lines, but not past another `[` or `{`"),
                    );
                    list.span = open.to(Span::new(s.file, s.start as usize, s.start as usize));
                    return (list, false);
                }
                AttrTok::Word(w) => {
                    if first_line.is_none() && w.span.start as usize > open_line_end {
                        first_line = Some((list.attrs.len(), self.diags.len()));
                    }
                    self.attr_word(&mut list, w);
                }
            }
        }
    }

    fn attr_word(&mut self, list: &mut AttrList, w: Word) {
        attr_word(list, w, &mut self.diags, &mut self.other_tool);
    }
}

/// Adds one word of an attribute list to `list`, reporting what is wrong with it.
pub(crate) fn attr_word(
    list: &mut AttrList,
    w: Word,
    diags: &mut Vec<Diagnostic>,
    other_tool: &mut Option<Span>,
) {
    let boot_seen = list.boot_attr().is_some();
    let Some(raw) = attrs::split(&w) else {
        if boot_seen {
            list.bootfile_args.push(w);
            return;
        }
        diags.push(
            Diagnostic::new(&codes::B0116, format!("`{}` is not an attribute", w.text))
                .at(w.span, "expected `+name`, `-name` or `name=value`")
                .help("booleans are written `+name` or `-name`, values `name=value` with no spaces around `=`"),
        );
        return;
    };
    let name = &w.text[raw.name.clone()];
    let found = attrs::lookup(AttrName::ALL, name);
    // (No name of another tool is an mkifs attribute or abbreviates one, so
    // they are looked for only among the names not found.)
    if !matches!(found, Lookup::Found(_)) && attrs::OTHER_TOOL_ATTRS.contains(&name) {
        other_tool.get_or_insert(raw.name_span);
        return;
    }
    match found {
        Lookup::Found(name) => check_kind(list, name, raw, w, boot_seen, diags),
        _ if boot_seen => list.bootfile_args.push(w),
        Lookup::Ambiguous(c) => diags.push(
            Diagnostic::new(
                &codes::B0105,
                format!("`{name}` is an ambiguous abbreviation"),
            )
            .at(raw.name_span, format!("could be {}", c.join(", ")))
            .help(format!("write the name in full, e.g. `{}`", c[0])),
        ),
        Lookup::Unknown(sugg) => {
            let mut d = Diagnostic::new(&codes::B0104, format!("unknown attribute `{name}`"))
                .at(raw.name_span, "not an mkifs attribute");
            d = match sugg {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help("`hvhost explain B0104` lists the attributes mkifs knows"),
            };
            diags.push(d);
        }
    }
}

fn check_kind(
    list: &mut AttrList,
    name: AttrName,
    raw: Split,
    w: Word,
    boot_seen: bool,
    diags: &mut Vec<Diagnostic>,
) {
    let ok = matches!(
        (&raw.setting, name.kind()),
        (SplitSetting::Value(..), Kind::Value | Kind::Both)
            | (
                SplitSetting::On | SplitSetting::Off,
                Kind::Bool | Kind::Both
            )
    );
    if !ok {
        if boot_seen {
            // `-v` after `virtual=cpu,bootfile`: a bootfile argument.
            list.bootfile_args.push(w);
            return;
        }
        let (msg, help) = match name.kind() {
            Kind::Bool => (
                format!(
                    "`{}` is a boolean attribute: it takes no value",
                    name.as_str()
                ),
                format!("write `+{0}` or `-{0}`", name.as_str()),
            ),
            _ => (
                format!("`{}` takes a value", name.as_str()),
                format!("write `{}=value`", name.as_str()),
            ),
        };
        diags.push(
            Diagnostic::new(&codes::B0106, msg)
                .at(w.span, "wrong form")
                .help(help),
        );
        return;
    }
    let span = w.span;
    let setting = match raw.setting {
        SplitSetting::On => Setting::On,
        SplitSetting::Off => Setting::Off,
        SplitSetting::Value(off, vspan) => Setting::Value(attrs::into_value(w, off, vspan)),
    };
    list.attrs.push(Attr {
        name,
        conditional: raw.conditional,
        setting,
        span,
    });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineEnd {
    Newline,
    Eof,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(src: &str) -> (Buildfile, Vec<Diagnostic>, SourceMap) {
        let mut map = SourceMap::new();
        let id = map.add("t.build", src);
        let (b, d) = parse(&map, id);
        (b, d, map)
    }

    fn codes_of(d: &[Diagnostic]) -> Vec<&'static str> {
        d.iter().map(|d| d.code.id).collect()
    }

    #[test]
    fn entries_attribute_lines_and_inline_files() {
        let (b, d, map) = parse_str(
            "[-optional]\n[uid=0 gid=0] /bin/sh = ksh\nsingle\n/etc/x = {\nhello\n}\n[type=link] a=b\n",
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(b.items.len(), 5);
        assert!(
            matches!(&b.items[0], Item::Attrs(l) if l.attrs[0].name == AttrName::Optional && l.attrs[0].setting == Setting::Off)
        );
        let Item::Entry(e) = &b.items[1] else {
            panic!()
        };
        assert_eq!(e.target.text, "/bin/sh");
        assert_eq!(e.host.as_ref().unwrap().text, "ksh");
        assert_eq!(e.attrs.as_ref().unwrap().attrs.len(), 2);
        let Item::Entry(e) = &b.items[2] else {
            panic!()
        };
        assert!(e.host.is_none());
        let Item::Entry(e) = &b.items[3] else {
            panic!()
        };
        assert_eq!(map.snippet(e.inline.as_ref().unwrap().body), "hello\n");
    }

    #[test]
    fn two_lists_before_a_name_is_missing_filename() {
        let (b, d, map) = parse_str("[uid=0] [gid=0] file\n");
        assert_eq!(codes_of(&d), ["B0101"]);
        assert_eq!(map.location(d[0].span().unwrap()), "t.build:1:9");
        // Recovered as one list.
        let Item::Entry(e) = &b.items[0] else {
            panic!()
        };
        assert_eq!(e.attrs.as_ref().unwrap().attrs.len(), 2);
    }

    #[test]
    fn every_error_in_the_file_is_reported() {
        let src = "[+optinal] a\nb c d\n[+s] e\n[uid] f\n[+uid=3] g\nh =\n";
        let (_, d, map) = parse_str(src);
        let got: Vec<(&str, String)> = d
            .iter()
            .map(|d| (d.code.id, map.location(d.span().unwrap())))
            .collect();
        assert_eq!(
            got,
            [
                ("B0104", "t.build:1:3".to_string()),
                ("B0107", "t.build:2:5".to_string()),
                ("B0105", "t.build:3:3".to_string()),
                ("B0116", "t.build:4:2".to_string()),
                ("B0116", "t.build:5:2".to_string()),
                ("B0111", "t.build:6:3".to_string()),
            ]
        );
        assert_eq!(d[0].help.as_deref(), Some("did you mean `optional`?"));
    }

    #[test]
    fn kind_mismatch_is_reported() {
        let (_, d, _) = parse_str("[+uid] a\n[type] b\n[compress=2 +compress] c\n");
        assert_eq!(codes_of(&d), ["B0106", "B0116"]);
    }

    #[test]
    fn unterminated_list_stops_at_the_next_bracket() {
        let (b, d, map) = parse_str("[uid=0 gid=0\n[perms=0755] a = b\n");
        assert_eq!(codes_of(&d), ["B0102"]);
        assert_eq!(map.location(d[0].span().unwrap()), "t.build:1:1");
        // The next line is still read.
        assert!(
            b.items
                .iter()
                .any(|i| matches!(i, Item::Entry(e) if e.target.text == "a"))
        );
    }

    #[test]
    fn unterminated_inline_file() {
        let (_, d, map) = parse_str("x = {\nabc\n");
        assert_eq!(codes_of(&d), ["B0103"]);
        assert_eq!(map.location(d[0].span().unwrap()), "t.build:1:5");
    }

    #[test]
    fn bootfile_arguments_after_virtual() {
        let (b, d, _) = parse_str("[virtual=aarch64le,raw -compress -v] boot = {\n}\n");
        assert!(d.is_empty(), "{d:?}");
        let Item::Entry(e) = &b.items[0] else {
            panic!()
        };
        let l = e.attrs.as_ref().unwrap();
        assert_eq!(l.attrs.len(), 2);
        assert_eq!(l.attrs[1].name, AttrName::Compress);
        assert_eq!(l.bootfile_args.len(), 1);
        assert_eq!(l.bootfile_args[0].text, "-v");
    }

    #[test]
    fn templates_are_recognised_and_only_that_is_reported() {
        let (b, d, _) = parse_str("#include \"x.inc\"\n[virtual=@CPU@,bios +bogus] boot = {\n}\n");
        assert!(b.foreign);
        assert_eq!(codes_of(&d), ["B0113", "B0114"]);
        let (b, d, _) = parse_str("[num_sectors=10]\n[blksize=4096]\n/x=y\n");
        assert!(b.foreign);
        assert_eq!(codes_of(&d), ["B0112"]);
    }

    #[test]
    fn attributes_after_the_name_are_an_error() {
        let (_, d, _) = parse_str("file [uid=0]\n");
        assert_eq!(codes_of(&d), ["B0116"]);
    }
}
