//! The Manifest: the complete, resolved content of an image.
//!
//! [`crate::resolve`] produces it from a parsed buildfile; the IFS writer
//! builds from it, the host checker checks it, and an image read back from
//! disk converts to it. Every entry remembers the buildfile span it came
//! from, so any later message can point at the user's line.

use diag::Span;
use serde::Serialize;
use std::path::PathBuf;

/// `S_IFMT` and the type values used in `mode`.
pub mod mode {
    /// Mask of the file-type bits.
    pub const S_IFMT: u32 = 0o170000;
    /// Regular file.
    pub const S_IFREG: u32 = 0o100000;
    /// Directory.
    pub const S_IFDIR: u32 = 0o040000;
    /// Symbolic link.
    pub const S_IFLNK: u32 = 0o120000;
    /// FIFO.
    pub const S_IFIFO: u32 = 0o010000;
    /// Sticky bit: set by mkifs on executable files and symlinks that are not run once.
    pub const S_ISVTX: u32 = 0o001000;
}

/// The target byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ByteOrder {
    /// Little-endian (x86, x86_64, aarch64le, armle-v7).
    #[default]
    Little,
    /// Big-endian (`*be` targets, or `+bigendian`).
    Big,
}

impl ByteOrder {
    /// Reads a u16 from the first two bytes of `b` (which must hold them).
    pub fn u16(self, b: [u8; 2]) -> u16 {
        match self {
            ByteOrder::Little => u16::from_le_bytes(b),
            ByteOrder::Big => u16::from_be_bytes(b),
        }
    }

    /// Reads a u32.
    pub fn u32(self, b: [u8; 4]) -> u32 {
        match self {
            ByteOrder::Little => u32::from_le_bytes(b),
            ByteOrder::Big => u32::from_be_bytes(b),
        }
    }

    /// Reads a u64.
    pub fn u64(self, b: [u8; 8]) -> u64 {
        match self {
            ByteOrder::Little => u64::from_le_bytes(b),
            ByteOrder::Big => u64::from_be_bytes(b),
        }
    }

    /// The bytes of a u16.
    pub fn put_u16(self, v: u16) -> [u8; 2] {
        match self {
            ByteOrder::Little => v.to_le_bytes(),
            ByteOrder::Big => v.to_be_bytes(),
        }
    }

    /// The bytes of a u32.
    pub fn put_u32(self, v: u32) -> [u8; 4] {
        match self {
            ByteOrder::Little => v.to_le_bytes(),
            ByteOrder::Big => v.to_be_bytes(),
        }
    }

    /// The bytes of a u64.
    pub fn put_u64(self, v: u64) -> [u8; 8] {
        match self {
            ByteOrder::Little => v.to_le_bytes(),
            ByteOrder::Big => v.to_be_bytes(),
        }
    }
}

/// Image compression (`compress=N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// 1: one zlib (gzip) stream.
    Zlib,
    /// 2: LZO1X in 64 KiB blocks.
    Lzo,
    /// 3: UCL NRV2B in 64 KiB blocks (the default of `+compress`).
    Ucl,
}

/// An `image=` or `ram=` value: `addr[-end][,max][=total][%align]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct AddrRange {
    /// Base address.
    pub start: Option<u64>,
    /// Last address (inclusive), from `-end`.
    pub end: Option<u64>,
    /// Maximum size, from `,max`.
    pub max: Option<u64>,
    /// Total size to pad to, from `=total`.
    pub total: Option<u64>,
    /// Alignment of the image size, from `%align`.
    pub align: Option<u64>,
}

/// Image-wide settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageSettings {
    /// Target byte order: `bigendian` if set, else the first ELF file's, else little.
    pub byte_order: ByteOrder,
    /// `image=` (base address and limits).
    pub image: AddrRange,
    /// `ram=`: a split image (read-only image, RW data in RAM).
    pub ram: Option<AddrRange>,
    /// Mount point of the image filesystem: `/` for bootable images unless `mount=` says otherwise.
    pub mountpoint: String,
    /// `chain=`: physical address of the next image, 0 if none.
    pub chain: u64,
    /// `compress=`.
    pub compression: Option<Compression>,
    /// Page size for page-aligned placement (4 KiB unless the bootfile says otherwise).
    pub page_size: u64,
}

/// A file's ELF identity, read from its header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ElfInfo {
    /// `e_machine` (3 x86, 40 ARM, 62 x86_64, 183 AArch64, ...).
    pub machine: u16,
    /// `e_type`.
    pub kind: ElfKind,
    /// Byte order of the file.
    pub byte_order: ByteOrder,
    /// ELFCLASS64.
    pub is_64: bool,
    /// Has a `PT_INTERP` program header (a dynamically linked executable).
    pub has_interp: bool,
    /// `DT_SONAME`, if any.
    pub soname: Option<String>,
    /// Entry point.
    pub entry: u64,
    /// A loadable segment is writable (`PF_W`): its data, used in place,
    /// can serve one run only.
    pub writable: bool,
}

