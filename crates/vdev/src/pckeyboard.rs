//! `pckeyboard`: the minimal 8042 keyboard controller a guest needs, mainly
//! to reset the machine (command 0xfe, or clearing bit 0 of the output port
//! through command 0xd1). Data port 0x60, status/command port 0x64 (a `loc`
//! moves the pair: data at `loc`, command at `loc + 4`).

use std::collections::VecDeque;

use crate::decl::{Arch, DeviceDecl};
use crate::{Context, Created, Device, Effect, Error, Range, Space, VdevSpec, io_base};

/// What `pckeyboard` declares.
pub const DECL: DeviceDecl = DeviceDecl::new("pckeyboard", "8042 keyboard controller (reset line)")
    .arch(Arch::X86_64)
    .ports(5, Some(0x60));

/// The controller's state.
#[derive(Default)]
pub struct Pckeyboard {
    out: VecDeque<u8>,
    command_byte: u8,
    pending: Option<u8>,
}

/// Build a `pckeyboard` from its `vdev` line.
pub fn create(spec: &VdevSpec, ctx: &Context) -> Result<Created, Error> {
    Ok(Created::Bus {
        ranges: ranges(spec)?,
        device: device(spec, ctx)?,
    })
}

/// The data port (0x60 or `loc`) and the status/command port 4 above it.
pub(crate) fn ranges(spec: &VdevSpec) -> Result<Vec<Range>, Error> {
    let base = io_base(spec, DECL.default_loc)?;
    if base + 4 > 0xffff {
        return Err(spec.misplaced(format!(
            "ports {base:#x} and {:#x} go beyond 0xffff",
            base + 4
        )));
    }
    Ok(vec![
        Range {
            space: Space::Io,
            base,
            len: 1,
        },
        Range {
            space: Space::Io,
            base: base + 4,
            len: 1,
        },
    ])
}

pub(crate) fn device(_spec: &VdevSpec, _ctx: &Context) -> Result<Box<dyn Device>, Error> {
    Ok(Box::new(Pckeyboard {
        command_byte: 0x45,
        ..Default::default()
    }))
}

impl Device for Pckeyboard {
    fn read(&mut self, range: usize, _offset: u64, data: &mut [u8]) -> Result<(), Error> {
        let v = if range == 0 {
            self.out.pop_front().unwrap_or(0)
        } else {
            // bit 0 output full, bit 2 system flag, bit 4 keyboard unlocked
            0x14 | u8::from(!self.out.is_empty())
        };
        data.fill(0);
        if let Some(d) = data.first_mut() {
            *d = v;
        }
        Ok(())
    }

    fn write(&mut self, range: usize, _offset: u64, data: &[u8]) -> Result<Effect, Error> {
        let v = data.first().copied().unwrap_or(0);
        if range == 0 {
            match self.pending.take() {
                Some(0x60) => self.command_byte = v,
                Some(0xd1) if v & 1 == 0 => return Ok(Effect::Reset),
                Some(_) => {}
                None => {
                    // a keyboard command: acknowledge; reset also reports a passed self-test
                    self.out.push_back(0xfa);
                    if v == 0xff {
                        self.out.push_back(0xaa);
                    }
                }
            }
            return Ok(Effect::None);
        }
        match v {
            0x20 => self.out.push_back(self.command_byte),
            0x60 | 0xd1 | 0xd2 | 0xd3 | 0xd4 => self.pending = Some(v),
            0xaa => self.out.push_back(0x55),
            0xab | 0xa9 => self.out.push_back(0x00),
            0xd0 => self.out.push_back(0x03),
            0xfe => return Ok(Effect::Reset),
            0xf0..=0xff if v & 1 == 0 => return Ok(Effect::Reset),
            _ => {}
        }
        Ok(Effect::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(k: &mut Pckeyboard, v: u8) -> Effect {
        k.write(1, 0, &[v]).expect("write")
    }
    fn data(k: &mut Pckeyboard) -> u8 {
        let mut b = [0u8];
        k.read(0, 0, &mut b).expect("read");
        b[0]
    }
    fn status(k: &mut Pckeyboard) -> u8 {
        let mut b = [0u8];
        k.read(1, 0, &mut b).expect("read");
        b[0]
    }

    #[test]
    fn self_test_command_byte_and_resets() {
        let mut k = Pckeyboard {
            command_byte: 0x45,
            ..Default::default()
        };
        assert_eq!(status(&mut k) & 1, 0);
        cmd(&mut k, 0xaa);
        assert_eq!(status(&mut k) & 1, 1);
        assert_eq!(data(&mut k), 0x55);
        cmd(&mut k, 0x60);
        k.write(0, 0, &[0x61]).expect("write");
        cmd(&mut k, 0x20);
        assert_eq!(data(&mut k), 0x61);
        k.write(0, 0, &[0xff]).expect("keyboard reset");
        assert_eq!((data(&mut k), data(&mut k)), (0xfa, 0xaa));
        assert_eq!(cmd(&mut k, 0xfe), Effect::Reset);
        assert_eq!(cmd(&mut k, 0xff), Effect::None, "0xff pulses no line");
        cmd(&mut k, 0xd1);
        assert_eq!(k.write(0, 0, &[0x03]).expect("write"), Effect::None);
        cmd(&mut k, 0xd1);
        assert_eq!(k.write(0, 0, &[0x02]).expect("write"), Effect::Reset);
    }
}
