//! The NRV2B bit buffer: flag and gamma bits interleaved with whole bytes.
//!
//! The decoder keeps a bit buffer of `W` bytes. When it needs a bit and the
//! buffer is empty it loads the next `W` bytes of the input at the current
//! read position (little-endian when `W` is 4) and hands out its bits from the
//! most significant down. Whole bytes (literals, the low byte of an offset) are
//! read from the input in between, at the read position. The writer mirrors
//! this: the first bit after a full buffer reserves `W` bytes at the current
//! end of the output, and whole bytes are appended after that slot.

use super::BitBuffer;
use crate::BlockError;

/// Reads bits and bytes in the order the encoder wrote them.
pub(super) struct BitReader<'a> {
    src: &'a [u8],
    pos: usize,
    /// Width of the bit buffer in bytes (1 or 4).
    width: usize,
    buf: u32,
    /// Bits left in `buf`.
    left: u32,
}

impl<'a> BitReader<'a> {
    pub(super) fn new(src: &'a [u8], bits: BitBuffer) -> Self {
        BitReader {
            src,
            pos: 0,
            width: bits.width(),
            buf: 0,
            left: 0,
        }
    }

    /// The next bit (0 or 1).
    #[inline(always)]
    pub(super) fn bit(&mut self) -> Result<u32, BlockError> {
        if self.left == 0 {
            self.refill()?;
        }
        self.left -= 1;
        Ok((self.buf >> self.left) & 1)
    }

    #[inline(never)]
    fn refill(&mut self) -> Result<(), BlockError> {
        let end = self.pos + self.width;
        let bytes = self
            .src
            .get(self.pos..end)
            .ok_or(BlockError::InputOverrun)?;
        self.buf = match *bytes {
            [b] => u32::from(b),
            [b0, b1, b2, b3] => u32::from_le_bytes([b0, b1, b2, b3]),
            _ => return Err(BlockError::InputOverrun),
        };
        self.left = (self.width * 8) as u32;
        self.pos = end;
        Ok(())
    }

    /// The next whole byte.
    #[inline(always)]
    pub(super) fn byte(&mut self) -> Result<u8, BlockError> {
        let b = *self.src.get(self.pos).ok_or(BlockError::InputOverrun)?;
        self.pos += 1;
        Ok(b)
    }

    /// An Elias-gamma style number: starting from 1, each step shifts in a
    /// data bit, then a flag bit says whether this was the last step.
    /// Values above `max` are rejected as soon as they are seen.
    #[inline(always)]
    pub(super) fn gamma(&mut self, max: u32) -> Result<u32, BlockError> {
        let mut v: u32 = 1;
        loop {
            v = (v << 1) | self.bit()?;
            if self.bit()? == 1 {
                return if v <= max {
                    Ok(v)
                } else {
                    Err(BlockError::BadCode)
                };
            }
            if v > max / 2 {
                // One more data bit would make it larger than `max`.
                return Err(BlockError::BadCode);
            }
        }
    }

    /// Input bytes consumed so far.
    pub(super) fn position(&self) -> usize {
        self.pos
    }
}

/// Writes bits and bytes so that [`BitReader`] reads them back in order.
pub(super) struct BitWriter<'o> {
    out: &'o mut Vec<u8>,
    width: usize,
    /// Where the current bit buffer lives in `out`.
    slot: usize,
    buf: u32,
    /// Bits already used in `buf`.
    used: u32,
    cap: u32,
}

impl<'o> BitWriter<'o> {
    pub(super) fn new(out: &'o mut Vec<u8>, bits: BitBuffer) -> Self {
        let width = bits.width();
        let cap = (width * 8) as u32;
        BitWriter {
            out,
            width,
            slot: usize::MAX,
            buf: 0,
            used: cap,
            cap,
        }
    }

