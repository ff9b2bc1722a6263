//! What a device declares about itself: where it lives, which architecture
//! has it, and its options (name, value type, default, doc line, and
//! whether hvhost's VMM applies it). The qvmconf parser validates `vdev`
//! lines against these declarations, the VMM refuses what they mark as not
//! run, the dry run prints options from them and `docs/vdevs.md` is
//! generated from them ([`reference_table`]).

use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// The guest's architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// x86_64 (x86-only vdevs, bzImage or an x86_64 ELF).
    X86_64,
    /// AArch64 (ARM vdevs, an arm64 Image or an AArch64 ELF).
    Aarch64,
}

impl Arch {
    /// `x86_64` or `aarch64`.
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }
}

/// The address space of a location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Space {
    /// Guest-physical memory (MMIO).
    Mem,
    /// x86 I/O ports.
    Io,
}

/// The type of an option's value: how qvmconf reads it and how it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// No value (`legacy`).
    Flag,
    /// A number, shown in decimal (`batch 100`).
    Number,
    /// A number other than 0, shown in decimal (`frequency 14318180`).
    NonZero,
    /// A number in `min..=max` (`threads 4`).
    Bounded {
        /// Smallest accepted.
        min: u64,
        /// Largest accepted.
        max: u64,
    },
    /// One of a few numbers (`version 3`).
    Choice(&'static [u64]),
    /// A bit mask, shown in hex (`peerfeats 0x30`).
    Mask,
    /// A word as written (`peer /dev/vdevpeers/vp0`).
    Text,
    /// `[<|>]path` (`hostdev >-`).
    HostDev,
    /// `index,value` of the RTC's CMOS (index 0–0x7f, a byte).
    RtcReg,
    /// A PCI config-space preset: `Name=value` or `off/size=value`.
    PciReg,
    /// A PCI address `[pci:]bus:dev[.func]`.
    PciAddr,
    /// `enable` or `disable`.
    Toggle,
    /// A MAC address `xx:xx:xx:xx:xx:xx`.
    Mac,
    /// `name,size` (a shared-memory region).
    NamedSize,
    /// A number if the next word is one, else nothing (`its` or `its 0x2f020000`).
    OptionalNumber,
    /// Numbers separated by commas (`msi 0x1000,32,64`).
    Numbers,
}

impl ValueType {
    /// What the value looks like, for the reference table and messages.
    pub fn form(self) -> String {
        match self {
            ValueType::Flag => "(flag)".into(),
            ValueType::Number | ValueType::NonZero => "number".into(),
            ValueType::Bounded { min, max } => format!("number {min}–{max}"),
            ValueType::Choice(c) => c
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(" or "),
            ValueType::Mask => "mask".into(),
            ValueType::Text => "word".into(),
            ValueType::HostDev => "[<|>]path".into(),
            ValueType::RtcReg => "index,value".into(),
            ValueType::PciReg => "Name=value or off/size=value".into(),
            ValueType::PciAddr => "pci:bus:dev[.func]".into(),
            ValueType::Toggle => "enable or disable".into(),
            ValueType::Mac => "xx:xx:xx:xx:xx:xx".into(),
            ValueType::NamedSize => "name,size".into(),
            ValueType::OptionalNumber => "[address]".into(),
            ValueType::Numbers => "n,n,...".into(),
        }
    }
}

/// What writing an option twice does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Once only: a second one is an error (Q0110).
    Once,
    /// The last one written counts.
    Last,
    /// Each one adds a value (`reg`, `create`).
    Many,
}

/// What hvhost's KVM VMM does with an option (or a device).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// It does what qvm does.
    Runs,
    /// Accepted and checked, but the VMM does not act on it.
    Ignored,
    /// The VMM cannot run a VM that has it (a configuration error, V0101 or V0102).
    Refused,
}

impl Applied {
    /// The wording of the reference table.
    pub fn as_str(self) -> &'static str {
        match self {
            Applied::Runs => "runs",
            Applied::Ignored => "accepted, not applied",
            Applied::Refused => "refused",
        }
    }
}

/// One option a device takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptDecl {
    /// The word in the configuration (`hostdev`).
    pub name: &'static str,
    /// Its field in the dry run's JSON (`hostdev`, `batch_us`).
    pub key: &'static str,
    /// Its value.
    pub value: ValueType,
    /// Writing it twice.
    pub repeat: Repeat,
    /// The value when it is not written, as it would be written.
    pub default: Option<&'static str>,
    /// One line on what it does.
    pub doc: &'static str,
    /// What hvhost's VMM does with it.
    pub hvhost: Applied,
}