/// `e_type` of an ELF file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ElfKind {
    /// `ET_REL`: an object to be linked (startup and kernel before linking).
    Relocatable,
    /// `ET_EXEC`.
    Executable,
    /// `ET_DYN`: a shared object (or a position-independent executable, see `has_interp`).
    Shared,
    /// Anything else.
    Other,
}

/// Where a file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum DataSource {
    /// A file on the build machine.
    Host {
        /// The path that was found (after the search path).
        path: PathBuf,
    },
    /// Contents written in the buildfile (`name = { ... }`).
    Inline {
        /// The contents.
        #[serde(skip)]
        bytes: Vec<u8>,
    },
    /// The compiled boot script ([`Manifest::script`]).
    Script,
    /// `--no-host-files`: the file was not found on this machine and is
    /// assumed to exist on the machine the buildfile was written for.
    Assumed {
        /// The host name as written in the buildfile.
        name: String,
    },
}

/// Per-file attributes that change how a file is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct FileAttrs {
    /// `code=copy`: code is copied to RAM (not used in place).
    pub code_copy: bool,
    /// `data=copy`: data is copied (the executable may run more than once).
    pub data_copy: bool,
    /// `+page_align`.
    pub page_align: bool,
    /// `+raw`: ELF treated as plain data.
    pub raw: bool,
    /// `+keeplinked`.
    pub keeplinked: bool,
    /// `+relocs`.
    pub relocs: bool,
    /// `+compress` on this file (entry-level compression is not used by mkifs 7+; kept for fidelity).
    pub compress: bool,
    /// `phys_align=`.
    pub phys_align: Option<u64>,
    /// `filter=`: command run as `cmd < host > tmp` at build time.
    pub filter: Option<String>,
    /// `keepsection=`.
    pub keepsection: Vec<String>,
    /// `linker=` template for bootstrap programs.
    pub linker: Option<String>,
}

/// What a regular file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FileRole {
    /// An ordinary file.
    #[default]
    Plain,
    /// A bootstrap executable of the boot block (the kernel is the first); the
    /// number is its index in [`Boot::bootstrap`].
    Bootstrap(usize),
    /// The boot script.
    Script,
}

/// A regular file's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileData {
    /// Where the bytes come from.
    pub source: DataSource,
    /// Size in bytes; `None` when unknown (an assumed file, or a `filter=`).
    pub size: Option<u64>,
    /// ELF identity, when the file is an ELF file.
    pub elf: Option<ElfInfo>,
    /// What the file is for.
    pub role: FileRole,
}

impl FileData {
    /// True for an ELF executable (`ET_EXEC`, or `ET_DYN` with an interpreter).
    pub fn is_elf_program(&self) -> bool {
        self.elf.as_ref().is_some_and(ElfInfo::is_program)
    }

    /// True for an ELF executable or shared object: what mkifs processes
    /// (and flags in the inode) unless it is `+raw`.
    pub fn is_elf_image(&self) -> bool {
        self.elf.as_ref().is_some_and(ElfInfo::is_image)
    }
}

impl ElfInfo {
    /// True for an executable: `ET_EXEC`, or a position-independent
    /// executable (`ET_DYN` with `PT_INTERP` and no `DT_SONAME`). False for
    /// shared objects (even those with an interpreter, such as glibc's
    /// `libc.so.6`, which can be run to print its version) and objects.
    pub fn is_program(&self) -> bool {
        self.kind == ElfKind::Executable
            || (self.kind == ElfKind::Shared && self.has_interp && self.soname.is_none())
    }

    /// True for a shared object: `ET_DYN` with a `DT_SONAME`, or without `PT_INTERP`.
    pub fn is_shared_object(&self) -> bool {
        self.kind == ElfKind::Shared && (self.soname.is_some() || !self.has_interp)
    }

    /// True for an executable or a shared object.
    pub fn is_image(&self) -> bool {
        self.is_program() || self.is_shared_object()
    }
}

/// The type of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file.
    File(FileData),
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink {
        /// The link's target string, stored as is.
        target: String,
    },
    /// A FIFO.
    Fifo,
}

/// One directory entry of the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Path in the image, relative to the mount point, without a leading `/`
    /// (`proc/boot/qvm`).
    pub path: String,
    /// Type and data.
    pub kind: EntryKind,
    /// The full `st_mode` as stored: type bits, permissions, and the sticky
    /// bit where mkifs sets it.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time, seconds since the epoch (0 under `-nn`).
    pub mtime: u32,
    /// Attributes that change how the file is stored.
    pub attrs: FileAttrs,
    /// The buildfile line that produced the entry.
    #[serde(skip)]
    pub span: Span,
}

