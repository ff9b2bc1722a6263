//! The checksum of spec §5: the region as u32 words in the target's byte
//! order sums to zero, trailer included.

use crate::endian::Endian;

/// Sum of the u32 words of `region` (whose length should be a multiple of
/// 4; a short last word is zero-padded).
pub fn sum_words(region: &[u8], e: Endian) -> u32 {
    let mut c = Checksum::new(e);
    c.update(region);
    c.finish_sum()
}

/// The checksum word to store after `region` so that the whole sums to zero.
pub fn cksum(region: &[u8], e: Endian) -> u32 {
    sum_words(region, e).wrapping_neg()
}

/// A running word sum over bytes fed in arbitrary pieces.
#[derive(Debug, Clone)]
pub struct Checksum {
    e: Endian,
    sum: u32,
    partial: [u8; 4],
    have: usize,
}

impl Checksum {
    /// A new, empty sum.
    pub fn new(e: Endian) -> Checksum {
        Checksum {
            e,
            sum: 0,
            partial: [0; 4],
            have: 0,
        }
    }

    /// Adds `data`, continuing at the current offset.
    pub fn update(&mut self, mut data: &[u8]) {
        if self.have > 0 {
            let take = (4 - self.have).min(data.len());
            self.partial[self.have..self.have + take].copy_from_slice(&data[..take]);
            self.have += take;
            data = &data[take..];
            if self.have < 4 {
                return;
            }
            self.sum = self.sum.wrapping_add(self.e.u32(self.partial));
            self.have = 0;
        }
        let words = data.chunks_exact(4);
        let rest = words.remainder();
        let mut s = self.sum;
        match self.e {
            Endian::Little => {
                for w in words {
                    s = s.wrapping_add(u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
                }
            }
            Endian::Big => {
                for w in words {
                    s = s.wrapping_add(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
                }
            }
        }
        self.sum = s;
        self.partial = [0; 4];
        self.partial[..rest.len()].copy_from_slice(rest);
        self.have = rest.len();
    }

    /// The sum so far (a pending partial word counts zero-padded).
    pub fn finish_sum(&self) -> u32 {
        if self.have > 0 {
            let mut w = [0u8; 4];
            w[..self.have].copy_from_slice(&self.partial[..self.have]);
            self.sum.wrapping_add(self.e.u32(w))
        } else {
            self.sum
        }
    }

    /// The checksum word that makes the sum zero.
    pub fn cksum(&self) -> u32 {
        self.finish_sum().wrapping_neg()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_sum_as_the_whole() {
        let data: Vec<u8> = (0..1003u32).map(|i| (i * 7 + 3) as u8).collect();
        for e in [Endian::Little, Endian::Big] {
            let whole = sum_words(&data, e);
            let mut c = Checksum::new(e);
            for piece in data.chunks(7) {
                c.update(piece);
            }
            assert_eq!(c.finish_sum(), whole);
        }
    }

    #[test]
    fn trailer_makes_the_region_sum_to_zero() {
        let mut data = b"imagefs\x04some data..!".to_vec();
        let ck = cksum(&data, Endian::Big);
        data.extend_from_slice(&ck.to_be_bytes());
        assert_eq!(sum_words(&data, Endian::Big), 0);
        assert_ne!(sum_words(&data, Endian::Little), 0);
    }
}
