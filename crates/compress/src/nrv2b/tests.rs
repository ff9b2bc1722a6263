//! Known-answer tests for the NRV2B bit stream, worked out by hand.
//!
//! Notation: bits are numbered in the order they are written, from 1. With
//! the byte-wide bit buffer, bit 1 reserves a byte at the current end of the
//! output and fills it from the top bit down; bit 9 reserves the next byte
//! at the *then* current end, so literal and offset bytes written in between
//! sit between the two bit bytes. Every stream below was also checked with
//! UCL 1.03's `ucl_nrv2b_decompress_safe_8` (and, for the empty block,
//! "aaaa" and "abcabc", `ucl_nrv2b_99_compress` writes the same bytes).

use super::*;
use crate::{BlockError, Level};

fn encode(data: &[u8], bits: BitBuffer) -> Vec<u8> {
    let mut out = Vec::new();
    compress(data, bits, Level::DEFAULT, &mut out);
    out
}

fn decode(stream: &[u8], bits: BitBuffer, limit: usize) -> Result<Vec<u8>, BlockError> {
    let mut out = Vec::new();
    decompress(stream, bits, limit, &mut out).map(|()| out)
}

fn known_answer(data: &[u8], bits: BitBuffer, stream: &[u8]) {
    assert_eq!(encode(data, bits), stream, "encoding {data:?}");
    assert_eq!(decode(stream, bits, data.len()).as_deref(), Ok(data));
}

/// The end marker is a match (flag 0) whose gamma value is 0x1000002, then
/// the byte 0xff. gamma(0x1000002): the 24 bits below its top bit are
/// 22 zeros, 1, 0; each is followed by a flag, 1 only after the last. So the
/// bits are: 0 (match), 22 × (0,0), (1,0), (0,1) = 45 zeros, 1, 0, 0, 1.
/// Bits 1-40 fill five zero bytes; bits 41-48 = 00000100 = 0x04; bit 49 = 1
/// gives 0x80; then the byte 0xff.
#[test]
fn empty_block_is_the_end_marker() {
    known_answer(b"", BitBuffer::Byte, &[0, 0, 0, 0, 0, 0x04, 0x80, 0xff]);
}

/// A literal: bit 1 = 1 (reserving byte 0), then 'a' at byte 1; the end
/// marker's 49 bits follow as bits 2-50: bit 47 = 1 and bit 50 = 1.
/// Byte 0 = 1000_0000, bytes 2-5 (bits 9-40) zero, byte 6 (bits 41-48) =
/// 0000_0010, byte 7 (bits 49-56) = 0100_0000, then 0xff.
#[test]
fn one_literal() {
    known_answer(
        b"a",
        BitBuffer::Byte,
        &[0x80, b'a', 0, 0, 0, 0, 0x02, 0x40, 0xff],
    );
}

/// 'a', then a match of 3 at the initial last offset (1), coded as a
/// repeat: flag 0, gamma(2) = (0,1), length m = 3 - 1 = 2 as bits 1,0.
/// Bits 1-6: 1 | 0 | 0 1 | 1 0, then the end marker from bit 7 (its 1 bits
/// land on bits 52 and 55). Byte 0 = 1001_1000 = 0x98; 'a'; bytes 2-6 zero;
/// byte 7 (bits 49-56) = 0001_0010 = 0x12; 0xff.
#[test]
fn repeat_of_the_initial_offset() {
    known_answer(
        b"aaaa",
        BitBuffer::Byte,
        &[0x98, b'a', 0, 0, 0, 0, 0, 0x12, 0xff],
    );
}

/// Three literals, then a match at offset 3 of length 3: flag 0; offset
/// 3 - 1 = 2 is high part 0 (gamma(0 + 3) = (1,1)) and low byte 0x02;
/// m = 2 as bits 1,0. Bits 1-8: 1 1 1 | 0 | 1 1 | 1 0 = 0xee, with 'a',
/// 'b', 'c' after byte 0 and the offset byte after them (it is written
/// after bit 6). The end marker starts at bit 9 (reserving byte 5): its 1
/// bits are bits 54 and 57, so bytes 5-9 are zero, byte 10 = 0000_0100,
/// byte 11 = 1000_0000.
#[test]
fn explicit_offset_and_low_byte() {
    known_answer(
        b"abcabc",
        BitBuffer::Byte,
        &[
            0xee, b'a', b'b', b'c', 0x02, 0, 0, 0, 0, 0, 0x04, 0x80, 0xff,
        ],
    );
}

