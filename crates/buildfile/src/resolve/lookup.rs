//! Finding host files along the search path.

use super::*;

impl Resolver<'_> {
    pub(super) fn base_dir(&self, st: &State) -> PathBuf {
        match &st.cd {
            Some(cd) => self.opts.cwd.join(&**cd),
            None => self.opts.cwd.clone(),
        }
    }

    pub(super) fn default_search(&self) -> Vec<PathBuf> {
        if let Some(p) = self.opts.env.get("MKIFS_PATH") {
            // As mkifs: MKIFS_PATH replaces the default and -r.
            return p
                .split(':')
                .filter(|s| !s.is_empty())
                .map(|s| self.opts.cwd.join(s))
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
            bases.push(self.opts.cwd.join(r));
        }
        if let Some(t) = self.opts.env.get("QNX_TARGET").filter(|t| !t.is_empty()) {
            bases.push(self.opts.cwd.join(t));
        }
        let mut out = Vec::new();
        for b in bases {
            for d in DIRS {
                out.push(b.join(&processor).join(d));
            }
        }
        out
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
            Some(s) => {
                let base = self.base_dir(st);
                s.split(':')
                    .filter(|s| !s.is_empty())
                    .map(|d| base.join(d))
                    .collect()
            }
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
                self.default_search()
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
        if st.optional {
            self.diags.push(
                Diagnostic::new(&codes::B0202, format!("host file `{host}` not found: the entry is left out"))
                    .at(span, "not found along the search path")
                    .with(line, "this entry")
                    .help("check the name and the search path (`search=`, MKIFS_PATH, QNX_TARGET, -r); `[-optional]` makes this an error"),
            );
        } else {
            self.diags.push(
                Diagnostic::new(&codes::B0201, format!("host file `{host}` not found"))
                    .at(span, "not found along the search path")
                    .help("check the name and the search path (`search=`, MKIFS_PATH, QNX_TARGET, -r); `[+optional]` on the line makes a missing file a warning"),
            );
        }
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
