//! Inline files and boot scripts (inline or from a host file).

use super::*;

impl Resolver<'_> {
    pub(super) fn inline_entry(
        &mut self,
        src: &Arc<[u8]>,
        e: &EntryLine,
        inline: &parser::Inline,
        target: &str,
        st: &State,
    ) {
        let Some(path) = self.target_path(target, st, e.target.span) else {
            return;
        };
        let body = &src[inline.body.start as usize..inline.body.end as usize];
        if st.script {
            let cmds = if memchr::memchr(b'\\', body).is_some() {
                self.unescaped_script(body, inline.body)
            } else {
                script::parse_script(src, inline.body, &mut self.partitions, &mut self.diags)
            };
            self.add_script(path, cmds, e.span, st, 0o666);
            return;
        }
        let bytes = lexer::unescape_inline(body);
        let base = 0o666;
        let mode = self.file_mode(st, base, None);
        let kind = EntryKind::File(FileData {
            size: Some(bytes.len() as u64),
            source: DataSource::Inline { bytes },
            elf: None,
            role: FileRole::Plain,
        });
        let entry = self.made_entry(st, path, kind, mode, e.span);
        self.push_entry(entry, st);
    }

    pub(super) fn add_script(
        &mut self,
        path: String,
        cmds: Vec<ScriptCommand>,
        span: Span,
        st: &State,
        base: u32,
    ) {
        if let Some(i) = self.script_entry {
            let first = self.entries[i].span;
            self.diags.push(
                Diagnostic::new(
                    &codes::B0217,
                    format!(
                        "a second boot script: its commands run after those of `/{}`",
                        self.entries[i].path
                    ),
                )
                .at(span, "joined to the first script")
                .with(first, "the first script"),
            );
            self.script.extend(cmds);
            return;
        }
        self.script.extend(cmds);
        let mode = self.file_mode(st, base, None);
        let kind = EntryKind::File(FileData {
            source: DataSource::Script,
            size: None,
            elf: None,
            role: FileRole::Script,
        });
        let entry = self.made_entry(st, path, kind, mode, span);
        self.script_entry = self.push_entry(entry, st);
    }

    /// A boot script from a host file: the entry keeps the file's mode, as
    /// in mkifs.
    pub(super) fn script_from_host(
        &mut self,
        p: &Path,
        meta: &std::fs::Metadata,
        path: String,
        span: Span,
        st: &State,
    ) {
        use std::os::unix::fs::MetadataExt;
        match host::read_regular(p) {
            Ok(bytes) => {
                let (_, cmds) = self.parse_script_text(p.display().to_string(), bytes);
                self.add_script(path, cmds, span, st, meta.mode() & 0o7777);
            }
            Err(err) => self.diags.push(
                Diagnostic::new(
                    &codes::B0210,
                    format!("cannot read `{}`: {err}", p.display()),
                )
                .at(span, "named here")
                .help("check the file's permissions"),
            ),
        }
    }

    /// Parses script text kept in the source map as `name` (the file's id).
    fn parse_script_text(&mut self, name: String, bytes: Vec<u8>) -> (FileId, Vec<ScriptCommand>) {
        let len = bytes.len();
        let id: FileId = self.map.add(name, bytes);
        let src = self.map.file(id).shared_bytes();
        let cmds = script::parse_script(
            &src,
            Span::new(id, 0, len),
            &mut self.partitions,
            &mut self.diags,
        );
        (id, cmds)
    }

    /// An inline script holding backslashes: read, as mkifs reads it, from
    /// its unescaped text (`\"` is a plain `"` to the script), with every
    /// span of its commands and diagnostics mapped back to the buildfile.
    fn unescaped_script(&mut self, raw: &[u8], body: Span) -> Vec<ScriptCommand> {
        let (text, origin) = lexer::unescape_inline_mapped(raw);
        let name = format!("{} (inline script)", self.map.file(body.file).name());
        let first = self.diags.len();
        let (id, mut cmds) = self.parse_script_text(name, text);
        let back = |s: &mut Span| {
            if s.file == id {
                let at = |o: u32| body.start + origin.get(o as usize).copied().unwrap_or(0);
                *s = Span {
                    file: body.file,
                    start: at(s.start),
                    end: at(s.end),
                };
            }
        };
        for d in &mut self.diags[first..] {
            d.primary
                .iter_mut()
                .chain(&mut d.secondary)
                .for_each(|l| back(&mut l.span));
        }
        for c in &mut cmds {
            back(&mut c.span);
            let vars = match &mut c.kind {
                ScriptKind::External(x) => &mut x.env,
                ScriptKind::GlobalEnv { vars } => vars,
                _ => continue,
            };
            vars.iter_mut().for_each(|v| back(&mut v.span));
        }
        cmds
    }
}
