//! Port-I/O and MMIO buses: sorted, non-overlapping ranges, each leading to
//! a device (and the index of the device's range that was hit).

use std::sync::{Arc, Mutex};

use vdev::Device;

/// A device shared by the buses and the vCPU threads.
pub(crate) type SharedDevice = Arc<Mutex<Box<dyn Device>>>;

struct Entry {
    base: u64,
    len: u64,
    range: usize,
    device: SharedDevice,
    name: String,
}

/// One address space.
#[derive(Default)]
pub(crate) struct Bus {
    entries: Vec<Entry>,
}

/// A bus hit: the device, the index of its range and the offset in it.
pub(crate) struct Hit<'a> {
    /// The device.
    pub device: &'a SharedDevice,
    /// Which of the device's ranges.
    pub range: usize,
    /// Offset from the range's base.
    pub offset: u64,
    /// The vdev's name, for messages.
    pub name: &'a str,
}

impl Bus {
    /// Add a range; fails with the name of the device already there.
    pub(crate) fn insert(
        &mut self,
        base: u64,
        len: u64,
        range: usize,
        device: SharedDevice,
        name: &str,
    ) -> Result<(), String> {
        let end = base
            .checked_add(len)
            .ok_or_else(|| format!("range {base:#x}+{len:#x} overflows"))?;
        if len == 0 {
            return Err(format!("empty range at {base:#x}"));
        }
        if let Some(e) = self
            .entries
            .iter()
            .find(|e| base < e.base + e.len && e.base < end)
        {
            return Err(format!(
                "{base:#x}..{end:#x} overlaps {} at {:#x}..{:#x}",
                e.name,
                e.base,
                e.base + e.len
            ));
        }
        let at = self.entries.partition_point(|e| e.base < base);
        self.entries.insert(
            at,
            Entry {
                base,
                len,
                range,
                device,
                name: name.to_string(),
            },
        );
        Ok(())
    }

    /// Every range: (space, base, length) with `space` given by the caller.
    pub(crate) fn ranges_in(
        &self,
        space: vdev::Space,
    ) -> impl Iterator<Item = (vdev::Space, u64, u64)> + '_ {
        self.entries.iter().map(move |e| (space, e.base, e.len))
    }

    /// The device answering `addr`.
    pub(crate) fn find(&self, addr: u64) -> Option<Hit<'_>> {
        let i = self.entries.partition_point(|e| e.base <= addr);
        let e = self.entries.get(i.checked_sub(1)?)?;
        (addr - e.base < e.len).then(|| Hit {
            device: &e.device,
            range: e.range,
            offset: addr - e.base,
            name: &e.name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vdev::{Effect, Error};

    struct Nop;
    impl Device for Nop {
        fn read(&mut self, _: usize, _: u64, _: &mut [u8]) -> Result<(), Error> {
            Ok(())
        }
        fn write(&mut self, _: usize, _: u64, _: &[u8]) -> Result<Effect, Error> {
            Ok(Effect::None)
        }
    }

    #[test]
    fn finds_and_rejects_overlaps() {
        let d: SharedDevice = Arc::new(Mutex::new(Box::new(Nop)));
        let mut bus = Bus::default();
        bus.insert(0x3f8, 8, 0, d.clone(), "ser8250").unwrap();
        bus.insert(0x60, 1, 0, d.clone(), "kbd").unwrap();
        bus.insert(0x64, 1, 1, d.clone(), "kbd").unwrap();
        assert!(
            bus.insert(0x3fc, 8, 0, d.clone(), "x")
                .unwrap_err()
                .contains("ser8250")
        );
        assert!(bus.insert(0x3f0, 9, 0, d.clone(), "x").is_err());
        bus.insert(0x3f0, 8, 0, d, "y").unwrap();
        assert_eq!(
            bus.find(0x3ff).map(|h| (h.name, h.offset)),
            Some(("ser8250", 7))
        );
        assert_eq!(bus.find(0x64).map(|h| h.range), Some(1));
        assert!(bus.find(0x400).is_none());
        assert!(bus.find(0x61).is_none());
        assert!(bus.find(0).is_none());
    }
}