impl OptDecl {
    /// An option of the given name, type and doc line: the last one written
    /// counts, no default, refused by the VMM. The `const fn` setters below
    /// refine it.
    pub const fn new(name: &'static str, value: ValueType, doc: &'static str) -> OptDecl {
        OptDecl {
            name,
            key: name,
            value,
            repeat: Repeat::Last,
            default: None,
            doc,
            hvhost: Applied::Refused,
        }
    }
    /// With its JSON field name.
    pub const fn key(mut self, key: &'static str) -> OptDecl {
        self.key = key;
        self
    }
    /// With what writing it twice does.
    pub const fn repeat(mut self, r: Repeat) -> OptDecl {
        self.repeat = r;
        self
    }
    /// With a default value.
    pub const fn default(mut self, d: &'static str) -> OptDecl {
        self.default = Some(d);
        self
    }
    /// With what the VMM does with it.
    pub const fn hvhost(mut self, a: Applied) -> OptDecl {
        self.hvhost = a;
        self
    }
}

/// How a device without `loc` is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attachment {
    /// At its default location, or nowhere.
    Fixed,
    /// A PCI device when it has no `loc` (shmem, pci-dummy).
    Pci,
    /// A virtio device: PCI without `loc`, virtio-mmio with it.
    Virtio,
}

/// Everything a device declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceDecl {
    /// The name after `vdev` (`ser8250`).
    pub name: &'static str,
    /// Its tag in the dry run's JSON options (the name, except `pic8259`).
    pub tag: &'static str,
    /// One line on what it is.
    pub doc: &'static str,
    /// The architecture it exists on (None: any).
    pub arch: Option<Arch>,
    /// The space a bare `loc` number is in.
    pub space: Space,
    /// The length of its region when `loc` gives none.
    pub len: u64,
    /// Where it is without `loc`, for devices that have a place.
    pub default_loc: Option<u64>,
    /// An interrupt controller other vdevs name in `intr`.
    pub pic: bool,
    /// PCI or fixed.
    pub attachment: Attachment,
    /// It has no place of its own and no PCI slot: `loc` is required.
    pub needs_loc: bool,
    /// Its own options, besides [`COMMON`].
    pub options: &'static [OptDecl],
}

impl DeviceDecl {
    /// A device of the given name and doc line with no options, in memory
    /// space; refine it with the setters below. (What the VMM does with it
    /// is its registration's: [`crate::VdevKind::hvhost`].)
    pub const fn new(name: &'static str, doc: &'static str) -> DeviceDecl {
        DeviceDecl {
            name,
            tag: name,
            doc,
            arch: None,
            space: Space::Mem,
            len: 0x1000,
            default_loc: None,
            pic: false,
            attachment: Attachment::Fixed,
            needs_loc: false,
            options: &[],
        }
    }
    /// On one architecture only.
    pub const fn arch(mut self, a: Arch) -> DeviceDecl {
        self.arch = Some(a);
        self
    }
    /// In port space, `len` ports, at `port` unless `loc` says otherwise.
    pub const fn ports(mut self, len: u64, port: Option<u64>) -> DeviceDecl {
        self.space = Space::Io;
        self.len = len;
        self.default_loc = port;
        self
    }
    /// In memory space, `len` bytes, at `addr` unless `loc` says otherwise.
    pub const fn memory(mut self, len: u64, addr: Option<u64>) -> DeviceDecl {
        self.space = Space::Mem;
        self.len = len;
        self.default_loc = addr;
        self
    }
    /// An interrupt controller.
    pub const fn pic(mut self) -> DeviceDecl {
        self.pic = true;
        self
    }
    /// How it is attached without `loc`.
    pub const fn attachment(mut self, a: Attachment) -> DeviceDecl {
        self.attachment = a;
        self
    }
    /// `loc` is required.
    pub const fn needs_loc(mut self) -> DeviceDecl {
        self.needs_loc = true;
        self
    }
    /// Its options.
    pub const fn options(mut self, o: &'static [OptDecl]) -> DeviceDecl {
        self.options = o;
        self
    }
    /// Its JSON tag.
    pub const fn tag(mut self, t: &'static str) -> DeviceDecl {
        self.tag = t;
        self
    }

    /// Its own option called `name`.
    pub fn option(&self, name: &str) -> Option<&'static OptDecl> {
        self.options.iter().find(|o| o.name == name)
    }
}

