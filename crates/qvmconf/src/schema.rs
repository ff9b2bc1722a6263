//! What hvhost knows about each vdev: its name, architecture, default
//! location, and the options it takes.

use crate::config::{Arch, Space, VdevKind};

/// How many values an option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// A flag (`legacy`).
    Flag,
    /// One value (`loc 0x3f8`).
    One,
    /// A number if one follows, else nothing (`its` or `its 0x2f020000`).
    OptionalNumber,
}

/// Options every vdev takes.
pub const COMMON_OPTIONS: &[&str] = &[
    "loc",
    "intr",
    "name",
    "log",
    "hostvector",
    "delayed",
    "sched",
];

/// The top-level options (those that are not a vdev's, cpu's, pass's or reserve's).
pub const TOP_OPTIONS: &[&str] = &[
    "system",
    "ram",
    "rom",
    "cpu",
    "load",
    "cmdline",
    "pass",
    "reserve",
    "vdev",
    "unsupported",
    "tolerance",
    "safety",
    "logger",
    "dump",
    "set",
    "dryrun",
    "acpi",
    "data",
    "fdt",
    "initrd",
];

/// Options of a `cpu`.
pub const CPU_OPTIONS: &[&str] = &["sched", "runmask", "partition", "cluster"];

/// Options of a `pass` or `reserve`.
pub const PASS_OPTIONS: &[&str] = &["loc", "intr"];

const ALL_KINDS: &[VdevKind] = &[
    VdevKind::Pic8259,
    VdevKind::Ioapic,
    VdevKind::Timer8254,
    VdevKind::Mc146818,
    VdevKind::Pckeyboard,
    VdevKind::Hpet,
    VdevKind::PciDummy,
    VdevKind::Ser8250,
    VdevKind::Pl011,
    VdevKind::VirtioConsole,
    VdevKind::VirtioBlk,
    VdevKind::VirtioNet,
    VdevKind::VirtioEntropy,
    VdevKind::Shmem,
    VdevKind::Progress,
    VdevKind::VgpuGvtg,
    VdevKind::Gic,
    VdevKind::WdtIb700,
    VdevKind::WdtSp805,
];