impl Entry {
    /// True when the entry is an ELF executable or shared object with a
    /// writable segment that mkifs uses in place (`data=uip`, the default):
    /// it can run only once, its inode carries the run-once flag, and it
    /// gets no sticky bit. Files without a writable segment, `+raw` files
    /// and `data=copy` files are not.
    pub fn runs_once(&self) -> bool {
        self.file()
            .is_some_and(|f| runs_once(f.elf.as_ref(), self.attrs.raw, self.attrs.data_copy))
    }

    /// The file data, for regular files.
    pub fn file(&self) -> Option<&FileData> {
        match &self.kind {
            EntryKind::File(f) => Some(f),
            _ => None,
        }
    }

    /// The last component of the path.
    pub fn basename(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

/// An environment variable assignment, `NAME=value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvVar {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
    /// Where it was written.
    #[serde(skip)]
    pub span: Span,
}

/// A kernel module named by `module=` on a bootstrap program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Module {
    /// The name (`qvm`, `qvm-safety`, `aps`, ...): links `libmod_<name>.a`.
    pub name: String,
    /// Where `module=` was written.
    #[serde(skip)]
    pub span: Span,
}

/// `virtual=` or `physical=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BootMode {
    /// MMU image.
    Virtual,
    /// Physical addressing.
    Physical,
}

/// The text header (and binary preboot) of a `.boot` bootfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Bootfile {
    /// The file that was read.
    pub path: PathBuf,
    /// `attr="..."` lines, in order: attributes applied after the buildfile
    /// (usually with `?`, so the buildfile's own settings win).
    pub attr: Vec<String>,
    /// `default_image=`: the image address range when the buildfile gives no `image=`.
    pub default_image: Option<String>,
    /// `default_ram=`.
    pub default_ram: Option<String>,
    /// `filter="..."`: post-processing command template (`%a %s %i %I`).
    pub filter: Option<String>,
    /// `len=`: minimum preboot size.
    pub len: Option<u64>,
    /// `pagesize=` (or `pagesizes=`, the first size).
    pub pagesize: Option<u64>,
    /// `paddr_bias=` (may be negative).
    pub paddr_bias: Option<i64>,
    /// `vboot=`: virtual base of bootstrap programs.
    pub vboot: Option<u64>,
    /// `+rsvd_vaddr` / `-rsvd_vaddr`.
    pub rsvd_vaddr: Option<bool>,
    /// `notloaded=`.
    pub notloaded: Option<u64>,
    /// Other `name=value` settings, kept as written.
    pub other: Vec<(String, String)>,
    /// Bytes after the `boot` marker (the preboot code), if any.
    #[serde(skip)]
    pub preboot: Vec<u8>,
}

/// A program of the boot block (startup or bootstrap executable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BootProgram {
    /// The program name as written (`startup-bcm2711-rpi4`, `procnto-smp-instr`).
    pub name: String,
    /// Where its bytes come from.
    pub source: DataSource,
    /// Size, when known.
    pub size: Option<u64>,
    /// ELF identity, when known.
    pub elf: Option<ElfInfo>,
    /// Arguments after the program name.
    pub args: Vec<String>,
    /// The line's own environment (`PATH=... procnto ...`).
    pub env: Vec<EnvVar>,
    /// `module=` attributes, in order.
    pub modules: Vec<Module>,
    /// Attributes in force on the line.
    pub attrs: FileAttrs,
    /// Index in [`Manifest::entries`] (bootstrap programs are directory
    /// entries; the startup program is not: it lives in the startup area).
    pub entry: Option<usize>,
    /// The line (or lines) of the program.
    #[serde(skip)]
    pub span: Span,
}

/// The boot block of a bootable image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Boot {
    /// `virtual=` or `physical=`.
    pub mode: BootMode,
    /// The target CPU (`x86_64`, `aarch64le`, ...), if given.
    pub cpu: Option<String>,
    /// The bootfile name (`bios`, `raw`, `multiboot`, ...).
    pub bootfile_name: String,
    /// Words after the bootfile name, passed to its filter (`%a`).
    pub bootfile_args: Vec<String>,
    /// The bootfile that was read; `None` when it could not be found
    /// (allowed under `--no-host-files`).
    pub bootfile: Option<Bootfile>,
    /// The startup program.
    pub startup: BootProgram,
    /// Bootstrap executables (the kernel first), at most 4.
    pub bootstrap: Vec<BootProgram>,
    /// Environment-only lines of the block (apply to the kernel and every script command).
    pub env: Vec<EnvVar>,
    /// The `[virtual=...] name = {` line.
    #[serde(skip)]
    pub span: Span,
}

