//! Entry lines: target paths, modes, and the entries they make.

use super::*;

impl Resolver<'_> {
    /// [`Self::target_path`] reusing `target`'s memory when it is already
    /// a path in normal form that needs no prefix.
    pub(super) fn target_path_owned(
        &mut self,
        target: String,
        st: &State,
        span: Span,
    ) -> Option<String> {
        let absolute = target.starts_with('/');
        if (absolute || (st.prefix.is_none() && !self.bootable)) && is_normal(&target) {
            let mut t = target;
            if absolute {
                t.remove(0);
            }
            return Some(t);
        }
        self.target_path(&target, st, span)
    }

    pub(super) fn target_path(&mut self, target: &str, st: &State, span: Span) -> Option<String> {
        let prefix = match (target.starts_with('/'), &st.prefix) {
            (true, _) => "",
            (false, Some(p)) => p,
            (false, None) if self.bootable => "proc/boot",
            (false, None) => "",
        };
        // Normalised in place: `out` holds the components so far, joined by
        // `/`; `..` truncates to the previous separator.
        let mut out = String::with_capacity(prefix.len() + target.len() + 1);
        if !normalise_into(&mut out, prefix) || !normalise_into(&mut out, target) {
            self.diags.push(
                Diagnostic::new(&codes::B0216, format!("`{target}` leaves the image's root"))
                    .at(span, "too many `..`")
                    .help("a path in the image cannot go above `/`"),
            );
            return None;
        }
        Some(out)
    }

    pub(super) fn mtime_generated(&self) -> u32 {
        match self.opts.times {
            Times::Host => self.opts.now,
            _ => 0,
        }
    }

    /// An entry the buildfile itself makes (no host file's metadata): the
    /// line's owner (root by default), the generated time, the line's
    /// attributes.
    pub(super) fn made_entry(
        &self,
        st: &State,
        path: String,
        kind: EntryKind,
        mode: u32,
        span: Span,
    ) -> Entry {
        Entry {
            path,
            kind,
            mode,
            uid: st.uid.unwrap_or(0),
            gid: st.gid.unwrap_or(0),
            mtime: self.mtime_generated(),
            attrs: st.file_attrs(),
            span,
        }
    }

    pub(super) fn push_entry(&mut self, e: Entry, st: &State) -> Option<usize> {
        if e.path.is_empty() {
            // The root itself: only its attributes can be set.
            if let EntryKind::Dir = e.kind {
                self.root = Some(e);
            }
            return None;
        }
        let hash = path_hash(&e.path);
        let mut found = self.by_path.get(&hash).copied();
        while let Some(i) = found {
            if self.entries[i].path == e.path {
                break;
            }
            found = Some(self.same_hash[i]).filter(|&j| j != usize::MAX);
        }
        if let Some(i) = found {
            if st.dupignore {
                return None;
            }
            // As mkifs: both entries are written, in buildfile order.
            let first = self.entries[i].span;
            self.diags.push(
                Diagnostic::new(&codes::B0209, format!("`/{}` is already in the image", e.path))
                    .at(e.span, "named again here")
                    .with(first, "first named here")
                    .help("both entries are written, as mkifs does; remove one of the two lines, or add `+dupignore` to leave this one out silently"),
            );
        }
        let before = self.by_path.insert(hash, self.entries.len());
        self.same_hash.push(before.unwrap_or(usize::MAX));
        self.entries.push(e);
        Some(self.entries.len() - 1)
    }

    pub(super) fn file_mode(&self, st: &State, base: u32, elf: Option<&ElfInfo>) -> u32 {
        let perms = st.perms.apply(base);
        let program = !st.raw && elf.is_some_and(ElfInfo::is_program);
        if (perms & 0o111 != 0 || program) && !runs_once(elf, st.raw, st.data_copy) {
            S_IFREG | perms | S_ISVTX
        } else {
            S_IFREG | perms
        }
    }

    /// An entry line. Its names are taken out of `e` (moved into the
    /// Manifest): the line is not read again.
    pub(super) fn entry_line(&mut self, src: &Arc<[u8]>, e: &mut EntryLine) {
        if e.attrs.is_none() && self.globals.modules.is_empty() && !self.globals.include {
            // The globals as they are (the common case): shared, not
            // copied. Nothing below reads or changes `self.globals` (only
            // `include` and the boot block do).
            let g = self.globals.clone();
            self.entry_with(src, e, &g);
            return;
        }
        let mut st = State::clone(&self.globals);
        st.modules.clear();
        if let Some(list) = &e.attrs {
            let bad = self.bad_values;
            self.apply_list(&mut st, list, false);
            if self.bad_values > bad {
                // Reported; the entry cannot be made as its author meant.
                return;
            }
            if list.boot_attr().is_some() {
                self.boot_block(src, e, &st);
                return;
            }
        }
        self.entry_with(src, e, &st);
    }

    /// An entry line with `st` the attributes in force for it.
    pub(super) fn entry_with(&mut self, src: &Arc<[u8]>, e: &mut EntryLine, st: &State) {
        if self.alone_boot.is_some() && self.boot.is_none() && e.inline.is_some() {
            self.lost_block.get_or_insert(e.span);
        }
        let target_text = self.expand_owned(&mut e.target);
        if st.include {
            self.include(e, &target_text, st);
            return;
        }
        let host_text = match &mut e.host {
            Some(h) if h.text.is_empty() => Some(String::new()),
            Some(h) => Some(self.expand_owned(h)),
            None => None,
        };
        let e = &*e;
        let host_word = e.host.as_ref();
        match st.ftype {
            FileType::Link => {
                let Some(link) = host_text else {
                    self.diags.push(
                        Diagnostic::new(
                            &codes::B0204,
                            format!("the link `{target_text}` has no target"),
                        )
                        .at(e.span, "`type=link` needs `name = target`")
                        .help(format!(
                            "write `[type=link] {target_text} = /where/it/points`"
                        )),
                    );
                    return;
                };
                let Some(path) = self.target_path(&target_text, st, e.target.span) else {
                    return;
                };
                let perms = match &st.perms {
                    Perms::Host => 0o777,
                    p => p.apply(0o777),
                };
                let entry = self.made_entry(
                    st,
                    path,
                    EntryKind::Symlink { target: link },
                    S_IFLNK | perms | sticky(perms),
                    e.span,
                );
                self.push_entry(entry, st);
            }
            FileType::Dir | FileType::Fifo => {
                let Some(path) = self.target_path(&target_text, st, e.target.span) else {
                    return;
                };
                // As mkifs: a `type=dir` entry has time 0 whatever `-n` says;
                // a FIFO with an execute bit is sticky, as a file would be.
                let (kind, mode, mtime) = if st.ftype == FileType::Dir {
                    let p = st.dperms.as_ref().map(|p| p.apply(0o755)).unwrap_or(0o755);
                    (EntryKind::Dir, S_IFDIR | p, 0)
                } else {
                    let p = match &st.perms {
                        Perms::Host => 0o666,
                        p => p.apply(0o666),
                    };
                    (
                        EntryKind::Fifo,
                        S_IFIFO | p | sticky(p),
                        self.mtime_generated(),
                    )
                };
                let entry = Entry {
                    path,
                    kind,
                    mode,
                    uid: st.uid.unwrap_or(0),
                    gid: st.gid.unwrap_or(0),
                    mtime,
                    attrs: st.file_attrs(),
                    span: e.span,
                };
                self.push_entry(entry, st);
            }
            FileType::File => {
                if let Some(inline) = &e.inline {
                    self.inline_entry(src, e, inline, &target_text, st);
                } else {
                    // `name` alone: host = name, target = basename(name).
                    let (target, host) = match host_text {
                        Some(h) => (target_text, h),
                        None => {
                            let base = target_text
                                .bytes()
                                .rposition(|b| b == b'/')
                                .map_or(0, |i| i + 1);
                            (target_text[base..].to_string(), target_text)
                        }
                    };
                    let host_span = host_word.map(|h| h.span).unwrap_or(e.target.span);
                    self.host_entry(e, target, host, host_span, st);
                }
            }
        }
    }

    /// `[+include] file`: reads another buildfile's lines here.
    pub(super) fn include(&mut self, e: &EntryLine, name: &str, st: &State) {
        const MAX_DEPTH: usize = 16;
        let path = {
            let p = Path::new(name);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                self.base_dir(st).join(p)
            }
        };
        if self.include_depth >= MAX_DEPTH {
            self.diags.push(
                Diagnostic::new(
                    &codes::B0218,
                    format!("`{name}` is included more than {MAX_DEPTH} levels deep"),
                )
                .at(e.span, "included here")
                .help("a buildfile includes itself, directly or through others; break the loop"),
            );
            return;
        }
        let read = if self.opts.host_access {
            host::read_regular(&path)
        } else {
            Err(std::io::ErrorKind::NotFound.into())
        };
        let bytes = match read {
            Ok(b) => b,
            Err(_) if self.opts.no_host_files => return,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                self.missing(name, e.target.span, e.span, st);
                return;
            }
            Err(err) => {
                self.diags.push(
                    Diagnostic::new(
                        &codes::B0210,
                        format!("cannot read `{}`: {err}", path.display()),
                    )
                    .at(e.span, "included here")
                    .help("check the file's permissions"),
                );
                return;
            }
        };
        let id = self.map.add(path.display().to_string(), bytes);
        let (mut bf, diags) = parser::parse(self.map, id);
        self.diags.extend(diags);
        if bf.foreign {
            return;
        }
        let src = self.map.file(id).shared_bytes();
        self.include_depth += 1;
        for item in &mut bf.items {
            match item {
                Item::Attrs(list) => {
                    self.apply_global_list(list);
                }
                Item::Entry(inner) => self.entry_line(&src, inner),
            }
        }
        self.include_depth -= 1;
    }

    pub(super) fn host_entry(
        &mut self,
        e: &EntryLine,
        target: String,
        host: String,
        host_span: Span,
        st: &State,
    ) {
        if host.is_empty() {
            // `name=${UNSET}`.
            if self.opts.no_host_files {
                let raw = e.host.as_ref().map(|h| h.text.clone()).unwrap_or_default();
                self.assumed_entry(e, target, raw, st);
            } else {
                self.missing(&host, host_span, e.span, st);
            }
            return;
        }
        if !st.followlink
            && let Some((p, lmeta)) = self.find_link(&host, st)
        {
            // As mkifs: `[-followlink]` stores a link named as a host file
            // as a link, as it does for links inside a host directory.
            if let Some(path) = self.target_path(&target, st, e.target.span) {
                self.link_entry(path, &p, &lmeta, e.span, st);
            }
            return;
        }
        match self.find(&host, st) {
            Found::Missing => {
                if self.opts.no_host_files {
                    self.assumed_entry(e, target, host, st);
                } else {
                    self.missing(&host, host_span, e.span, st);
                }
            }
            Found::Dir(dir) => {
                let Some(path) = self.target_path(&target, st, e.target.span) else {
                    return;
                };
                let mut seen = HashSet::new();
                self.include_dir(&dir, &path, e.span, st, &mut seen);
            }
            Found::File(p, meta) => {
                let Some(path) = self.target_path(&target, st, e.target.span) else {
                    return;
                };
                if st.script {
                    self.script_from_host(&p, &meta, path, e.span, st);
                    return;
                }
                self.file_entry(path, p, &meta, e.span, st, FileRole::Plain);
            }
        }
    }

    pub(super) fn assumed_entry(
        &mut self,
        e: &EntryLine,
        target: String,
        host: String,
        st: &State,
    ) {
        let Some(path) = self.target_path_owned(target, st, e.target.span) else {
            return;
        };
        let mode = self.file_mode(st, 0o755, None);
        let kind = EntryKind::File(FileData {
            source: DataSource::Assumed { name: host },
            size: None,
            elf: None,
            role: if st.script {
                FileRole::Script
            } else {
                FileRole::Plain
            },
        });
        let entry = self.made_entry(st, path, kind, mode, e.span);
        self.push_entry(entry, st);
    }

    /// Adds a host file (and, for a shared object with a SONAME, its autolink).
    pub(super) fn file_entry(
        &mut self,
        path: String,
        host: PathBuf,
        meta: &std::fs::Metadata,
        span: Span,
        st: &State,
        role: FileRole,
    ) -> Option<usize> {
        use std::os::unix::fs::MetadataExt;
        let elf = match host::elf_info(&host) {
            Ok(e) => e,
            Err(err) => {
                self.diags.push(
                    Diagnostic::new(
                        &codes::B0210,
                        format!("cannot read `{}`: {err}", host.display()),
                    )
                    .at(span, "named here")
                    .help("check the file's permissions"),
                );
                return None;
            }
        };
        let mode = self.file_mode(st, meta.mode(), elf.as_ref());
        let mut path = path;
        let mut link = None;
        if st.autolink
            && !st.raw
            && let Some(so) = elf
                .as_ref()
                .filter(|e| e.is_shared_object())
                .and_then(|e| e.soname.clone())
        {
            let (dir, base) = match path.rsplit_once('/') {
                Some((d, b)) => (d.to_string(), b.to_string()),
                None => (String::new(), path.clone()),
            };
            if base != so && !so.contains('/') && !so.is_empty() {
                // Stored under its SONAME; the name the buildfile gave links to it.
                link = Some((path.clone(), so.clone()));
                path = if dir.is_empty() {
                    so
                } else {
                    format!("{dir}/{so}")
                };
            }
        }
        let entry = Entry {
            path,
            kind: EntryKind::File(FileData {
                source: DataSource::Host { path: host },
                size: Some(meta.len()),
                elf,
                role,
            }),
            mode,
            uid: st.uid.unwrap_or(meta.uid()),
            gid: st.gid.unwrap_or(meta.gid()),
            mtime: self.mtime_host(meta),
            attrs: st.file_attrs(),
            span,
        };
        let idx = self.push_entry(entry, st);
        if let Some((link_path, so)) = link {
            let e = Entry {
                path: link_path,
                kind: EntryKind::Symlink { target: so },
                mode: S_IFLNK | 0o777 | S_ISVTX,
                uid: st.uid.unwrap_or(meta.uid()),
                gid: st.gid.unwrap_or(meta.gid()),
                mtime: self.mtime_generated(),
                attrs: FileAttrs::default(),
                span,
            };
            self.push_entry(e, st);
        }
        idx
    }
}

/// The sticky bit mkifs gives a link, FIFO or file whose mode has an execute bit.
fn sticky(perms: u32) -> u32 {
    if perms & 0o111 != 0 { S_ISVTX } else { 0 }
}