/// 'a' and a repeat match of 100: m = 99 does not fit two bits, so the
/// bits are 0,0 and then gamma(99 - 2 = 97 = 0b110_0001): data bits
/// 1,0,0,0,0,1 each with a flag, the last flag 1. Bits: 1 | 0 | 0 1 | 0 0 |
/// 10 00 00 00 00 11 | end marker from bit 19 (1 bits at 64 and 67).
/// Byte 0 = 1001_0010 = 0x92, 'a', byte 2 (bits 9-16) zero, byte 3
/// (bits 17-24) = 1100_0000, bytes 4-7 zero, byte 8 (bits 57-64) = 0x01,
/// byte 9 (bits 65-72) = 0010_0000, 0xff.
#[test]
fn long_length_uses_the_gamma_code() {
    known_answer(
        &[b'a'; 101],
        BitBuffer::Byte,
        &[0x92, b'a', 0, 0xc0, 0, 0, 0, 0, 0x01, 0x20, 0xff],
    );
}

/// The same literal with a 32-bit buffer: bit 1 reserves 4 bytes; 'a'
/// follows them; bits 2-32 are zero, so word 0 = 0x8000_0000 (stored
/// little-endian 00 00 00 80). Bit 33 reserves the next word after 'a':
/// bits 47 and 50 are its 15th and 18th bits, i.e. word bits 17 and 14:
/// 0x0002_4000, stored 00 40 02 00.
#[test]
fn one_literal_le32() {
    known_answer(
        b"a",
        BitBuffer::Le32,
        &[0, 0, 0, 0x80, b'a', 0x00, 0x40, 0x02, 0x00, 0xff],
    );
}

/// Test-side assembler for byte-buffer streams, written straight from the
/// rule in the module header: a bit needs a bit byte; when the current one
/// is full, a new one is appended at the current end.
enum Item {
    Bit(u8),
    Byte(u8),
}

fn assemble(items: &[Item]) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut slot, mut used) = (0, 8);
    for item in items {
        match *item {
            Item::Bit(b) => {
                if used == 8 {
                    slot = out.len();
                    out.push(0);
                    used = 0;
                }
                out[slot] |= b << (7 - used);
                used += 1;
            }
            Item::Byte(b) => out.push(b),
        }
    }
    out
}

/// Gamma code items for `v`: data bits below the top one, each followed by
/// a flag that is 1 only after the last.
fn gamma(v: u32) -> Vec<Item> {
    let top = 31 - v.leading_zeros();
    (0..top)
        .rev()
        .flat_map(|j| [Item::Bit((v >> j) as u8 & 1), Item::Bit(u8::from(j == 0))])
        .collect()
}

fn end_marker() -> Vec<Item> {
    let mut v = vec![Item::Bit(0)];
    v.extend(gamma(END_GAMMA));
    v.push(Item::Byte(0xff));
    v
}

#[test]
fn the_assembler_agrees_with_the_hand_derived_streams() {
    let mut items = vec![Item::Bit(1), Item::Byte(b'a')];
    items.extend(end_marker());
    assert_eq!(assemble(&items), [0x80, b'a', 0, 0, 0, 0, 0x02, 0x40, 0xff]);
}

/// The M2_MAX_OFFSET rule: beyond offset 0xd00 a match copies one byte more
/// than its length code says, so a far match is at least 3 bytes.
#[test]
fn far_offsets_add_one_to_the_length() {
    // 'x', a repeat match of 0xd00 bytes (m = 0xcff: bits 0,0, gamma(0xcfd)),
    // then a match at `off` with length code m = 1 (bits 0,1).
    let stream = |off: u32| {
        let mut items = vec![Item::Bit(1), Item::Byte(b'x')];
        items.push(Item::Bit(0));
        items.extend(gamma(2));
        items.extend([Item::Bit(0), Item::Bit(0)]);
        items.extend(gamma(0xcff - 2));
        items.push(Item::Bit(0));
        let t = off - 1;
        items.extend(gamma((t >> 8) + 3));
        items.push(Item::Byte(t as u8));
        items.extend([Item::Bit(0), Item::Bit(1)]);
        items.extend(end_marker());
        assemble(&items)
    };
    let near = decode(&stream(0xd00), BitBuffer::Byte, 1 << 16).unwrap();
    assert_eq!(near.len(), 1 + 0xd00 + 2);
    let far = decode(&stream(0xd01), BitBuffer::Byte, 1 << 16).unwrap();
    assert_eq!(far.len(), 1 + 0xd00 + 3);
    assert!(far.iter().all(|&b| b == b'x'));
    // One byte further back than the output reaches: refused.
    assert_eq!(
        decode(&stream(0xd02), BitBuffer::Byte, 1 << 16),
        Err(BlockError::LookbehindOverrun)
    );
    // And the encoder codes a 3-byte match at 0xd01 the same way: it
    // decodes back, and UCL's decoder agrees (see tests/crosscheck.rs).
    let mut data: Vec<u8> = (0..0xd01u32).map(|i| (i * 7 + i / 251) as u8).collect();
    data.extend_from_within(0..3);
    assert_eq!(
        decode(&encode(&data, BitBuffer::Byte), BitBuffer::Byte, data.len()).unwrap(),
        data
    );
}

