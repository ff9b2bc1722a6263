//! The end: image settings and the Manifest.

use super::*;

impl Resolver<'_> {
    pub(super) fn finish(&mut self) -> Manifest {
        if self.boot.is_none()
            && let Some(s) = self.alone_boot
        {
            let mut d = Diagnostic::new(
                &codes::B0203,
                "virtual= on a line of its own: the image gets no startup program",
            )
            .at(s, "this sets a global attribute only");
            if let Some(b) = self.lost_block {
                d = d.with(b, "so this is read as an ordinary inline file");
            }
            self.diags
                .push(d.help("put it on the boot block's line: `[virtual=cpu,bootfile] boot = {`"));
        }
        // Bootfile attributes come after the buildfile.
        if let Some(b) = self.boot.as_ref().and_then(|b| b.bootfile.clone()) {
            self.apply_bootfile_attrs(&b);
        }
        let bootfile = self.boot.as_ref().and_then(|b| b.bootfile.as_ref());
        let mut image = self.img.image.unwrap_or_default();
        if self.img.image.is_none()
            && let Some(d) = bootfile.and_then(|b| b.default_image.as_deref())
            && let Ok(r) = attrs::parse_range(d)
        {
            image = r;
        }
        let byte_order = self.byte_order();
        if let (None, Some((_, rspan))) = (self.img.compress, self.img.ram) {
            self.diags.push(
                Diagnostic::new(&codes::B0219, "split images (`ram=`) are not supported yet")
                    .at(rspan, "split image asked for here")
                    .help("remove `ram=` to build an ordinary image that runs where it is loaded; mkifs builds the split image"),
            );
        }
        if let (Some((_, cspan)), Some((_, rspan))) = (self.img.compress, self.img.ram) {
            self.diags.push(
                Diagnostic::new(&codes::B0206, "a split image (`ram=`) cannot be compressed")
                    .at(cspan, "compression asked for here")
                    .with(rspan, "split image asked for here")
                    .help("remove `+compress`, or remove `ram=`"),
            );
        }
        let compression = self.img.compress.and_then(|(c, _)| match c {
            1 => Some(Compression::Zlib),
            2 => Some(Compression::Lzo),
            3 => Some(Compression::Ucl),
            _ => None,
        });
        let mountpoint = self.img.mount.clone().unwrap_or_else(|| {
            if self.boot.is_some() {
                "/".into()
            } else {
                String::new()
            }
        });
        let page_size = bootfile.and_then(|b| b.pagesize).unwrap_or(4096);
        let root = self.root.take().unwrap_or_else(|| Entry {
            path: String::new(),
            kind: EntryKind::Dir,
            mode: S_IFDIR | 0o755,
            uid: 0,
            gid: 0,
            mtime: self.mtime_generated(),
            attrs: FileAttrs::default(),
            span: Span::default(),
        });
        if let Some(i) = self.script_entry
            && let EntryKind::File(f) = &mut self.entries[i].kind
        {
            f.size = None;
        }
        Manifest {
            origin: Origin::Buildfile,
            boot: self.boot.take(),
            image: ImageSettings {
                byte_order,
                image,
                ram: self.img.ram.map(|(r, _)| r),
                mountpoint,
                chain: self.img.chain.unwrap_or(0),
                compression,
                page_size,
            },
            root,
            entries: std::mem::take(&mut self.entries),
            script: std::mem::take(&mut self.script),
        }
    }

    /// `bigendian` if set, else the first ELF file's, else the CPU name's.
    fn byte_order(&self) -> ByteOrder {
        match self.img.bigendian {
            Some(true) => ByteOrder::Big,
            Some(false) => ByteOrder::Little,
            None => self.first_elf_order().unwrap_or_else(|| {
                let cpu = self
                    .boot
                    .as_ref()
                    .and_then(|b| b.cpu.clone())
                    .or_else(|| self.vars.get("PROCESSOR").cloned())
                    .unwrap_or_default();
                if cpu.ends_with("be") || cpu.contains("be-") {
                    ByteOrder::Big
                } else {
                    ByteOrder::Little
                }
            }),
        }
    }

    pub(super) fn first_elf_order(&self) -> Option<ByteOrder> {
        let startup = self
            .boot
            .as_ref()
            .and_then(|b| b.startup.elf.as_ref())
            .map(|e| e.byte_order);
        startup.or_else(|| {
            self.entries
                .iter()
                .find_map(|e| e.file().and_then(|f| f.elf.as_ref()).map(|e| e.byte_order))
        })
    }
}
