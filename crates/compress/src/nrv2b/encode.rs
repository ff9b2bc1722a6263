//! The NRV2B encoder: a hash-chain match finder and a cost-driven lazy parser.
//!
//! Every decision is made on the exact number of bits each choice costs in
//! the NRV2B code (see [`match_bits`]), so a match is taken only when it is
//! cheaper than the literals it replaces, a repeat of the last offset is
//! preferred when it is as long, and the parser looks one position ahead
//! (levels 3 and up) to see whether starting the match one byte later pays.

use super::bits::{BitWriter, gamma_bits};
use super::{BitBuffer, END_GAMMA, FAR_OFFSET, MAX_OFFSET};
use crate::Level;

/// Bits a literal costs: its flag bit and the byte.
const LITERAL_BITS: i64 = 9;

const HASH_BITS: u32 = 16;

/// Search effort for one level.
#[derive(Clone, Copy)]
struct Params {
    /// Candidates visited per position.
    chain: u32,
    /// A match this long is taken at once.
    nice: usize,
    /// Whether to look one position ahead before taking a match.
    lazy: bool,
}

fn params(level: Level) -> Params {
    let (chain, nice) = match level.get() {
        1 => (4, 16),
        2 => (8, 32),
        3 => (16, 32),
        4 => (32, 64),
        5 => (64, 128),
        6 => (128, 256),
        7 => (256, 512),
        8 => (512, 1024),
        9 => (1024, 2048),
        _ => (4096, usize::MAX),
    };
    Params {
        chain,
        nice,
        lazy: level.get() >= 3,
    }
}

/// Appends the NRV2B encoding of `src` to `out`.
pub fn compress(src: &[u8], bits: BitBuffer, level: Level, out: &mut Vec<u8>) {
    out.reserve(src.len() + src.len() / 8 + 16);
    let p = params(level);
    let mut finder = Finder::new(src.len());
    let mut w = BitWriter::new(out, bits);
    let n = src.len();
    let mut last_off: usize = 1;
    let mut i = 0usize;
    let mut pending: Option<Match> = None;
    while i < n {
        let cur = match pending.take() {
            Some(m) => Some(m),
            None => {
                finder.insert_upto(src, i);
                finder.best(src, i, last_off, p)
            }
        };
        let Some(m) = cur else {
            w.bit(1);
            w.byte(src[i]);
            i += 1;
            continue;
        };
        if p.lazy && m.len < p.nice && i + 1 < n {
            finder.insert_upto(src, i + 1);
            if let Some(next) = finder.best(src, i + 1, last_off, p)
                && next.gain > m.gain
            {
                w.bit(1);
                w.byte(src[i]);
                i += 1;
                pending = Some(next);
                continue;
            }
        }
        emit_match(&mut w, m.len, m.off, &mut last_off);
        i += m.len;
    }
    // The end marker: a match code whose offset is 0xffffffff.
    w.bit(0);
    w.gamma(END_GAMMA);
    w.byte(0xff);
    w.finish();
}

fn emit_match(w: &mut BitWriter<'_>, len: usize, off: usize, last_off: &mut usize) {
    w.bit(0);
    if off == *last_off {
        w.gamma(2);
    } else {
        let t = off - 1;
        w.gamma((t >> 8) as u32 + 3);
        w.byte(t as u8);
        *last_off = off;
    }
    let m = (len - 1 - usize::from(off > FAR_OFFSET)) as u32;
    if m <= 3 {
        w.bit(m >> 1);
        w.bit(m);
    } else {
        w.bit(0);
        w.bit(0);
        w.gamma(m - 2);
    }
}

/// The shortest match the code can express at this offset.
#[inline(always)]
fn min_len(off: usize) -> usize {
    if off > FAR_OFFSET { 3 } else { 2 }
}

/// Bits a match of `len` bytes at `off` costs when the last offset was `last_off`.
#[inline(always)]
pub(super) fn match_bits(len: usize, off: usize, last_off: usize) -> u32 {
    let m = (len - 1 - usize::from(off > FAR_OFFSET)) as u32;
    let off_bits = if off == last_off {
        2
    } else {
        gamma_bits(((off - 1) >> 8) as u32 + 3) + 8
    };
    let len_bits = if m <= 3 { 2 } else { 2 + gamma_bits(m - 2) };
    1 + off_bits + len_bits
}

