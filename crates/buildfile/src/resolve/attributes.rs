//! Attributes: applying `[...]` lists to the attributes in force, and the
//! bootfile's `attr=` lines.

use super::*;

impl Resolver<'_> {
    /// An attribute-only line: changes the globals.
    pub(super) fn apply_global_list(&mut self, list: &AttrList) {
        let mut g = std::mem::replace(&mut self.globals, self.spare.clone());
        // Copied only if an entry still shares it.
        self.apply_list(Rc::make_mut(&mut g), list, true);
        self.globals = g;
    }

    pub(super) fn apply_list(&mut self, st: &mut State, list: &AttrList, global: bool) {
        for a in &list.attrs {
            self.apply(st, a, list, global);
        }
    }

    pub(super) fn bad_value(&mut self, span: Span, msg: String, help: &str) {
        self.bad_values += 1;
        self.diags.push(
            Diagnostic::new(&codes::B0205, msg)
                .at(span, "not a valid value here")
                .help(help.to_string()),
        );
    }

    /// [`Self::bad_value`] for a value that must be one of `choices`, with
    /// the closest one as a guess.
    fn bad_choice(&mut self, vspan: Span, v: &str, choices: &[&str], msg: String, help: &str) {
        let help = match attrs::closest(choices.iter().copied(), v) {
            Some(c) => format!("{help}; did you mean `{c}`?"),
            None => help.to_string(),
        };
        self.bad_value(vspan, msg, &help);
    }

    pub(super) fn apply(&mut self, st: &mut State, a: &Attr, list: &AttrList, global: bool) {
        if a.conditional && (st.set.contains(a.name) || self.img.set.contains(a.name)) {
            return;
        }
        let on = matches!(a.setting, Setting::On);
        let value = match &a.setting {
            Setting::Value(w) => Some((self.expand(w), w.span)),
            _ => None,
        };
        let v = value.as_ref().map(|(t, _)| &**t).unwrap_or("");
        let vspan = value.as_ref().map(|(_, s)| *s).unwrap_or(a.span);
        let applied = match a.name {
            AttrName::Virtual | AttrName::Physical => self.set_boot(st, a, list, global, v, vspan),
            AttrName::Code
            | AttrName::Data
            | AttrName::Compress
            | AttrName::Gid
            | AttrName::Uid
            | AttrName::Type => self.set_choice(st, a, v, vspan),
            AttrName::Autoso
            | AttrName::Chain
            | AttrName::Dperms
            | AttrName::Perms
            | AttrName::Image
            | AttrName::Ram
            | AttrName::Module
            | AttrName::PhysAlign => self.set_number(st, a, v, vspan),
            _ => {
                self.set_plain(st, a, v, on);
                true
            }
        };
        if !applied {
            return;
        }
        if !matches!(a.setting, Setting::Off) {
            self.not_applied(a);
        }
        st.set.insert(a.name);
        if matches!(
            a.name,
            AttrName::Image
                | AttrName::Ram
                | AttrName::Chain
                | AttrName::Mount
                | AttrName::Compress
                | AttrName::Bigendian
        ) {
            self.img.set.insert(a.name);
        }
    }

    /// Says, at its first use, that an attribute is accepted but changes
    /// nothing in the image hvhost writes.
    fn not_applied(&mut self, a: &Attr) {
        let (code, what) = match a.name {
            AttrName::Keeplinked => (
                &codes::B0222,
                "the image is the same, but the linked boot programs are not kept as `NAME.sym` files",
            ),
            AttrName::Keepsection => (
                &codes::B0221,
                "ELF files are stored as they are on the host: no section is stripped, so none is kept on purpose",
            ),
            AttrName::Relocs => (
                &codes::B0221,
                "ELF files are stored as they are on the host: relocation information is neither added nor kept on purpose",
            ),
            AttrName::PhysAlign => (
                &codes::B0221,
                "ELF files are placed at the image's own alignment, not at this one",
            ),
            AttrName::Autoso => (
                &codes::B0221,
                "shared libraries the entries need are neither listed nor added",
            ),
            _ => return,
        };
        if self.unapplied.contains(a.name) {
            return;
        }
        self.unapplied.insert(a.name);
        let name = a.name.as_str();
        let help = if code == &codes::B0222 {
            "nothing to change for the image; keep a linked copy yourself if you need the symbols"
                .to_string()
        } else {
            format!(
                "remove `{name}` to build with hvhost, or build this image with mkifs; this is said once, for the first use"
            )
        };
        self.diags.push(
            Diagnostic::new(
                code,
                format!("`{name}` is accepted but not applied by hvhost"),
            )
            .at(a.span, what)
            .help(help),
        );
    }

    /// The attributes that take any value, or none.
    fn set_plain(&mut self, st: &mut State, a: &Attr, v: &str, on: bool) {
        match a.name {
            AttrName::Autolink => {
                st.autolink = on;
            }
            AttrName::Bigendian => {
                st.bigendian = Some(on);
                self.img.bigendian = Some(on);
            }
            AttrName::Cd => {
                st.cd = Some(v.into());
            }
            AttrName::Dupignore => {
                st.dupignore = on;
            }
            AttrName::Filter => {
                st.filter = Some(v.into());
            }
            AttrName::Followlink => {
                st.followlink = on;
            }
            AttrName::Include => {
                st.include = on;
            }
            AttrName::Keeplinked => {
                st.keeplinked = on;
            }
            AttrName::Keepsection => {
                st.keepsection = v
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            AttrName::Linker => {
                st.linker = Some(v.into());
            }
            AttrName::Mount => {
                self.img.mount = Some(v.to_string());
            }
            AttrName::Optional => {
                st.optional = on;
            }
            AttrName::PageAlign => {
                st.page_align = on;
            }
            AttrName::Prefix => {
                st.prefix = Some(v.trim_matches('/').into());
            }
            AttrName::Raw => {
                st.raw = on;
            }
            AttrName::Relocs => {
                st.relocs = on;
            }
            AttrName::Script => {
                st.script = on;
            }
            AttrName::Search => {
                st.search = Some(v.into());
            }
            _ => unreachable!("not an attribute of this group"),
        }
    }

    /// The attributes whose value is one of a few words; false when it is not.
    fn set_choice(&mut self, st: &mut State, a: &Attr, v: &str, vspan: Span) -> bool {
        match a.name {
            AttrName::Code | AttrName::Data => {
                const CHOICES: [&str; 2] = ["uip", "copy"];
                let copy = match attrs::choose(v, &CHOICES) {
                    Some("copy") => true,
                    Some(_) => false,
                    None => {
                        self.bad_choice(
                            vspan,
                            v,
                            &CHOICES,
                            format!("`{}={v}` is neither `uip` nor `copy`", a.name.as_str()),
                            "write `uip` (used in place) or `copy`",
                        );
                        return false;
                    }
                };
                if a.name == AttrName::Code {
                    st.code_copy = copy;
                } else {
                    st.data_copy = copy;
                }
            }
            AttrName::Compress => {
                let c = match &a.setting {
                    Setting::On => Some(3),
                    Setting::Off => None,
                    Setting::Value(_) => match v {
                        "1" | "2" | "3" => v.parse::<u8>().ok(),
                        "0" => None,
                        _ => {
                            self.bad_value(
                                vspan,
                                format!("`compress={v}` is not a compression method"),
                                "1 is zlib, 2 LZO, 3 UCL (the default of `+compress`)",
                            );
                            return false;
                        }
                    },
                };
                st.compress = c.map(|c| (c, a.span));
                self.img.compress = st.compress;
            }
            AttrName::Gid | AttrName::Uid => {
                let id = if v == "*" {
                    None
                } else {
                    match attrs::parse_u64(v).and_then(|n| u32::try_from(n).ok()) {
                        Some(n) => Some(n),
                        None => {
                            self.bad_value(
                                vspan,
                                format!("`{}={v}` is not a user or group id", a.name.as_str()),
                                "write a number, or `*` for the host file's owner",
                            );
                            return false;
                        }
                    }
                };
                if a.name == AttrName::Uid {
                    st.uid = id;
                } else {
                    st.gid = id;
                }
            }
            AttrName::Type => {
                const CHOICES: [&str; 4] = ["file", "dir", "link", "fifo"];
                st.ftype = match attrs::choose(v, &CHOICES) {
                    Some("file") => FileType::File,
                    Some("dir") => FileType::Dir,
                    Some("link") => FileType::Link,
                    Some("fifo") => FileType::Fifo,
                    _ => {
                        self.bad_choice(
                            vspan,
                            v,
                            &CHOICES,
                            format!("`type={v}` is not an entry type"),
                            "the types are `file`, `dir`, `link` and `fifo`",
                        );
                        return false;
                    }
                }
            }
            _ => unreachable!("not an attribute of this group"),
        }
        true
    }

    /// The attributes whose value is a number, a mode or a name; false when it is not valid.
    fn set_number(&mut self, st: &mut State, a: &Attr, v: &str, vspan: Span) -> bool {
        match a.name {
            AttrName::Autoso => {
                const CHOICES: [&str; 2] = ["list", "add"];
                if attrs::choose(v, &CHOICES).is_none() {
                    self.bad_choice(vspan, v, &CHOICES, format!("`autoso={v}` is neither `list` nor `add`"), "write `autoso=list` or `autoso=add`");
                }
            }
            AttrName::Chain => match attrs::parse_u64(v) {
                Some(n) => self.img.chain = Some(n),
                None => self.bad_value(vspan, format!("`chain={v}` is not an address"), "write an address such as `chain=0x200000`"),
            },
            AttrName::Dperms | AttrName::Perms => match attrs::parse_perms(v) {
                Ok(p) => {
                    if a.name == AttrName::Perms {
                        st.perms = p;
                    } else {
                        st.dperms = Some(p);
                    }
                }
                Err(e) => self.bad_value(vspan, e, "write an octal mode (`0755`), `*` for the host file's, or symbolic changes (`a+x`)"),
            },
            AttrName::Image | AttrName::Ram => match attrs::parse_range(v) {
                Ok(r) => {
                    if a.name == AttrName::Image {
                        self.img.image = Some(r);
                    } else {
                        self.img.ram = Some((r, a.span));
                    }
                }
                Err(e) => self.bad_value(vspan, format!("`{}={v}`: {e}", a.name.as_str()), "write `addr[-end][,max][=total][%align]`, e.g. `image=0x80000`"),
            },
            AttrName::Module => {
                if v.is_empty() {
                    self.bad_value(vspan, "`module=` names no module".into(), "write `module=NAME`, e.g. `module=qvm`");
                } else {
                    st.modules.push(Module {
                        name: v.to_string(),
                        span: a.span,
                    });
                }
            }
            AttrName::PhysAlign => match attrs::parse_u64(v) {
                Some(n) if n.is_power_of_two() => st.phys_align = Some(n),
                _ => self.bad_value(vspan, format!("`phys_align={v}` is not a power of two"), "write a power of two, e.g. `phys_align=64k`"),
            },
            _ => unreachable!("not an attribute of this group"),
        }
        true
    }

    /// `virtual=` / `physical=`; false when the value names no bootfile.
    fn set_boot(
        &mut self,
        st: &mut State,
        a: &Attr,
        list: &AttrList,
        global: bool,
        v: &str,
        vspan: Span,
    ) -> bool {
        let mut words = v.split_whitespace();
        let first = words.next().unwrap_or("");
        let (cpu, bootfile) = match first.split_once(',') {
            Some((c, b)) => (Some(c.to_string()), b.to_string()),
            None => (None, first.to_string()),
        };
        if bootfile.is_empty() {
            self.bad_value(
                vspan,
                format!("`{}={v}` names no bootfile", a.name.as_str()),
                "write `[cpu,]bootfile`, e.g. `virtual=x86_64,multiboot`",
            );
            return false;
        }
        let mut args: Vec<String> = words.map(str::to_owned).collect();
        args.extend(list.bootfile_args.iter().map(|w| w.text.clone()));
        if let Some(c) = &cpu {
            self.vars.insert("PROCESSOR".into(), c.clone());
            self.vars.insert("CPU_BASE".into(), cpu_base(c));
        }
        st.boot = Some(BootSpec {
            mode: if a.name == AttrName::Virtual {
                BootMode::Virtual
            } else {
                BootMode::Physical
            },
            cpu,
            bootfile,
            args,
            span: a.span,
        });
        if global {
            self.alone_boot.get_or_insert(a.span);
        }
        true
    }

    pub(super) fn apply_bootfile_attrs(&mut self, b: &Bootfile) {
        for (i, text) in b.attr.iter().enumerate() {
            let name = format!("{} (attr {})", b.path.display(), i + 1);
            let id = self.map.add(name, format!("[{text}]"));
            let bytes = self.map.file(id).shared_bytes();
            let (bf, diags) = parser::parse_range(&bytes, id, 0, bytes.len());
            self.diags.extend(diags);
            for item in &bf.items {
                let Item::Attrs(list) = item else { continue };
                for a in &list.attrs {
                    if a.name == AttrName::Linker {
                        // The linker of the boot programs (`?linker=` only where none is set).
                        let Setting::Value(w) = &a.setting else {
                            continue;
                        };
                        let linker = self.expand(w);
                        if let Some(boot) = &mut self.boot {
                            for p in
                                std::iter::once(&mut boot.startup).chain(boot.bootstrap.iter_mut())
                            {
                                if p.attrs.linker.is_none() || !a.conditional {
                                    p.attrs.linker = Some(linker.to_string());
                                }
                            }
                        }
                    } else {
                        let mut st = std::mem::replace(&mut self.globals, self.spare.clone());
                        let one = AttrList {
                            attrs: vec![a.clone()],
                            bootfile_args: Vec::new(),
                            span: list.span,
                        };
                        self.apply_list(Rc::make_mut(&mut st), &one, false);
                        self.globals = st;
                    }
                }
            }
        }
    }
}
