//! What the rules need to know about the host image, derived once from the
//! Manifest: the generation, the kernel modules, the `qvm` commands of the
//! boot script, and lookups of image paths.

use buildfile::{Boot, Entry, EntryKind, External, Manifest, Module, ScriptCommand, ScriptKind};
use diag::Span;
use serde::Serialize;
use std::collections::HashMap;

pub use crate::paths::{absolute, basename};
use crate::shell::real_command;

/// The SDP generation of the host, which decides how virtualization is enabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Sdp {
    /// SDP 7.0 / 7.1: the kernel links the virtualization module (`module=qvm`).
    #[serde(rename = "7.x")]
    V7,
    /// SDP 8.0: virtualization is built into the kernel; startup enables it (`-Q enable`).
    #[serde(rename = "8.0")]
    V8,
}

impl Sdp {
    /// `7.x` or `8.0`.
    pub fn as_str(self) -> &'static str {
        match self {
            Sdp::V7 => "7.x",
            Sdp::V8 => "8.0",
        }
    }

    /// Parses `7`, `7.0`, `7.1`, `7.x`, `8`, `8.0`.
    pub fn parse(s: &str) -> Option<Sdp> {
        match s {
            "7" | "7.0" | "7.1" | "7.x" => Some(Sdp::V7),
            "8" | "8.0" => Some(Sdp::V8),
            _ => None,
        }
    }
}

/// Why the checker took the host for the generation it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdpSource {
    /// Given by the caller (`--sdp`).
    Given,
    /// The startup line has `-Q` (SDP 8.0).
    StartupQ(Span),
    /// The startup line has no `-Q` (SDP 7.x).
    NoStartupQ,
    /// The image has no boot block (SDP 7.x assumed).
    NotBootable,
}

pub use qvmconf::Arch;

/// One `qvm` command of the boot script.
#[derive(Debug, Clone)]
pub struct QvmStart<'a> {
    /// Index of the command in [`Manifest::script`].
    pub index: usize,
    /// The command.
    pub command: &'a ScriptCommand,
    /// The script command as written (its program may be a wrapper such as `on`).
    pub external: &'a External,
    /// The qvm program as written (`qvm`, `/usr/bin/qvm`).
    pub program: &'a str,
    /// qvm's own arguments (after a wrapper's options, if any).
    pub args: &'a [String],
    /// The `@PATH` arguments, made absolute (relative paths are relative to `/`).
    pub configs: Vec<String>,
}

impl QvmStart<'_> {
    /// The script line.
    pub fn span(&self) -> Span {
        self.command.span
    }
}

/// The host image as the rules see it.
#[derive(Debug)]
pub struct HostView<'a> {
    /// The Manifest.
    pub manifest: &'a Manifest,
    /// The boot block, if the image is bootable.
    pub boot: Option<&'a Boot>,
    /// The generation.
    pub sdp: Sdp,
    /// How the generation was decided.
    pub sdp_source: SdpSource,
    /// The architecture, from the boot block's `virtual=` CPU or the
    /// kernel's ELF header (`None`: another one, or not known).
    pub arch: Option<Arch>,
    /// `module=qvm` or `module=qvm-safety`, if any.
    pub qvm_module: Option<&'a Module>,
    /// `module=aps` or `module=aps-safety`, if any.
    pub aps_module: Option<&'a Module>,
    /// Every `qvm` command of the script, in order.
    pub qvm_starts: Vec<QvmStart<'a>>,
    /// Entry indexes by path (the first entry of a path wins, as in the image).
    by_path: HashMap<&'a str, usize>,
    /// Entry indexes by last path component, in image order.
    by_name: HashMap<&'a str, Vec<usize>>,
}

/// `-Q value` or `-Qvalue` on the startup line: the value.
fn startup_q(boot: &Boot) -> Option<&str> {
    let args = &boot.startup.args;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "-Q" {
            return Some(args.get(i + 1).map(String::as_str).unwrap_or(""));
        }
        if let Some(v) = a.strip_prefix("-Q") {
            return Some(v);
        }
        i += 1;
    }
    None
}

