//! Host directories named as host files: their contents, recursively.

use super::*;

impl Resolver<'_> {
    pub(super) fn include_dir(
        &mut self,
        dir: &Path,
        target: &str,
        span: Span,
        st: &State,
        seen: &mut HashSet<PathBuf>,
    ) {
        use std::os::unix::fs::MetadataExt;
        let canonical = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        if !seen.insert(canonical) {
            return; // a symlink loop
        }
        let meta = std::fs::metadata(dir).ok();
        if !target.is_empty() {
            let p = st
                .dperms
                .as_ref()
                .map(|p| p.apply(meta.as_ref().map(|m| m.mode()).unwrap_or(0o755)))
                .unwrap_or(0o755);
            let entry = Entry {
                path: target.to_string(),
                kind: EntryKind::Dir,
                mode: S_IFDIR | (p & 0o7777),
                uid: st.uid.or(meta.as_ref().map(|m| m.uid())).unwrap_or(0),
                gid: st.gid.or(meta.as_ref().map(|m| m.gid())).unwrap_or(0),
                mtime: meta.as_ref().map(|m| self.mtime_host(m)).unwrap_or(0),
                attrs: st.file_attrs(),
                span,
            };
            self.push_entry(entry, st);
        }
        let mut names: Vec<_> = match std::fs::read_dir(dir) {
            Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.file_name()).collect(),
            Err(err) => {
                self.diags.push(
                    Diagnostic::new(
                        &codes::B0215,
                        format!("cannot read directory `{}`: {err}", dir.display()),
                    )
                    .at(span, "included here")
                    .help("check the directory's permissions"),
                );
                return;
            }
        };
        names.sort();
        for name in names {
            let host = dir.join(&name);
            let name = name.to_string_lossy().into_owned();
            let child = if target.is_empty() {
                name.clone()
            } else {
                format!("{target}/{name}")
            };
            let Ok(lmeta) = std::fs::symlink_metadata(&host) else {
                continue;
            };
            let is_link = lmeta.file_type().is_symlink();
            if is_link && !st.followlink {
                self.link_entry(child, &host, &lmeta, span, st);
                continue;
            }
            match std::fs::metadata(&host) {
                Ok(m) if m.is_dir() => self.include_dir(&host, &child, span, st, seen),
                Ok(m) if m.is_file() => {
                    self.file_entry(child, host, &m, span, st, FileRole::Plain);
                }
                Ok(_) => {} // sockets, devices: not image content
                Err(err) if is_link => self.dangling(&host, &err, span),
                Err(_) => {}
            }
        }
    }

    /// A symbolic link stored as a link (`[-followlink]`).
    pub(super) fn link_entry(
        &mut self,
        path: String,
        host: &Path,
        lmeta: &std::fs::Metadata,
        span: Span,
        st: &State,
    ) {
        use std::os::unix::fs::MetadataExt;
        let link = std::fs::read_link(host)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let e = Entry {
            path,
            kind: EntryKind::Symlink { target: link },
            mode: S_IFLNK | 0o777 | S_ISVTX,
            uid: st.uid.unwrap_or(lmeta.uid()),
            gid: st.gid.unwrap_or(lmeta.gid()),
            mtime: self.mtime_host(lmeta),
            attrs: FileAttrs::default(),
            span,
        };
        self.push_entry(e, st);
    }

    /// A followed link inside a host directory that points nowhere: an
    /// error, as in mkifs.
    fn dangling(&mut self, host: &Path, err: &std::io::Error, span: Span) {
        let target = std::fs::read_link(host)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        self.diags.push(
            Diagnostic::new(
                &codes::B0220,
                format!("`{}` is a link to `{target}`, which cannot be followed: {err}", host.display()),
            )
            .at(span, "the directory holding it is named here")
            .help("fix or remove the link on the host, or write `[-followlink]` on the line to store links as links"),
        );
    }
}