/// Options every vdev takes. qvmconf reads them into the vdev's own fields
/// (`loc`, `intr`, ...); their declarations give the doc lines and what the
/// VMM does with them.
pub const COMMON: &[OptDecl] = &[
    OptDecl::new(
        "loc",
        ValueType::Text,
        "where the device is: `io:PORT`, `mem:ADDR[,LEN]` or `pci:BUS:DEV[.FN]`",
    )
    .repeat(Repeat::Once)
    .hvhost(Applied::Runs),
    OptDecl::new(
        "intr",
        ValueType::Text,
        "the interrupt it raises: `PIC:LINE` (an ioapic's `name`, `8259`), or `apic`",
    )
    .repeat(Repeat::Once)
    .hvhost(Applied::Runs),
    OptDecl::new(
        "name",
        ValueType::Text,
        "its name (`/dev/qvm/SYSTEM/NAME`; what other vdevs' `intr` names a PIC by)",
    )
    .repeat(Repeat::Once)
    .hvhost(Applied::Runs),
    OptDecl::new("log", ValueType::Text, "the device's own logging").hvhost(Applied::Ignored),
    OptDecl::new(
        "hostvector",
        ValueType::Number,
        "the host interrupt vector a PIC uses",
    )
    .hvhost(Applied::Ignored),
    OptDecl::new(
        "delayed",
        ValueType::Text,
        "seconds, or `forever`, before the device is created",
    )
    .hvhost(Applied::Ignored),
    OptDecl::new(
        "sched",
        ValueType::Text,
        "the priority (and policy) of the device's threads",
    )
    .hvhost(Applied::Ignored),
];

/// The names of [`COMMON`].
pub fn common_names() -> impl Iterator<Item = &'static str> {
    COMMON.iter().map(|o| o.name)
}

/// `docs/vdevs.md`: every vdev and option hvhost accepts, with what its VMM
/// does with each, generated from the declarations.
pub fn reference_table(devices: &[crate::VdevKind]) -> String {
    let mut o = String::from(
        "# vdevs\n\n\
         <!-- Generated from the device declarations in crates/vdev (`vdev::VdevKind::ALL`). \
         Do not edit: run `HVHOST_BLESS=1 cargo test -p vdev --test reference` to rewrite it. -->\n\n\
         Every `vdev` hvhost reads, with the options it accepts. `hvhost qvm ... dryrun` and \
         `hvhost check` validate all of them; the last column says what hvhost's KVM VMM \
         (`hvhost qvm` without `dryrun`) does with each:\n\n\
         - **runs**: it does what QNX qvm does;\n\
         - **accepted, not applied**: it is checked, and the VM runs without it;\n\
         - **refused**: a VM with it does not run here (V0101 for a device, V0102 for an option); \
         a dry run reports the same errors.\n\n",
    );
    o.push_str("## Options of every vdev\n\n| option | value | default | what it does | hvhost's VMM |\n|---|---|---|---|---|\n");
    for opt in COMMON {
        row(&mut o, opt);
    }
    o.push_str("\n## Devices\n\n| vdev | architecture | default location | what it is | hvhost's VMM |\n|---|---|---|---|---|\n");
    for k in devices {
        let d = k.decl();
        let _ = writeln!(
            o,
            "| `{}` | {} | {} | {} | {} |",
            d.name,
            d.arch.map_or("any", Arch::as_str),
            location(d),
            d.doc,
            k.hvhost().as_str()
        );
    }
    for d in devices
        .iter()
        .map(|k| k.decl())
        .filter(|d| !d.options.is_empty())
    {
        let _ = writeln!(
            o,
            "\n## `vdev {}`\n\n| option | value | default | what it does | hvhost's VMM |\n|---|---|---|---|---|",
            d.name
        );
        for opt in d.options {
            row(&mut o, opt);
        }
    }
    o
}

fn location(d: &DeviceDecl) -> String {
    let sp = match d.space {
        Space::Io => "io",
        Space::Mem => "mem",
    };
    match (d.default_loc, d.attachment) {
        (Some(at), _) => format!("`{sp}:{at:#x}`, {} {}", d.len, unit(d.space)),
        (None, Attachment::Pci | Attachment::Virtio) => "PCI (allocated) unless `loc`".into(),
        (None, Attachment::Fixed) if d.needs_loc => "`loc` required".into(),
        (None, Attachment::Fixed) => "`loc` (none by default)".into(),
    }
}

fn unit(s: Space) -> &'static str {
    match s {
        Space::Io => "ports",
        Space::Mem => "bytes",
    }
}

fn row(o: &mut String, opt: &OptDecl) {
    let value = match opt.value {
        ValueType::Flag => "(flag)".to_string(),
        v => format!("`{}`", v.form().replace('|', "\\|")),
    };
    let repeat = if opt.repeat == Repeat::Many {
        " (repeatable)"
    } else {
        ""
    };
    let _ = writeln!(
        o,
        "| `{}` | {value}{repeat} | {} | {} | {} |",
        opt.name,
        opt.default.map_or("-".to_string(), |d| format!("`{d}`")),
        opt.doc,
        opt.hvhost.as_str()
    );
}