impl<'a> HostView<'a> {
    /// Derives the view; `sdp` is the generation given by the caller, if any.
    pub fn new(manifest: &'a Manifest, sdp: Option<Sdp>) -> HostView<'a> {
        let boot = manifest.boot.as_ref();
        let q = boot.and_then(|b| startup_q(b).map(|_| b.startup.span));
        let (sdp, sdp_source) = match (sdp, boot, q) {
            (Some(s), _, _) => (s, SdpSource::Given),
            (None, None, _) => (Sdp::V7, SdpSource::NotBootable),
            (None, Some(_), Some(span)) => (Sdp::V8, SdpSource::StartupQ(span)),
            (None, Some(_), None) => (Sdp::V7, SdpSource::NoStartupQ),
        };
        let module = |names: &[&str]| {
            boot.and_then(|b| b.modules().find(|m| names.contains(&m.name.as_str())))
        };
        let qvm_module = module(&["qvm", "qvm-safety"]);
        let aps_module = module(&["aps", "aps-safety"]);
        let arch = boot.and_then(arch_of);
        let qvm_starts = manifest
            .script
            .iter()
            .enumerate()
            .filter_map(|(index, command)| {
                let ScriptKind::External(e) = &command.kind else {
                    return None;
                };
                let (program, args) = real_command(&e.program, &e.args);
                (basename(program) == "qvm").then(|| QvmStart {
                    index,
                    command,
                    external: e,
                    program,
                    args,
                    configs: args
                        .iter()
                        .filter_map(|a| a.strip_prefix('@'))
                        .map(absolute)
                        .collect(),
                })
            })
            .collect();
        let mut by_path = HashMap::with_capacity(manifest.entries.len());
        let mut by_name: HashMap<&str, Vec<usize>> = HashMap::with_capacity(manifest.entries.len());
        for (i, e) in manifest.entries.iter().enumerate() {
            by_path.entry(e.path.as_str()).or_insert(i);
            by_name.entry(e.basename()).or_default().push(i);
        }
        HostView {
            by_path,
            by_name,
            manifest,
            boot,
            sdp,
            sdp_source,
            arch,
            qvm_module,
            aps_module,
            qvm_starts,
        }
    }

    /// True when the kernel links `qvm-safety`: a host for the safety-certified hypervisor.
    pub fn is_safety_host(&self) -> bool {
        self.qvm_module.is_some_and(|m| m.name == "qvm-safety")
    }

    /// The `-Q` value on the startup line, if any.
    pub fn startup_q(&self) -> Option<&'a str> {
        self.boot.and_then(startup_q)
    }

