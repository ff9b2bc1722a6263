//! `progress`: a boot-progress device through which a guest reports
//! milestones; the VMM logs each one (level `info`) with the time since the
//! VMM started. It also carries the power button and a power-off command.
//!
//! Registers (offsets from `loc`; default `io:0xef0`, 16 ports; a `mem:`
//! `loc` gives the same layout in MMIO). Accesses of any width; values are
//! little-endian. A shorter `loc` exposes only the registers that fit:
//! `loc io:0x80,1` is a POST-code port where each byte written is a milestone.
//!
//! | offset | access | meaning |
//! |---:|---|---|
//! | 0x0 | write | milestone number: logs `progress: milestone N` |
//! | 0x4 | write (bytes) | message text; a newline or NUL ends it and logs `progress: TEXT` (a line longer than 256 bytes is logged in pieces) |
//! | 0x8 | read | status: bit 0 = the power button was pressed |
//! | 0x8 | write | command: 1 = power off (the VM ends, exit 0), 2 = reset |
//! | 0xc | read | identification `0x53475250` (`"PRGS"`) |

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::decl::DeviceDecl;
use crate::{
    Context, Created, Device, Effect, Error, Loc, Logger, Range, Space, VdevSpec, le_value, put_le,
};

/// What `progress` declares.
pub const DECL: DeviceDecl = DeviceDecl::new(
    "progress",
    "boot-progress milestones, power button and power-off",
)
.ports(16, Some(DEFAULT_PORT));

/// Default port base.
pub const DEFAULT_PORT: u64 = 0xef0;
/// Value of the identification register.
pub const ID: u32 = 0x5347_5250;
const MAX_LINE: usize = 256;

/// The progress device.
pub struct Progress {
    logger: Logger,
    line: Vec<u8>,
    power_button: Arc<AtomicBool>,
}

/// Build a `progress` device from its `vdev` line.
pub fn create(spec: &VdevSpec, ctx: &Context) -> Result<Created, Error> {
    Ok(Created::Bus {
        ranges: ranges(spec)?,
        device: device(spec, ctx)?,
    })
}

/// `loc io:0xef0` by default, 16 bytes; a shorter `loc` maps fewer registers.
pub(crate) fn ranges(spec: &VdevSpec) -> Result<Vec<Range>, Error> {
    let range = match spec.loc {
        None => Range {
            space: Space::Io,
            base: DEFAULT_PORT,
            len: 16,
        },
        Some(Loc { space, base, len }) => {
            let len = len.unwrap_or(16);
            if len == 0 || len > 16 {
                return Err(spec.bad(format!(
                    "`loc` length {len}: the progress device has 1 to 16 bytes"
                )));
            }
            if space == Space::Io && base + len > 0x1_0000 {
                return Err(spec.misplaced(format!("ports {base:#x}+{len} go beyond 0xffff")));
            }
            Range { space, base, len }
        }
    };
    Ok(vec![range])
}

pub(crate) fn device(_spec: &VdevSpec, ctx: &Context) -> Result<Box<dyn Device>, Error> {
    Ok(Box::new(Progress {
        logger: ctx.logger.clone(),
        line: Vec::new(),
        power_button: ctx.power_button.clone(),
    }))
}

impl Progress {
    fn flush_line(&mut self) {
        let text = String::from_utf8_lossy(&self.line).into_owned();
        self.logger
            .info(format_args!("progress: {}", text.trim_end_matches('\r')));
        self.line.clear();
    }
}

impl Device for Progress {
    fn read(&mut self, _range: usize, offset: u64, data: &mut [u8]) -> Result<(), Error> {
        let v = match offset & !3 {
            0x8 => u64::from(self.power_button.load(Ordering::SeqCst)),
            0xc => u64::from(ID),
            _ => 0,
        };
        put_le(data, v >> ((offset & 3) * 8));
        Ok(())
    }

    fn write(&mut self, _range: usize, offset: u64, data: &[u8]) -> Result<Effect, Error> {
        let v = le_value(data);
        match offset {
            0x0 => self.logger.info(format_args!("progress: milestone {v}")),
            0x4..=0x7 => {
                for &b in data {
                    if b == b'\n' || b == 0 {
                        self.flush_line();
                    } else {
                        self.line.push(b);
                        if self.line.len() >= MAX_LINE {
                            self.flush_line();
                        }
                    }
                }
            }
            0x8 => match v {
                1 => return Ok(Effect::PowerOff),
                2 => return Ok(Effect::Reset),
                _ => self
                    .logger
                    .warn(format_args!("progress: unknown command {v}")),
            },
            _ => {}
        }
        Ok(Effect::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers() {
        let power = Arc::new(AtomicBool::new(false));
        let logger = Logger::new(
            &crate::LoggerSpec {
                filters: vec![],
                dest: crate::Dest::None,
            },
            "t",
            std::time::Instant::now(),
        );
        let mut p = Progress {
            logger,
            line: Vec::new(),
            power_button: power.clone(),
        };
        let mut b = [0u8; 4];
        p.read(0, 0xc, &mut b).expect("read");
        assert_eq!(u32::from_le_bytes(b), ID);
        let mut one = [0u8; 1];
        p.read(0, 0xd, &mut one).expect("read");
        assert_eq!(one[0], b'R');
        p.read(0, 0x8, &mut b).expect("read");
        assert_eq!(b, [0; 4]);
        power.store(true, Ordering::SeqCst);
        p.read(0, 0x8, &mut b).expect("read");
        assert_eq!(b, [1, 0, 0, 0]);
        for c in b"abc" {
            p.write(0, 4, &[*c]).expect("write");
        }
        assert_eq!(p.line, b"abc");
        p.write(0, 4, b"\n").expect("write");
        assert!(p.line.is_empty());
        p.write(0, 4, &[b'x'; 300]).expect("write");
        assert_eq!(
            p.line.len(),
            300 - MAX_LINE,
            "long lines are logged in pieces"
        );
        assert_eq!(
            p.write(0, 8, &1u32.to_le_bytes()).expect("write"),
            Effect::PowerOff
        );
        assert_eq!(
            p.write(0, 8, &2u32.to_le_bytes()).expect("write"),
            Effect::Reset
        );
        assert_eq!(
            p.write(0, 8, &7u32.to_le_bytes()).expect("write"),
            Effect::None
        );
    }

    #[test]
    fn loc_lengths() {
        let ctx = crate::Context::new(Logger::new(
            &Default::default(),
            "t",
            std::time::Instant::now(),
        ))
        .expect("context");
        let spec = |base, len| VdevSpec {
            loc: Some(Loc {
                space: Space::Io,
                base,
                len,
            }),
            ..VdevSpec::new(crate::VdevKind::Progress)
        };
        let Ok(Created::Bus { ranges, .. }) = create(&spec(0x80, Some(1)), &ctx) else {
            panic!("POST-code port refused")
        };
        assert_eq!(
            ranges,
            vec![Range {
                space: Space::Io,
                base: 0x80,
                len: 1
            }]
        );
        let Ok(Created::Bus { ranges, .. }) = create(&spec(0xef0, None), &ctx) else {
            panic!("default length refused")
        };
        assert_eq!(ranges[0].len, 16);
        for bad in [
            spec(0x80, Some(0)),
            spec(0x80, Some(17)),
            spec(0xfffc, Some(8)),
        ] {
            assert!(create(&bad, &ctx).is_err_and(|e| e.is_config()), "{bad:?}");
        }
    }
}
