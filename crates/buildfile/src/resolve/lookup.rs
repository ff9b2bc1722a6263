//! Finding host files along the search path.

use super::*;

/// Where a directory of the search path comes from, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Origin {
    /// The entry's `search=` attribute.
    Search,
    /// The `MKIFS_PATH` environment variable.
    MkifsPath,
    /// Under the `-r` root.
    Root,
    /// Under `QNX_TARGET`.
    QnxTarget,
}

impl Origin {
    fn label(self) -> &'static str {
        match self {
            Origin::Search => "search=",
            Origin::MkifsPath => "MKIFS_PATH",
            Origin::Root => "-r",
            Origin::QnxTarget => "QNX_TARGET",
        }
    }
}

impl Resolver<'_> {
    pub(super) fn base_dir(&self, st: &State) -> PathBuf {
        match &st.cd {
            Some(cd) => self.opts.cwd.join(&**cd),
            None => self.opts.cwd.clone(),
        }
    }

    /// The default search path (no `search=`), each directory with where
    /// it comes from: `MKIFS_PATH`, or the standard directories under `-r`
    /// and then under `QNX_TARGET`.
    pub(super) fn default_search(&self) -> Vec<(PathBuf, Origin)> {
        if let Some(p) = self.opts.env.get("MKIFS_PATH") {
            // As mkifs: MKIFS_PATH replaces the default and -r.
            return p
                .split(':')
                .filter(|s| !s.is_empty())
                .map(|s| (self.opts.cwd.join(s), Origin::MkifsPath))
                .collect();
        }
        const DIRS: [&str; 8] = [
            "sbin", "usr/sbin", "boot/sys", "bin", "usr/bin", "lib", "lib/dll", "usr/lib",
        ];
        let processor = self
            .vars
            .get("PROCESSOR")
            .or_else(|| self.opts.env.get("PROCESSOR"))
            .cloned()
            .unwrap_or_default();
        let mut bases = Vec::new();
        if let Some(r) = &self.opts.root {
            bases.push((self.opts.cwd.join(r), Origin::Root));
        }
        if let Some(t) = self.opts.env.get("QNX_TARGET").filter(|t| !t.is_empty()) {
            bases.push((self.opts.cwd.join(t), Origin::QnxTarget));
        }
        let mut out = Vec::new();
        for (b, origin) in bases {
            for d in DIRS {
                out.push((b.join(&processor).join(d), origin));
            }
        }
        out
    }

    /// The search path of an entry, each directory with where it comes from.
    fn search_origins(&self, st: &State) -> Vec<(PathBuf, Origin)> {
        match &st.search {
            Some(s) => {
                let base = self.base_dir(st);
                s.split(':')
                    .filter(|s| !s.is_empty())
                    .map(|d| (base.join(d), Origin::Search))
                    .collect()
            }
            None => self.default_search(),
        }
    }

    pub(super) fn search_dirs(&mut self, st: &State) -> Rc<SearchPath> {
        // The default path (no `search=`), the common case, is found without
        // building a key.
        if st.search.is_none()
            && let Some((processor, dirs)) = &self.default_search_cache
            && self
                .vars
                .get("PROCESSOR")
                .or_else(|| self.opts.env.get("PROCESSOR"))
                .map_or("", String::as_str)
                == processor.as_str()
        {
            return dirs.clone();
        }
        let key = match &st.search {
            Some(s) => format!("S{}\0{}", s, st.cd.as_deref().unwrap_or("")),
            None => format!(
                "D{}",
                self.vars
                    .get("PROCESSOR")
                    .or_else(|| self.opts.env.get("PROCESSOR"))
                    .map(String::as_str)
                    .unwrap_or("")
            ),
        };
        if let Some(d) = self.search_cache.get(&key) {
            return d.clone();
        }
        let dirs: Vec<PathBuf> = match &st.search {
            Some(_) => self
                .search_origins(st)
                .into_iter()
                .map(|(d, _)| d)
                .collect(),
            None => {
                if self.opts.env.get("QNX_TARGET").is_none_or(|t| t.is_empty())
                    && !self.opts.env.contains_key("MKIFS_PATH")
                    && self.reported_unset.insert("QNX_TARGET".into())
                    && !self.opts.no_host_files
                {
                    self.diags.push(Diagnostic::new(
                        &codes::B0207,
                        "`QNX_TARGET` is not set: the default search path holds only `-r` directories",
                    )
                    .help("set QNX_TARGET to the SDP's target directory, or MKIFS_PATH to a search path"));
                }
                self.default_search().into_iter().map(|(d, _)| d).collect()
            }
        };
        let dirs = Rc::new(self.fs.search_path(dirs));
        if st.search.is_none() {
            self.default_search_cache = Some((key[1..].to_string(), dirs.clone()));
        }
        self.search_cache.insert(key, dirs.clone());
        dirs
    }

    /// Where a host name is found: the path along the search path (a link
    /// is not followed).
    fn locate(&mut self, name: &str, st: &State) -> Option<PathBuf> {
        if !self.opts.host_access {
            return None;
        }
        let path = Path::new(name);
        if path.is_absolute() {
            return self.fs.exists(path).then(|| path.to_path_buf());
        }
        let direct = name
            .contains('/')
            .then(|| self.base_dir(st).join(name))
            .filter(|d| self.fs.exists(d));
        if direct.is_some() {
            return direct;
        }
        let dirs = self.search_dirs(st);
        dirs.find(&mut self.fs, name)
    }

    pub(super) fn find(&mut self, name: &str, st: &State) -> Found {
        match self.locate(name, st) {
            None => Found::Missing,
            Some(p) => match std::fs::metadata(&p) {
                Ok(m) if m.is_dir() => Found::Dir(p),
                Ok(m) => Found::File(p, m),
                // A dangling link: as good as missing.
                Err(_) => Found::Missing,
            },
        }
    }

    /// The symbolic link a host name is found as, with the link's own
    /// metadata; None when it is found as something else, or not found.
    pub(super) fn find_link(
        &mut self,
        name: &str,
        st: &State,
    ) -> Option<(PathBuf, std::fs::Metadata)> {
        let p = self.locate(name, st)?;
        let m = std::fs::symlink_metadata(&p).ok()?;
        m.file_type().is_symlink().then_some((p, m))
    }

    pub(super) fn missing(&mut self, host: &str, span: Span, line: Span, st: &State) {
        let looked = self.where_looked(host, st);
        let d = if st.optional {
            Diagnostic::new(
                &codes::B0202,
                format!("host file `{host}` not found: the entry is left out"),
            )
            .at(span, "not found")
            .with(line, "this entry")
        } else {
            Diagnostic::new(&codes::B0201, format!("host file `{host}` not found"))
                .at(span, "not found")
        };
        let switch = if st.optional {
            "`[-optional]` makes this an error"
        } else {
            "`[+optional]` on the line makes a missing file a warning"
        };
        let add = if host.starts_with('/') {
            "check the name".to_string()
        } else {
            format!(
                "add the file's directory with `search=DIR` (on the line or as `[search=DIR]` before it), \
                 MKIFS_PATH=DIR1:DIR2 or `-r ROOT`, or write the name with a `/` (`./{host}`) to take it \
                 from the current directory"
            )
        };
        self.diags
            .push(d.note(looked).help(format!("{add}; {switch}")));
    }

    /// Where `name` was looked for, in order, with the origin of each
    /// directory (relative to the current directory where it is inside it).
    fn where_looked(&self, name: &str, st: &State) -> String {
        use std::fmt::Write as _;
        const SHOWN: usize = 12;
        let cwd = &self.opts.cwd;
        let show = |p: &Path| {
            let p = p.strip_prefix(cwd).unwrap_or(p);
            if p.as_os_str().is_empty() {
                ".".to_string()
            } else {
                p.display().to_string()
            }
        };
        if !self.opts.host_access {
            return "host files are not read (--no-host-files)".to_string();
        }
        if Path::new(name).is_absolute() {
            return "an absolute name is looked for only at that path".to_string();
        }
        let mut o = String::new();
        if name.contains('/') {
            let _ = writeln!(o, "looked first at {}", show(&self.base_dir(st).join(name)));
        } else {
            o.push_str(
                "a name without `/` is looked for along the search path only, never in the \
                 current directory (as mkifs does)\n",
            );
        }
        let dirs = self.search_origins(st);
        if dirs.is_empty() {
            o.push_str(
                "the search path is empty: no `search=`, MKIFS_PATH or QNX_TARGET is set and no -r \
                 was given",
            );
            return o;
        }
        o.push_str("searched, in order:");
        for (d, origin) in dirs.iter().take(SHOWN) {
            let _ = write!(o, "\n  {} ({})", show(d), origin.label());
        }
        if dirs.len() > SHOWN {
            let _ = write!(o, "\n  ... and {} more", dirs.len() - SHOWN);
        }
        o
    }

    pub(super) fn mtime_host(&self, m: &std::fs::Metadata) -> u32 {
        if self.opts.times == Times::ZeroAll {
            return 0;
        }
        let t = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
            .unwrap_or(0);
        match self.opts.source_date_epoch {
            Some(sde) => t.min(sde),
            None => t,
        }
    }
}
