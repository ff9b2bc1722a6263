//! Tests of the lexer.

use super::*;

fn toks(src: &str) -> Vec<Tok> {
    let mut lx = Lexer::new(src.as_bytes(), FileId(0), 0, src.len());
    let mut out = Vec::new();
    loop {
        let t = lx.next_tok();
        let eof = matches!(t, Tok::Eof(_));
        out.push(t);
        if eof {
            break;
        }
    }
    out
}

fn words(src: &str) -> Vec<String> {
    toks(src)
        .into_iter()
        .filter_map(|t| match t {
            Tok::Word(w) => Some(w.text),
            Tok::Eq(_) => Some("=".into()),
            Tok::LBracket(_) => Some("[".into()),
            Tok::LBrace(_) => Some("{".into()),
            Tok::Newline(_) => Some("\\n".into()),
            Tok::Eof(_) => None,
        })
        .collect()
}

#[test]
fn hash_starts_a_comment_only_at_the_start_of_a_token() {
    assert_eq!(words("a#b # c\nd"), ["a#b", "\\n", "d"]);
    assert_eq!(words("#x\ny"), ["\\n", "y"]);
}

#[test]
fn equals_separates_names() {
    assert_eq!(words("a=b"), ["a", "=", "b"]);
    assert_eq!(words("a = b"), ["a", "=", "b"]);
    assert_eq!(words("\"a=b\"=c"), ["a=b", "=", "c"]);
}

#[test]
fn quotes_group_and_are_removed() {
    assert_eq!(
        words("\"I \\\"think\\\" so\" = x"),
        ["I \"think\" so", "=", "x"]
    );
    assert_eq!(words("a\"b c\"d"), ["ab cd"]);
}

#[test]
fn backslash_escapes_and_continuation() {
    assert_eq!(words("a\\\\b"), ["a\\b"]);
    assert_eq!(words("a\\$b"), ["a$b"]);
    assert_eq!(words("C:\\qnx"), ["C:\\qnx"]);
    assert_eq!(words("ab\\\ncd e"), ["abcd", "e"]);
    assert_eq!(words("a \\\n b"), ["a", "b"]);
}

#[test]
fn variables_are_kept_as_parts_but_not_inside_quotes() {
    let t = toks("${QNX_TARGET}/x \"${Y}\" $Z");
    let Tok::Word(w) = &t[0] else { panic!() };
    assert_eq!(w.text, "${QNX_TARGET}/x");
    assert_eq!(
        w.parts.as_ref().unwrap()[0],
        Part::Var {
            name: "QNX_TARGET".into(),
            span: Span::new(FileId(0), 0, 13)
        }
    );
    assert_eq!(w.parts.as_ref().unwrap()[1], Part::Lit("/x".into()));
    let Tok::Word(q) = &t[1] else { panic!() };
    assert!(q.parts.is_none());
    assert_eq!(q.text, "${Y}");
    let Tok::Word(z) = &t[2] else { panic!() };
    assert!(z.parts.is_none());
    assert_eq!(z.text, "$Z");
}

#[test]
fn unterminated_quote_and_variable_are_reported() {
    let mut lx = Lexer::new(b"\"abc\n${X", FileId(0), 0, 8);
    while !matches!(lx.next_tok(), Tok::Eof(_)) {}
    assert_eq!(lx.errors.len(), 2);
    assert!(matches!(lx.errors[0], LexError::UnterminatedQuote(s) if s.start == 0));
    assert!(matches!(lx.errors[1], LexError::UnterminatedVar(s) if s.start == 5));
}

