//! The boot block (`[virtual=...] boot = { ... }`) and its bootfile.

use super::*;

/// A boot program's host file: where its bytes come from, its size, its ELF
/// facts and its metadata.
type ProgramFile = (
    DataSource,
    Option<u64>,
    Option<ElfInfo>,
    Option<std::fs::Metadata>,
);

/// The boot block being read.
struct Block {
    /// The attributes in force for the block's lines.
    block: State,
    /// Attributes and variables of lines whose program follows on a later line.
    pending: Option<(State, Vec<EnvVar>, Span)>,
    programs: Vec<BootProgram>,
    /// Environment-only lines: for the kernel and every script command.
    env_lines: Vec<EnvVar>,
    /// Bootstrap programs beyond the fourth.
    extra: Vec<Span>,
}

impl Resolver<'_> {
    pub(super) fn boot_block(&mut self, src: &Arc<[u8]>, e: &EntryLine, st: &State) {
        let Some(spec) = st.boot.clone() else { return };
        if let Some(b) = &self.boot {
            let first = b.span;
            self.diags.push(
                Diagnostic::new(&codes::B0213, "a second boot block")
                    .at(spec.span, "another virtual= or physical= block")
                    .with(first, "the first boot block")
                    .help("an image has one boot block; remove one"),
            );
            return;
        }
        let Some(inline) = &e.inline else {
            self.diags.push(
                Diagnostic::new(&codes::B0214, "the boot block must be written inline")
                    .at(e.span, "not followed by `{`")
                    .help(format!(
                        "write `[{}=...] boot = {{` and the startup and kernel lines, then `}}`",
                        match spec.mode {
                            BootMode::Virtual => "virtual",
                            BootMode::Physical => "physical",
                        }
                    )),
            );
            return;
        };
        let bootfile = self.load_bootfile(&spec, st);
        // Lines of the block.
        let mut lx = Lexer::new(
            src,
            inline.body.file,
            inline.body.start as usize,
            inline.body.end as usize,
        );
        let mut block = st.clone();
        block.modules.clear();
        let mut b = Block {
            block,
            pending: None,
            programs: Vec::new(),
            env_lines: Vec::new(),
            extra: Vec::new(),
        };
        loop {
            let lex_errors = lx.errors.len();
            let Some(line) = lx.script_line() else {
                break;
            };
            // An unclosed quote runs to the end of its line: said, and the
            // line read so (leaving it out could lose the startup program
            // and give errors that follow from that).
            self.diags.extend(
                lx.errors
                    .drain(lex_errors..)
                    .map(|e| parser::lex_diagnostic(&e)),
            );
            if !line.toks.is_empty() {
                self.boot_line(&mut b, line);
            }
        }
        if !self.block_complete(&b, inline) {
            return;
        }
        let mut programs = b.programs;
        let startup = programs.remove(0);
        self.boot = Some(Boot {
            mode: spec.mode,
            cpu: spec.cpu.clone(),
            bootfile_name: spec.bootfile.clone(),
            bootfile_args: spec.args.clone(),
            bootfile,
            startup,
            bootstrap: programs,
            env: b.env_lines,
            span: spec.span,
        });
    }

    /// The attribute lists and the words of a boot-block line.
    fn line_tokens(&mut self, toks: Vec<LineTok>) -> (Vec<AttrList>, Vec<Word>) {
        let mut lists = Vec::new();
        let mut words = Vec::new();
        for t in toks {
            match t {
                LineTok::Attrs {
                    words: ws,
                    span,
                    closed,
                } => {
                    if !closed {
                        self.diags.push(
                            Diagnostic::new(&codes::B0102, "this attribute list is never closed")
                                .at(span, "opened here")
                                .help("close the list with `]` on the same line"),
                        );
                        // The program went into the list: its words say
                        // nothing as attributes.
                        continue;
                    }
                    let mut list = AttrList {
                        span,
                        ..AttrList::default()
                    };
                    let mut other = None;
                    for w in ws {
                        parser::attr_word(&mut list, w, &mut self.diags, &mut other);
                    }
                    lists.push(list);
                }
                LineTok::Word(w) => words.push(w),
            }
        }
        (lists, words)
    }

    /// One line of the boot block: attributes, variables, a program.
    fn boot_line(&mut self, b: &mut Block, line: lexer::ScriptLine) {
        let (lists, words) = self.line_tokens(line.toks);
        let n_env = words.iter().take_while(|w| is_assignment(w)).count();
        let env: Vec<EnvVar> = words[..n_env].iter().map(env_var).collect();
        let rest = &words[n_env..];
        if rest.is_empty() && env.is_empty() {
            // Attribute-only line: for the following lines.
            let target = match &mut b.pending {
                Some((pst, _, _)) => pst,
                None => &mut b.block,
            };
            for l in &lists {
                self.apply_list(target, l, false);
            }
            return;
        }
        if rest.is_empty() && lists.is_empty() && b.pending.is_none() {
            // Environment-only line: for the kernel and every script command.
            for v in &env {
                self.vars.insert(v.name.clone(), v.value.clone());
            }
            b.env_lines.extend(env);
            return;
        }
        let (mut lst, mut lenv, lspan) = b.pending.take().unwrap_or_else(|| {
            let mut s = b.block.clone();
            s.modules.clear();
            (s, Vec::new(), line.span)
        });
        if rest.is_empty() {
            // Attributes and variables: the command goes on on the next line.
            for l in &lists {
                self.apply_list(&mut lst, l, false);
            }
            lenv.extend(env);
            b.pending = Some((lst, lenv, lspan.to(line.span)));
            return;
        }
        for l in &lists {
            self.apply_list(&mut lst, l, false);
        }
        lenv.extend(env);
        let prog = &rest[0];
        let args: Vec<String> = rest[1..].iter().map(|w| w.text.clone()).collect();
        let span = lspan.to(line.span);
        let index = b.programs.len();
        if index > 4 {
            b.extra.push(prog.span);
            return;
        }
        let Some((source, size, elf, meta)) = self.boot_program_file(prog, &lst) else {
            return;
        };
        let mut bp = BootProgram {
            name: prog.text.clone(),
            source: source.clone(),
            size,
            elf: elf.clone(),
            args,
            env: lenv,
            modules: std::mem::take(&mut lst.modules),
            attrs: lst.file_attrs(),
            entry: None,
            span,
        };
        if index > 0 {
            bp.entry = self.bootstrap_entry(prog, &lst, (source, size, elf, meta), index, span);
        }
        b.programs.push(bp);
    }

    /// The host file of a boot program; None (reported) when it is a directory.
    fn boot_program_file(&mut self, prog: &Word, lst: &State) -> Option<ProgramFile> {
        let found = match self.find(&prog.text, lst) {
            Found::File(p, m) => {
                let elf = host::elf_info(&p).ok().flatten();
                (DataSource::Host { path: p }, Some(m.len()), elf, Some(m))
            }
            Found::Dir(p) => {
                self.diags.push(
                    Diagnostic::new(
                        &codes::B0201,
                        format!("`{}` is a directory, not a program", p.display()),
                    )
                    .at(prog.span, "named here")
                    .help("name the startup or kernel executable"),
                );
                return None;
            }
            Found::Missing if self.opts.no_host_files => (
                DataSource::Assumed {
                    name: prog.text.clone(),
                },
                None,
                None,
                None,
            ),
            Found::Missing => {
                // A boot program cannot be left out, whatever `optional` says.
                self.diags.push(
                    Diagnostic::new(&codes::B0201, format!("boot program `{}` not found", prog.text))
                        .at(prog.span, "not found along the search path")
                        .help("startup and kernel programs are looked up along the search path (boot/sys under QNX_TARGET); check the name, QNX_TARGET and PROCESSOR"),
                );
                (
                    DataSource::Assumed {
                        name: prog.text.clone(),
                    },
                    None,
                    None,
                    None,
                )
            }
        };
        Some(found)
    }

    /// A bootstrap executable is also a file of the image.
    fn bootstrap_entry(
        &mut self,
        prog: &Word,
        lst: &State,
        (source, size, elf, meta): ProgramFile,
        index: usize,
        span: Span,
    ) -> Option<usize> {
        let base = prog
            .text
            .rsplit('/')
            .next()
            .unwrap_or(&prog.text)
            .to_string();
        if let Some(path) = self.target_path(&base, lst, prog.span) {
            let mode = self.file_mode(
                lst,
                meta.as_ref()
                    .map(std::os::unix::fs::MetadataExt::mode)
                    .unwrap_or(0o755),
                elf.as_ref(),
            );
            let entry = Entry {
                path,
                kind: EntryKind::File(FileData {
                    source,
                    size,
                    elf,
                    role: FileRole::Bootstrap(index - 1),
                }),
                mode,
                uid: lst
                    .uid
                    .or(meta.as_ref().map(std::os::unix::fs::MetadataExt::uid))
                    .unwrap_or(0),
                gid: lst
                    .gid
                    .or(meta.as_ref().map(std::os::unix::fs::MetadataExt::gid))
                    .unwrap_or(0),
                mtime: meta
                    .as_ref()
                    .map(|m| self.mtime_host(m))
                    .unwrap_or_else(|| self.mtime_generated()),
                attrs: lst.file_attrs(),
                span,
            };
            return self.push_entry(entry, lst);
        }
        None
    }

    /// Reports what the block lacks; false when it names no program.
    fn block_complete(&mut self, b: &Block, inline: &parser::Inline) -> bool {
        if let Some((_, _, span)) = &b.pending {
            self.diags.push(
                Diagnostic::new(&codes::B0308, "this boot line sets attributes and variables, but no program follows")
                    .at(*span, "no program after this")
                    .help("end the line (or the next one) with the program to run, e.g. `procnto-smp-instr -v`"),
            );
        }
        if !b.extra.is_empty() {
            let mut d = Diagnostic::new(
                &codes::B0302,
                format!(
                    "{} bootstrap programs: at most 4 follow the startup program",
                    b.programs.len() - 1 + b.extra.len()
                ),
            )
            .at(b.extra[0], "one too many");
            for s in b.extra.iter().skip(1) {
                d = d.with(*s, "another");
            }
            self.diags.push(d.help("the image header has room for 4 bootstrap programs (boot_ino[4]); start the others from the boot script"));
        }
        if b.programs.is_empty() {
            self.diags.push(
                Diagnostic::new(&codes::B0301, "the boot block names no startup program")
                    .at(inline.open.to(inline.close), "empty boot block")
                    .help("the first line names the startup program (e.g. `startup-x86 -v`), the next the kernel (e.g. `procnto-smp-instr`)"),
            );
            return false;
        }
        true
    }

    pub(super) fn load_bootfile(&mut self, spec: &BootSpec, st: &State) -> Option<Bootfile> {
        let name = format!("{}.boot", spec.bootfile);
        match self.find(&name, st) {
            Found::File(p, _) => match host::read_regular(&p) {
                Ok(bytes) => match parse_bootfile(p.clone(), &bytes) {
                    Ok(b) => Some(b),
                    Err(e) => {
                        self.diags.push(
                            Diagnostic::new(&codes::B0212, format!("`{}`: {e}", p.display()))
                                .at(spec.span, "the bootfile named here")
                                .help("a bootfile starts with a `[ ... ]` header of `name=value` settings"),
                        );
                        None
                    }
                },
                Err(e) => {
                    self.diags.push(
                        Diagnostic::new(
                            &codes::B0211,
                            format!("cannot read `{}`: {e}", p.display()),
                        )
                        .at(spec.span, "named here"),
                    );
                    None
                }
            },
            _ if self.opts.no_host_files => None,
            _ => {
                self.diags.push(
                    Diagnostic::new(&codes::B0211, format!("bootfile `{name}` not found"))
                        .at(spec.span, "named here")
                        .help("bootfiles are looked up along the search path (boot/sys under QNX_TARGET); check the name, QNX_TARGET and PROCESSOR"),
                );
                None
            }
        }
    }
}
