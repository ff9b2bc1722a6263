//! [`VmSpec`]: the VMM's own description of one VM, independent of the
//! qvmconf parser. A `VmConfig` converts to it; the `vmm-run` binary reads it
//! as JSON.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use vdev::{Dest, Intr, Level, Loc, LoggerSpec, Space, VdevSpec};

/// One VM.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmSpec {
    /// `system`: the VM's name (log prefix).
    #[serde(default = "default_name")]
    pub name: String,
    /// `ram`, `rom` and `reserve loc` regions, in configuration order.
    #[serde(default)]
    pub memory: Vec<MemRegion>,
    /// Number of vCPUs (`cpu` lines; 0 means one).
    #[serde(default)]
    pub cpus: u32,
    /// `cpu runmask n,n`: per vCPU (by index), the host CPUs its thread may
    /// run on; missing or empty means any.
    #[serde(default)]
    pub runmasks: Vec<Vec<u32>>,
    /// `load` lines, in order.
    #[serde(default)]
    pub loads: Vec<Load>,
    /// `cmdline`.
    #[serde(default)]
    pub cmdline: Option<String>,
    /// `vdev` lines, in order.
    #[serde(default)]
    pub vdevs: Vec<VdevSpec>,
    /// `unsupported reference`: what an access to an unclaimed port or MMIO
    /// address does.
    #[serde(default)]
    pub unsupported_reference: Policy,
    /// `set exit-on-halt`: the VM ends (exit 0) when every vCPU has halted
    /// with interrupts disabled.
    #[serde(default)]
    pub exit_on_halt: bool,
    /// `logger`.
    #[serde(default)]
    pub logger: LoggerSpec,
    /// How long a guest has to shut down after the power button (SIGTERM,
    /// SIGINT) before the VMM cuts the power; milliseconds.
    #[serde(default = "default_power_timeout")]
    pub power_button_timeout_ms: u64,
    /// What a guest reset (8042, triple fault) does.
    #[serde(default)]
    pub on_reset: ResetAction,
    /// `dryrun`: assemble the VM, then exit 0 without running it.
    #[serde(default)]
    pub dryrun: bool,
}

fn default_name() -> String {
    "vm".to_string()
}
fn default_power_timeout() -> u64 {
    5000
}

impl Default for VmSpec {
    fn default() -> Self {
        VmSpec {
            name: default_name(),
            memory: Vec::new(),
            cpus: 0,
            runmasks: Vec::new(),
            loads: Vec::new(),
            cmdline: None,
            vdevs: Vec::new(),
            unsupported_reference: Policy::default(),
            exit_on_halt: false,
            logger: LoggerSpec::default(),
            power_button_timeout_ms: default_power_timeout(),
            on_reset: ResetAction::default(),
            dryrun: false,
        }
    }
}

/// Kind of a memory region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemKind {
    /// Guest RAM.
    Ram,
    /// Read-only guest memory, left out of the guest's memory map.
    Rom,
    /// A hole the guest's memory map marks reserved (`reserve loc`).
    Reserve,
}

/// A memory region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemRegion {
    /// RAM, ROM or reserved.
    pub kind: MemKind,
    /// Guest-physical start.
    pub start: u64,
    /// Size in bytes.
    pub size: u64,
}

/// What a `load` line's file is for (the word before `load`): one
/// definition, qvmconf's. This VMM boots `image` loads, places `data` and
/// `initrd` loads, and refuses `acpi` and `fdt` loads (it builds the boot
/// tables itself).
pub use qvmconf::LoadKind;

/// How an image (a [`LoadKind::Image`] load) is booted: its file format and
/// boot protocol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    /// Recognise a bzImage, an ELF (PVH note, then multiboot header, else
    /// its 64-bit entry point), an IFS image; anything else is a raw binary.
    #[default]
    Auto,
    /// An ELF entered through its Xen PVH note.
    Pvh,
    /// A multiboot v1 image (ELF, or any file with the header's address fields).
    Multiboot,
    /// An ELF64 entered at `e_entry` in 64-bit mode.
    Elf64,
    /// A Linux bzImage, 64-bit boot protocol.
    Bzimage,
    /// A QNX IFS image with a startup header.
    Ifs,
    /// A raw binary: loaded at the address, entered at its first byte.
    Raw,
}

/// A `load` line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "LoadJson")]
pub struct Load {
    /// What the file is for.
    pub kind: LoadKind,
    /// How an image is booted; [`ImageFormat::Auto`] for other kinds.
    pub format: ImageFormat,
    /// Where it goes, when given.
    pub addr: Option<u64>,
    /// The host file.
    pub path: PathBuf,
}

impl Load {
    /// An image load (the file booted) in `format`.
    pub fn image(format: ImageFormat, addr: Option<u64>, path: impl Into<PathBuf>) -> Self {
        Load::of(LoadKind::Image, format, addr, path.into())
    }

    /// A `data` or `initrd` (or other non-image) load.
    pub fn other(kind: LoadKind, addr: Option<u64>, path: impl Into<PathBuf>) -> Self {
        Load::of(kind, ImageFormat::Auto, addr, path.into())
    }

    fn of(kind: LoadKind, format: ImageFormat, addr: Option<u64>, path: PathBuf) -> Self {
        Load {
            kind,
            format,
            addr,
            path,
        }
    }
}

/// A `load` as JSON: `kind` is the load kind, or (the older form, still
/// read) an image format, which means an image in that format.
#[derive(Deserialize)]
struct LoadJson {
    #[serde(default)]
    kind: Option<KindJson>,
    #[serde(default)]
    format: Option<ImageFormat>,
    #[serde(default)]
    addr: Option<u64>,
    path: PathBuf,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum KindJson {
    Kind(LoadKind),
    Format(ImageFormat),
}

impl TryFrom<LoadJson> for Load {
    type Error = String;

    fn try_from(j: LoadJson) -> Result<Self, String> {
        let (kind, format) = match (j.kind, j.format) {
            (Some(KindJson::Format(f)), None) => (LoadKind::Image, f),
            (Some(KindJson::Format(f)), Some(g)) => {
                return Err(format!(
                    "load {}: kind {f:?} is an image format and format {g:?} another",
                    j.path.display()
                ));
            }
            (Some(KindJson::Kind(k)), f) => (k, f.unwrap_or_default()),
            (None, f) => (LoadKind::Image, f.unwrap_or_default()),
        };
        if kind != LoadKind::Image && format != ImageFormat::Auto {
            return Err(format!(
                "load {}: format {format:?} is for image loads only",
                j.path.display()
            ));
        }
        Ok(Load::of(kind, format, j.addr, j.path))
    }
}

/// `unsupported reference ignore|fail|abort`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Reads return all ones, writes are dropped (qvm's default).
    #[default]
    Ignore,
    /// The guest gets a general-protection fault (#GP) after the access.
    Fail,
    /// The VM stops with exit code 5 and the vCPU registers are printed.
    Abort,
}

/// What a guest-requested reset does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResetAction {
    /// The VM ends with exit code 0.
    #[default]
    Exit,
    /// The VM is assembled again from its spec and restarted.
    Restart,
}