impl VdevKind {
    /// Every vdev hvhost knows.
    pub fn all() -> &'static [VdevKind] {
        ALL_KINDS
    }

    /// The name after `vdev` (`ser8250`).
    pub fn name(self) -> &'static str {
        match self {
            VdevKind::Pic8259 => "8259",
            VdevKind::Ioapic => "ioapic",
            VdevKind::Timer8254 => "timer8254",
            VdevKind::Mc146818 => "mc146818",
            VdevKind::Pckeyboard => "pckeyboard",
            VdevKind::Hpet => "hpet",
            VdevKind::PciDummy => "pci-dummy",
            VdevKind::Ser8250 => "ser8250",
            VdevKind::Pl011 => "pl011",
            VdevKind::VirtioConsole => "virtio-console",
            VdevKind::VirtioBlk => "virtio-blk",
            VdevKind::VirtioNet => "virtio-net",
            VdevKind::VirtioEntropy => "virtio-entropy",
            VdevKind::Shmem => "shmem",
            VdevKind::Progress => "progress",
            VdevKind::VgpuGvtg => "vgpu-gvtg",
            VdevKind::Gic => "gic",
            VdevKind::WdtIb700 => "wdt-ib700",
            VdevKind::WdtSp805 => "wdt-sp805",
        }
    }

    /// The kind for a name as written after `vdev`: `foo`, `vdev-foo` and
    /// `vdev-foo.so` all name `foo`.
    pub fn from_written(written: &str) -> Option<VdevKind> {
        let base = base_name(written);
        ALL_KINDS.iter().copied().find(|k| k.name() == base)
    }

    /// The architecture the device exists on (None: any).
    pub fn arch(self) -> Option<Arch> {
        match self {
            VdevKind::Pic8259
            | VdevKind::Ioapic
            | VdevKind::Timer8254
            | VdevKind::Mc146818
            | VdevKind::Pckeyboard
            | VdevKind::Hpet
            | VdevKind::PciDummy
            | VdevKind::Ser8250
            | VdevKind::VgpuGvtg
            | VdevKind::WdtIb700 => Some(Arch::X86_64),
            VdevKind::Pl011 | VdevKind::Gic | VdevKind::WdtSp805 => Some(Arch::Aarch64),
            _ => None,
        }
    }

    /// True for interrupt controllers other vdevs can name in `intr`.
    pub fn is_pic(self) -> bool {
        matches!(self, VdevKind::Pic8259 | VdevKind::Ioapic | VdevKind::Gic)
    }

    /// True for virtio devices: PCI without `loc`, virtio-mmio with it.
    pub fn is_virtio(self) -> bool {
        matches!(
            self,
            VdevKind::VirtioConsole
                | VdevKind::VirtioBlk
                | VdevKind::VirtioNet
                | VdevKind::VirtioEntropy
        )
    }

    /// True when the device is a PCI device when it has no `loc`.
    pub fn pci_without_loc(self) -> bool {
        self.is_virtio()
            || matches!(
                self,
                VdevKind::Shmem | VdevKind::PciDummy | VdevKind::VgpuGvtg
            )
    }

    /// The space a bare `loc` number is in.
    pub fn default_space(self) -> Space {
        match self {
            VdevKind::Pic8259
            | VdevKind::Timer8254
            | VdevKind::Mc146818
            | VdevKind::Pckeyboard
            | VdevKind::Ser8250
            | VdevKind::WdtIb700
            | VdevKind::Progress => Space::Io,
            _ => Space::Mem,
        }
    }

    /// The length of the device's region when `loc` gives none.
    pub fn region_len(self) -> u64 {
        match self {
            VdevKind::Pic8259 => 2,
            VdevKind::Timer8254 => 4,
            VdevKind::Mc146818 => 2,
            VdevKind::Pckeyboard => 5,
            VdevKind::Ser8250 => 8,
            VdevKind::WdtIb700 => 3,
            VdevKind::Ioapic => 0x1000,
            VdevKind::Hpet => 0x400,
            VdevKind::Pl011 | VdevKind::WdtSp805 | VdevKind::Shmem => 0x1000,
            VdevKind::Gic => 0x1000,
            VdevKind::VirtioConsole
            | VdevKind::VirtioBlk
            | VdevKind::VirtioNet
            | VdevKind::VirtioEntropy => 0x200,
            VdevKind::Progress => 16,
            VdevKind::PciDummy | VdevKind::VgpuGvtg => 0x1000,
        }
    }

    /// The location used when no `loc` is written, for devices that have one.
    pub fn default_loc(self) -> Option<(Space, u64)> {
        match self {
            VdevKind::Timer8254 => Some((Space::Io, 0x40)),
            VdevKind::Mc146818 => Some((Space::Io, 0x70)),
            VdevKind::Pckeyboard => Some((Space::Io, 0x60)),
            VdevKind::Ser8250 => Some((Space::Io, 0x3f8)),
            VdevKind::WdtIb700 => Some((Space::Io, 0x441)),
            VdevKind::Progress => Some((Space::Io, 0xef0)),
            VdevKind::Ioapic => Some((Space::Mem, 0xfec0_0000)),
            VdevKind::Hpet => Some((Space::Mem, 0xfed0_0000)),
            VdevKind::Gic => None,
            _ => None,
        }
    }

    /// The device's own options (besides [`COMMON_OPTIONS`]) and their arity.
    pub fn options(self) -> &'static [(&'static str, Arity)] {
        use Arity::*;
        match self {
            VdevKind::Pic8259
            | VdevKind::Ioapic
            | VdevKind::Timer8254
            | VdevKind::Pckeyboard
            | VdevKind::Progress
            | VdevKind::VgpuGvtg
            | VdevKind::WdtIb700
            | VdevKind::WdtSp805 => &[],
            VdevKind::Mc146818 => &[("reg", One)],
            VdevKind::Hpet => &[("frequency", One), ("legacy-free", Flag)],
            VdevKind::PciDummy => &[("reg", One), ("clone", One)],
            VdevKind::Ser8250 | VdevKind::Pl011 => &[("hostdev", One), ("batch", One)],
            VdevKind::VirtioConsole => &[("hostdev", One), ("legacy", Flag)],
            VdevKind::VirtioBlk => &[
                ("hostdev", One),
                ("legacy", Flag),
                ("dio", One),
                ("threads", One),
            ],
            VdevKind::VirtioNet => &[
                ("mac", One),
                ("peer", One),
                ("peerfeats", One),
                ("legacy", Flag),
            ],
            VdevKind::VirtioEntropy => &[("legacy", Flag)],
            VdevKind::Shmem => &[("create", One), ("allow", One), ("deny", One)],
            VdevKind::Gic => &[
                ("version", One),
                ("gicc", OptionalNumber),
                ("gicr", OptionalNumber),
                ("its", OptionalNumber),
                ("msi", One),
            ],
        }
    }
}

/// `vdev-foo.so` → `foo`, `vdev-foo` → `foo`, `foo` → `foo`.
pub fn base_name(written: &str) -> &str {
    let s = written.rsplit('/').next().unwrap_or(written);
    let s = s.strip_suffix(".so").unwrap_or(s);
    s.strip_prefix("vdev-").unwrap_or(s)
}

/// The closest of `candidates` to `word`, if it is close enough to be a
/// likely typo (edit distance, counting a swap of two neighbours as one
/// edit, at most a quarter of the length, at least 1).
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 4).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal-string-alignment distance (case-insensitive; inputs are cut at 64
/// characters: option names are short).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(64).map(|c| c.to_ascii_lowercase()).collect();
    let b: Vec<char> = b.chars().take(64).map(|c| c.to_ascii_lowercase()).collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_forms_name_the_same_vdev() {
        for w in ["ser8250", "vdev-ser8250", "vdev-ser8250.so"] {
            assert_eq!(VdevKind::from_written(w), Some(VdevKind::Ser8250), "{w}");
        }
        assert_eq!(
            VdevKind::from_written("vdev-8259.so"),
            Some(VdevKind::Pic8259)
        );
        assert_eq!(VdevKind::from_written("ser825"), None);
    }

    #[test]
    fn suggestions_are_close_words_only() {
        assert_eq!(
            did_you_mean("ser8205", ["ser8250", "pl011"]),
            Some("ser8250")
        );
        assert_eq!(did_you_mean("hostdv", ["hostdev", "loc"]), Some("hostdev"));
        assert_eq!(did_you_mean("zzzzzz", ["hostdev", "loc"]), None);
    }
}