    #[inline(always)]
    pub(super) fn bit(&mut self, b: u32) {
        if self.used == self.cap {
            self.new_slot();
        }
        self.used += 1;
        self.buf |= (b & 1) << (self.cap - self.used);
    }

    #[inline(never)]
    fn new_slot(&mut self) {
        self.flush();
        self.slot = self.out.len();
        self.out.resize(self.slot + self.width, 0);
        self.buf = 0;
        self.used = 0;
    }

    fn flush(&mut self) {
        if self.slot == usize::MAX {
            return;
        }
        let bytes = self.buf.to_le_bytes();
        self.out[self.slot..self.slot + self.width].copy_from_slice(&bytes[..self.width]);
    }

    #[inline(always)]
    pub(super) fn byte(&mut self, b: u8) {
        self.out.push(b);
    }

    /// Writes `v` (at least 2) in the gamma code that [`BitReader::gamma`] reads.
    #[inline(always)]
    pub(super) fn gamma(&mut self, v: u32) {
        debug_assert!(v >= 2);
        let top = 31 - v.leading_zeros();
        for j in (0..top).rev() {
            self.bit((v >> j) & 1);
            self.bit(u32::from(j == 0));
        }
    }

    /// Stores the last, partly used bit buffer.
    pub(super) fn finish(mut self) {
        self.flush();
    }
}

/// Bits that [`BitWriter::gamma`] spends on `v` (at least 2).
#[inline(always)]
pub(super) fn gamma_bits(v: u32) -> u32 {
    2 * (31 - v.leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_round_trips_and_costs_what_it_says() {
        for bits in [BitBuffer::Byte, BitBuffer::Le32] {
            let values: Vec<u32> = (2..600).chain([0xffff, 0x1000002, u32::MAX]).collect();
            let mut out = Vec::new();
            let mut w = BitWriter::new(&mut out, bits);
            for &v in &values {
                w.gamma(v);
                w.byte(0xa5);
            }
            w.finish();
            let mut r = BitReader::new(&out, bits);
            for &v in &values {
                assert_eq!(r.gamma(u32::MAX).unwrap(), v);
                assert_eq!(r.byte().unwrap(), 0xa5);
            }
            let total: u32 = values.iter().map(|&v| gamma_bits(v)).sum();
            let byte_bits = 8 * values.len() as u32;
            let width_bits = 8 * bits.width() as u32;
            assert_eq!(
                (out.len() as u32 * 8 - byte_bits).div_ceil(width_bits),
                total.div_ceil(width_bits)
            );
        }
    }

    #[test]
    fn gamma_rejects_values_above_the_maximum() {
        // gamma(8) = data 0, flag 0, data 0, flag 0, data 0, flag 1.
        let mut out = Vec::new();
        let mut w = BitWriter::new(&mut out, BitBuffer::Byte);
        w.gamma(8);
        w.finish();
        assert_eq!(out, [0b0000_0100]);
        assert_eq!(BitReader::new(&out, BitBuffer::Byte).gamma(8), Ok(8));
        assert_eq!(
            BitReader::new(&out, BitBuffer::Byte).gamma(7),
            Err(BlockError::BadCode)
        );
    }

    #[test]
    fn le32_buffer_is_little_endian_and_read_from_the_top_bit() {
        let mut out = Vec::new();
        let mut w = BitWriter::new(&mut out, BitBuffer::Le32);
        w.bit(1);
        w.byte(0x42);
        w.bit(0);
        w.bit(1);
        w.finish();
        // Bits 31, 30, 29 of the word are 1, 0, 1: 0xa000_0000, stored LE.
        assert_eq!(out, [0x00, 0x00, 0x00, 0xa0, 0x42]);
        let mut r = BitReader::new(&out, BitBuffer::Le32);
        assert_eq!(r.bit(), Ok(1));
        assert_eq!(r.byte(), Ok(0x42));
        assert_eq!(r.bit(), Ok(0));
        assert_eq!(r.bit(), Ok(1));
    }
}