#[test]
fn hostile_streams_are_rejected() {
    let ok = encode(b"abcabcabc hello hello", BitBuffer::Byte);
    // Every truncation fails (never panics) with "ends before its end marker".
    for n in 0..ok.len() {
        assert_eq!(
            decode(&ok[..n], BitBuffer::Byte, 100),
            Err(BlockError::InputOverrun),
            "cut at {n}"
        );
    }
    // Data after the end marker.
    let mut long = ok.clone();
    long.push(0);
    assert_eq!(
        decode(&long, BitBuffer::Byte, 100),
        Err(BlockError::InputNotConsumed)
    );
    // A match before any output: flag 0, gamma(2) (repeat offset 1), m = 1.
    // Bits 0 0 1 0 1 -> 0010_1000.
    assert_eq!(
        decode(&[0x28], BitBuffer::Byte, 100),
        Err(BlockError::LookbehindOverrun)
    );
    // An offset gamma larger than the end marker's is refused as soon as
    // it has too many bits.
    let mut items = vec![Item::Bit(0)];
    items.extend(gamma(END_GAMMA + 1));
    items.push(Item::Byte(0));
    assert_eq!(
        decode(&assemble(&items), BitBuffer::Byte, 100),
        Err(BlockError::BadCode)
    );
    let mut items = vec![Item::Bit(0)];
    items.extend(gamma(END_GAMMA * 2));
    assert_eq!(
        decode(&assemble(&items), BitBuffer::Byte, 100),
        Err(BlockError::BadCode)
    );
    // End marker with a low byte other than 0xff.
    let mut bad_end = encode(b"", BitBuffer::Byte);
    *bad_end.last_mut().unwrap() = 0xfe;
    assert_eq!(
        decode(&bad_end, BitBuffer::Byte, 100),
        Err(BlockError::BadCode)
    );
    // The output limit holds exactly.
    let zeros = encode(&[0u8; 5000], BitBuffer::Byte);
    assert_eq!(decode(&zeros, BitBuffer::Byte, 5000).unwrap().len(), 5000);
    assert_eq!(
        decode(&zeros, BitBuffer::Byte, 4999),
        Err(BlockError::OutputLimit)
    );
    let lits = encode(b"abcdefgh", BitBuffer::Byte);
    assert_eq!(
        decode(&lits, BitBuffer::Byte, 7),
        Err(BlockError::OutputLimit)
    );
}

#[test]
fn a_huge_length_is_refused_before_any_copy() {
    // 'a', then a repeat match whose length is gamma(0xffffffff) + 2 (about
    // 2^32 bytes): refused by the limit, without allocating it.
    let mut items = vec![Item::Bit(1), Item::Byte(b'a'), Item::Bit(0)];
    items.extend(gamma(2));
    items.extend([Item::Bit(0), Item::Bit(0)]);
    items.extend(gamma(u32::MAX));
    items.extend(end_marker());
    let stream = assemble(&items);
    assert_eq!(
        decode(&stream, BitBuffer::Byte, 1 << 20),
        Err(BlockError::OutputLimit)
    );
}

#[test]
fn matches_cannot_reach_into_earlier_output() {
    // Decoding appends to `out`; the block's window starts at the append point.
    let aaaa = encode(b"aaaa", BitBuffer::Byte);
    let mut out = b"xyz".to_vec();
    decompress(&aaaa, BitBuffer::Byte, 10, &mut out).unwrap();
    assert_eq!(out, b"xyzaaaa");
    // A repeat match as the first code would need earlier output: refused
    // even though `out` is not empty.
    let mut out = b"xyz".to_vec();
    assert_eq!(
        decompress(&[0x28], BitBuffer::Byte, 10, &mut out),
        Err(BlockError::LookbehindOverrun)
    );
}