    /// The entry at an absolute path in the running host's filesystem, if the image holds it.
    pub fn find(&self, path: &str) -> Option<&'a Entry> {
        let rel = self.relative(path)?;
        self.by_path
            .get(rel.as_str())
            .map(|&i| &self.manifest.entries[i])
    }

    /// The entry at `path`, following symbolic links inside the image (a few levels).
    pub fn find_followed(&self, path: &str) -> Option<&'a Entry> {
        let mut p = absolute(path);
        for _ in 0..8 {
            let e = self.find(&p)?;
            match &e.kind {
                EntryKind::Symlink { target } => {
                    p = if target.starts_with('/') {
                        absolute(target)
                    } else {
                        let dir = p.rsplit_once('/').map_or("", |(d, _)| d);
                        absolute(&format!("{dir}/{target}"))
                    };
                }
                _ => return Some(e),
            }
        }
        None
    }

    /// An absolute path as a path relative to the image's mount point, if it is inside it.
    fn relative(&self, path: &str) -> Option<String> {
        let abs = absolute(path);
        let mount = self.manifest.image.mountpoint.trim_end_matches('/');
        let rel = if mount.is_empty() {
            abs.trim_start_matches('/')
        } else {
            abs.strip_prefix(mount)?.strip_prefix('/')?
        };
        Some(rel.to_string())
    }

    /// The absolute path of an image entry in the running host.
    pub fn abs_path(&self, e: &Entry) -> String {
        let mount = self.manifest.image.mountpoint.trim_end_matches('/');
        format!("{mount}/{}", e.path)
    }

    /// The `PATH` a script command runs with: its own, else the latest
    /// script-wide assignment before it, else the boot block's, else `/proc/boot`.
    pub fn path_of(&self, index: usize) -> String {
        self.env_of(index, "PATH")
            .unwrap_or_else(|| "/proc/boot".to_string())
    }

    /// The library path a script command runs with (`LD_LIBRARY_PATH`,
    /// found as `PATH` is), followed by the default `/proc/boot:/lib:/usr/lib:/lib/dll`.
    pub fn lib_path_of(&self, index: usize) -> String {
        match self.env_of(index, "LD_LIBRARY_PATH") {
            Some(p) => format!("{p}:/proc/boot:/lib:/usr/lib:/lib/dll"),
            None => "/proc/boot:/lib:/usr/lib:/lib/dll".to_string(),
        }
    }

    /// A variable of a script command's environment: its own, else the
    /// latest script-wide assignment before it, else the boot block's.
    pub fn env_of(&self, index: usize, name: &str) -> Option<String> {
        let script = &self.manifest.script;
        if let Some(ScriptKind::External(e)) = script.get(index).map(|c| &c.kind)
            && let Some(v) = e.env.iter().rev().find(|v| v.name == name)
        {
            return Some(v.value.clone());
        }
        for c in script[..index.min(script.len())].iter().rev() {
            if let ScriptKind::GlobalEnv { vars } = &c.kind
                && let Some(v) = vars.iter().rev().find(|v| v.name == name)
            {
                return Some(v.value.clone());
            }
        }
        let b = self.boot?;
        let kernel_env = b.bootstrap.first().map(|k| k.env.as_slice()).unwrap_or(&[]);
        b.env
            .iter()
            .chain(kernel_env)
            .rev()
            .find(|v| v.name == name)
            .map(|v| v.value.clone())
    }

    /// An entry assumed present (`--no-host-files`, not on this machine) that
    /// may be a directory holding one of `dirs` (a `:`-separated list): it is
    /// one of them, or an ancestor of one. A file looked for there cannot be
    /// said to be missing.
    pub fn assumed_dir_among(&self, dirs: &str) -> Option<&'a Entry> {
        dirs.split(':').filter(|d| !d.is_empty()).find_map(|d| {
            let mut p = absolute(d);
            loop {
                if let Some(e) = self.find(&p)
                    && matches!(
                        e.file().map(|f| &f.source),
                        Some(buildfile::DataSource::Assumed { .. })
                    )
                {
                    return Some(e);
                }
                match p.rsplit_once('/') {
                    Some((parent, _)) if !parent.is_empty() => p = parent.to_string(),
                    _ => return None,
                }
            }
        })
    }

    /// Finds the program a script command runs: a path as written, or the
    /// first match along its `PATH`.
    pub fn find_program(&self, index: usize, program: &str) -> Option<&'a Entry> {
        if program.contains('/') {
            return self.find_followed(program);
        }
        self.path_of(index)
            .split(':')
            .filter(|d| !d.is_empty())
            .find_map(|d| self.find_followed(&format!("{d}/{program}")))
    }

    /// Every regular file or link in the image whose last path component is `name`.
    pub fn by_basename<'s>(&'s self, name: &str) -> impl Iterator<Item = &'a Entry> + 's {
        let entries = &self.manifest.entries;
        self.by_name
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .map(move |&i| &entries[i])
            .filter(|e| !matches!(e.kind, EntryKind::Dir))
    }

    /// The kernel (the first bootstrap program), if any.
    pub fn kernel(&self) -> Option<&'a buildfile::BootProgram> {
        self.boot.and_then(|b| b.bootstrap.first())
    }

    /// The external commands of the script with their index.
    pub fn externals(&self) -> impl Iterator<Item = (usize, &'a ScriptCommand, &'a External)> {
        self.manifest
            .script
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match &c.kind {
                ScriptKind::External(e) => Some((i, c, e)),
                _ => None,
            })
    }
}

fn arch_of(b: &Boot) -> Option<Arch> {
    if let Some(cpu) = &b.cpu {
        if cpu == "x86_64" {
            return Some(Arch::X86_64);
        }
        if cpu.starts_with("aarch64") {
            return Some(Arch::Aarch64);
        }
        return None;
    }
    match b
        .bootstrap
        .first()
        .and_then(|k| k.elf.as_ref())
        .map(|e| e.machine)
    {
        Some(62) => Some(Arch::X86_64),
        Some(183) => Some(Arch::Aarch64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths() {
        assert_eq!(absolute("vm/a.qvmconf"), "/vm/a.qvmconf");
        assert_eq!(absolute("/vm//x/../a"), "/vm/a");
        assert_eq!(absolute("/"), "/");
    }

    #[test]
    fn wrappers() {
        let a: Vec<String> = ["-C", "1", "-d", "qvm", "@/vm/a.qvmconf"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (p, rest) = real_command("on", &a);
        assert_eq!((p, rest), ("qvm", &a[4..]));
        let (p, rest) = real_command("qvm", &a);
        assert_eq!((p, rest.len()), ("qvm", 5));
        let only_options: Vec<String> = vec!["-d".into()];
        assert_eq!(real_command("on", &only_options).0, "on");
    }

    #[test]
    fn sdp_names() {
        assert_eq!(Sdp::parse("7.1"), Some(Sdp::V7));
        assert_eq!(Sdp::parse("8.0"), Some(Sdp::V8));
        assert_eq!(Sdp::parse("9"), None);
    }
}