#[derive(Clone, Copy, Debug)]
struct Match {
    len: usize,
    off: usize,
    /// Bits saved against coding the same bytes as literals.
    gain: i64,
}

impl Match {
    fn new(len: usize, off: usize, last_off: usize) -> Match {
        Match {
            len,
            off,
            gain: LITERAL_BITS * len as i64 - i64::from(match_bits(len, off, last_off)),
        }
    }
}

/// Hash chains over 3-byte prefixes, plus the last position of every 2-byte
/// prefix for short near matches. Positions are stored plus one; 0 is empty.
struct Finder {
    head: Vec<u32>,
    prev: Vec<u32>,
    head2: Vec<u32>,
    /// Positions below this are in the tables.
    next: usize,
}

impl Finder {
    fn new(n: usize) -> Finder {
        Finder {
            head: vec![0; 1 << HASH_BITS],
            prev: vec![0; n.min(u32::MAX as usize - 1)],
            head2: vec![0; 1 << 16],
            next: 0,
        }
    }

    #[inline(always)]
    fn insert_upto(&mut self, src: &[u8], upto: usize) {
        let limit = upto.min(self.prev.len());
        while self.next < limit {
            let p = self.next;
            if p + 3 <= src.len() {
                let h = hash3(src, p);
                self.prev[p] = self.head[h];
                self.head[h] = p as u32 + 1;
            }
            if p + 2 <= src.len() {
                self.head2[hash2(src, p)] = p as u32 + 1;
            }
            self.next += 1;
        }
    }

    /// The match at `i` that saves the most bits, if any saves at least one.
    fn best(&self, src: &[u8], i: usize, last_off: usize, p: Params) -> Option<Match> {
        let max = src.len() - i;
        if max < 2 {
            return None;
        }
        let mut best: Option<Match> = None;
        let mut longest = 1usize;
        let consider = |len: usize, off: usize, best: &mut Option<Match>| {
            if len >= min_len(off) {
                let m = Match::new(len, off, last_off);
                if m.gain > 0 && best.is_none_or(|b| m.gain > b.gain) {
                    *best = Some(m);
                }
            }
        };
        if last_off <= i {
            let len = common(src, i - last_off, i, max);
            consider(len, last_off, &mut best);
            longest = longest.max(len);
            if len >= p.nice {
                return best;
            }
        }
        if max >= 3 && i < self.prev.len() {
            let mut cand = self.head[hash3(src, i)];
            let mut steps = p.chain;
            while cand != 0 && steps > 0 && longest < max {
                let pos = cand as usize - 1;
                let off = i - pos;
                if off > MAX_OFFSET {
                    break;
                }
                if src[pos + longest] == src[i + longest] {
                    let len = common(src, pos, i, max);
                    if len > longest {
                        longest = len;
                        consider(len, off, &mut best);
                        if len >= p.nice {
                            break;
                        }
                    }
                }
                cand = self.prev[pos];
                steps -= 1;
            }
        }
        if longest < 3 && i < self.prev.len() {
            let cand = self.head2[hash2(src, i)];
            if cand != 0 {
                let pos = cand as usize - 1;
                let off = i - pos;
                if off <= FAR_OFFSET {
                    // The 2-byte table is exact: these two bytes match.
                    let len = common(src, pos, i, max);
                    consider(len, off, &mut best);
                }
            }
        }
        best
    }
}

#[inline(always)]
fn hash3(src: &[u8], p: usize) -> usize {
    let v = u32::from(src[p]) << 16 | u32::from(src[p + 1]) << 8 | u32::from(src[p + 2]);
    (v.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
}

#[inline(always)]
fn hash2(src: &[u8], p: usize) -> usize {
    usize::from(src[p]) << 8 | usize::from(src[p + 1])
}

/// Length of the common prefix of `src[a..]` and `src[b..]`, at most `max`
/// (`a < b`, `b + max <= src.len()`).
#[inline(always)]
fn common(src: &[u8], a: usize, b: usize, max: usize) -> usize {
    let mut l = 0;
    while l + 8 <= max {
        let x = read_u64(src, a + l) ^ read_u64(src, b + l);
        if x != 0 {
            return l + (x.trailing_zeros() / 8) as usize;
        }
        l += 8;
    }
    while l < max && src[a + l] == src[b + l] {
        l += 1;
    }
    l
}

#[inline(always)]
fn read_u64(src: &[u8], p: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&src[p..p + 8]);
    u64::from_le_bytes(b)
}