impl Boot {
    /// Every `module=` of every bootstrap program.
    pub fn modules(&self) -> impl Iterator<Item = &Module> {
        self.bootstrap.iter().flat_map(|p| p.modules.iter())
    }
}

/// Scheduling policy of a script command (`pri=N[f|r|o]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Unchanged.
    Unchanged,
    /// `f`: FIFO.
    Fifo,
    /// `r`: round-robin.
    RoundRobin,
    /// `o`: other.
    Other,
}

/// An external command of the boot script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct External {
    /// The program as written (a name found along `PATH` at boot, or a path).
    pub program: String,
    /// `argv0=`, if given (otherwise the basename of `program`).
    pub argv0: Option<String>,
    /// Arguments after the program.
    pub args: Vec<String>,
    /// The command's own environment (leading `VAR=val` words).
    pub env: Vec<EnvVar>,
    /// Trailing `&`.
    pub background: bool,
    /// `+session`.
    pub session: bool,
    /// `+debug`.
    pub debug: bool,
    /// `+external` (a built-in name run as a program).
    pub external: bool,
    /// `cpu=N` (`None`: unset or `*`).
    pub cpu: Option<u8>,
    /// `pri=N[f|r|o]`.
    pub priority: Option<(u8, Policy)>,
    /// `sched_aps=partition`.
    pub sched_aps: Option<String>,
}

impl External {
    /// `argv[0]`: the `argv0=` modifier, else the basename of the program.
    pub fn argv0(&self) -> &str {
        self.argv0
            .as_deref()
            .unwrap_or_else(|| self.program.rsplit('/').next().unwrap_or(&self.program))
    }
}

/// A boot script command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScriptKind {
    /// Run a program.
    External(External),
    /// A line of only `VAR=val` words: added to every later command's environment.
    GlobalEnv {
        /// The assignments.
        vars: Vec<EnvVar>,
    },
    /// `waitfor path [timeout]`.
    Waitfor {
        /// Path to wait for.
        path: String,
        /// Timeout in 100 ms checks (default 50).
        checks: u16,
    },
    /// `reopen [path] [timeout]`.
    Reopen {
        /// Path (default `/dev/console`).
        path: String,
        /// Timeout in 100 ms checks (default 50).
        checks: u16,
    },
    /// `display_msg words...`.
    DisplayMsg {
        /// The words joined by single spaces.
        text: String,
    },
    /// `procmgr_symlink target linkpath`.
    ProcmgrSymlink {
        /// What the link points to.
        target: String,
        /// The link's path.
        link: String,
    },
    /// `sched_aps name budget critical`.
    SchedAps {
        /// Partition name (≤ 15 characters).
        name: String,
        /// Budget percent (0..=100), taken from `System`.
        budget: u8,
        /// Critical budget in ms (0..=1000).
        critical_ms: u16,
    },
}

/// A boot script command with the span of the line it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptCommand {
    /// The command.
    #[serde(flatten)]
    pub kind: ScriptKind,
    /// Its line in the buildfile.
    #[serde(skip)]
    pub span: Span,
}

/// What a [`Manifest`] was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Origin {
    /// A buildfile: everything it says is known.
    #[default]
    Buildfile,
    /// An IFS image: what the image does not record (the kernel modules a
    /// bootstrap line linked, host paths, attributes that only steer the
    /// build) is not known.
    Image,
}

/// The resolved image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest {
    /// What it was read from.
    #[serde(skip)]
    pub origin: Origin,
    /// The boot block, for a bootable image.
    pub boot: Option<Boot>,
    /// Image-wide settings.
    pub image: ImageSettings,
    /// The root directory (inode 1, empty path): its mode, owner and time.
    pub root: Entry,
    /// Every directory entry except the root, in buildfile order: entry `i`
    /// gets inode `i + 2` (the root is inode 1).
    pub entries: Vec<Entry>,
    /// The boot script, in order (compiled into the entry whose role is
    /// [`FileRole::Script`]).
    pub script: Vec<ScriptCommand>,
}

impl Manifest {
    /// The entry at a target path (with or without a leading `/`).
    pub fn find(&self, path: &str) -> Option<&Entry> {
        let path = path.trim_start_matches('/');
        self.entries.iter().find(|e| e.path == path)
    }

    /// True for a bootable image.
    pub fn is_bootable(&self) -> bool {
        self.boot.is_some()
    }
}

/// The rule of [`Entry::runs_once`], for an entry still being made.
pub fn runs_once(elf: Option<&ElfInfo>, raw: bool, data_copy: bool) -> bool {
    elf.is_some_and(|e| e.is_image() && e.writable) && !raw && !data_copy
}