#[test]
fn attribute_words_span_lines_and_keep_equals() {
    let src = "[uid=0\n  gid=0 linker=\"a ] b\" x\\]y]";
    let mut lx = Lexer::new(src.as_bytes(), FileId(0), 0, src.len());
    assert!(matches!(lx.next_tok(), Tok::LBracket(_)));
    let mut got = Vec::new();
    loop {
        match lx.attr_word() {
            AttrTok::Word(w) => got.push(w.text),
            AttrTok::Close(_) => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(got, ["uid=0", "gid=0", "linker=a ] b", "x]y"]);
}

/// The lexer after the inline contents of `src` (`x = {` first), and them.
fn inline_of(src: &str) -> (Lexer<'_>, InlineBody) {
    let mut lx = Lexer::new(src.as_bytes(), FileId(0), 0, src.len());
    for _ in 0..3 {
        lx.next_tok();
    }
    let body = lx.inline_body();
    (lx, body)
}

#[test]
fn inline_body_stops_at_first_unescaped_brace() {
    let src = "x = {  # c\nline \\} one\n\\\\ two\n}\nnext";
    let (mut lx, body) = inline_of(src);
    assert!(body.junk.is_none());
    let raw = &src.as_bytes()[body.start..body.end];
    assert_eq!(unescape_inline(raw), b"line } one\n\\ two\n");
    assert_eq!(
        body.close.unwrap().start as usize,
        src.find("}\nnext").unwrap()
    );
    assert!(matches!(lx.next_tok(), Tok::Newline(_)));
}

#[test]
fn contents_that_hold_another_entry_lack_their_brace() {
    let body = |src: &str| {
        let (_, b) = inline_of(src);
        let reopen = b.reopen.map(|s| &src[s.start as usize..s.end as usize]);
        (
            src[b.start..b.end].to_string(),
            b.close.is_some(),
            reopen.map(str::to_owned),
        )
    };
    // The `}` of `a` is missing: its contents end before `[+script] b = {`.
    let (text, closed, reopen) = body("a = {\nx\n\n  [+script] b = { # c\ny &\n}\n");
    assert_eq!((text.as_str(), closed), ("x\n\n", false));
    assert_eq!(reopen.as_deref(), Some("[+script] b = {"));
    // No `}` at all.
    let (_, closed, reopen) = body("a = {\nx\nb = {\ny\n");
    assert_eq!((closed, reopen.as_deref()), (false, Some("b = {")));
    // Contents that hold `name = {` closed by `\}`, and lines that only
    // look alike, are contents.
    for src in [
        "a = {\ncfg = {\n  v = 1\n\\}\n}\n",
        "a = {\nf() {\n}\n",
        "a = {\nx = { y\n}\n",
        "a = {\nx = \"{\"\n}\n",
    ] {
        let (_, closed, reopen) = body(src);
        assert!(closed && reopen.is_none(), "{src:?}");
    }
}

#[test]
fn text_after_opening_brace_is_reported() {
    let src = "x = { oops\nbody\n}";
    let (_, body) = inline_of(src);
    assert_eq!(body.junk.map(|s| (s.start, s.end)), Some((6, 10)));
    assert_eq!(&src[body.start..body.end], "body\n");
}

#[test]
fn template_marks() {
    let src =
        "#include \"x.inc\"\n# include this\n[search=__MKFS_PATH__]\n[virtual=@CPU@]\n#endif\n";
    let mut lx = Lexer::new(src.as_bytes(), FileId(0), 0, src.len());
    loop {
        match lx.next_tok() {
            Tok::Eof(_) => break,
            Tok::LBracket(_) => while let AttrTok::Word(_) = lx.attr_word() {},
            _ => {}
        }
    }
    assert_eq!(lx.marks.len(), 4, "{:?}", lx.marks);
    assert!(matches!(lx.marks[0], TemplateMark::Cpp(s) if s.start == 0 && s.end == 8));
    assert!(matches!(lx.marks[1], TemplateMark::Placeholder(_)));
    assert!(!has_placeholder(b"__init__.py"));
    assert!(!has_placeholder(b"user@HOST"));
    assert!(has_placeholder(b"@QNX_LINUX_GUEST_RAM@"));
}

#[test]
fn script_lines_split_modifiers_and_words() {
    let src = "[pri=10f] devc-ser8250 -e \"a b\" &\n\n  display_msg hi # c\n";
    let mut lx = Lexer::new(src.as_bytes(), FileId(0), 0, src.len());
    let l1 = lx.script_line().unwrap();
    assert_eq!(l1.toks.len(), 5);
    assert!(
        matches!(&l1.toks[0], LineTok::Attrs { words, closed: true, .. } if words[0].text == "pri=10f")
    );
    assert!(matches!(&l1.toks[3], LineTok::Word(w) if w.text == "a b"));
    assert!(lx.script_line().unwrap().toks.is_empty());
    let l3 = lx.script_line().unwrap();
    assert_eq!(l3.toks.len(), 2);
    assert!(lx.script_line().is_none());
}
