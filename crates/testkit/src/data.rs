//! Deterministic test data shared by the tests and the benchmarks.
//!
//! Everything is generated from a seed with a small xorshift generator, so
//! the same bytes come out on every machine and in every release.

/// xorshift64* (Vigna): small, fast and good enough for test data.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value, 0 included).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (which must not be 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Append `n` random bytes to `out`.
    pub fn fill(&mut self, out: &mut Vec<u8>, n: usize) {
        for _ in 0..n {
            out.push(self.next_u64() as u8);
        }
    }
}

const WORDS: &[&str] = &[
    "the",
    "image",
    "file",
    "system",
    "startup",
    "kernel",
    "procnto",
    "boot",
    "script",
    "header",
    "trailer",
    "checksum",
    "offset",
    "size",
    "directory",
    "entry",
    "inode",
    "mode",
    "uid",
    "gid",
    "mtime",
    "path",
    "symlink",
    "device",
    "fifo",
    "virtual",
    "physical",
    "compress",
    "block",
    "driver",
    "serial",
    "console",
    "qvm",
    "guest",
    "host",
    "memory",
    "interrupt",
    "vcpu",
    "pass",
    "through",
    "config",
    "and",
    "of",
    "to",
    "in",
    "is",
    "for",
    "with",
    "on",
    "as",
    "by",
    "that",
    "this",
    "be",
    "are",
    "from",
    "or",
    "an",
    "which",
    "when",
    "not",
    "a",
    "it",
    "at",
    "if",
    "all",
    "devc-ser8250",
    "io-pkt-v6-hc",
    "/proc/boot",
    "/dev/ser1",
    "LD_LIBRARY_PATH",
    "PATH",
    "0x1000",
    "waitfor",
    "reopen",
    "display_msg",
    "slogger2",
    "pipe",
    "libc.so.5",
    "ldqnx-64.so.2",
    "[+script]",
    "perms=0755",
    "uid=0",
    "gid=0",
    "type=link",
    "virtual=x86_64,multiboot",
    "startup-x86",
    "-D8250",
];

/// English-like text with tool names, paths and numbers, in lines.
pub fn text(n: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng::new(seed);
    let mut out = Vec::with_capacity(n + 32);
    let mut col = 0;
    while out.len() < n {
        let w = WORDS[r.below(WORDS.len())];
        out.extend_from_slice(w.as_bytes());
        col += w.len() + 1;
        match r.below(16) {
            0 => out.extend_from_slice(b", "),
            1 if col > 40 => {
                out.extend_from_slice(b".\n");
                col = 0;
            }
            2 => out.extend_from_slice(format!(" {} ", r.below(100_000)).as_bytes()),
            _ => out.push(b' '),
        }
        if col > 72 {
            out.push(b'\n');
            col = 0;
        }
    }
    out.truncate(n);
    out
}

/// Bytes shaped like an executable: an ELF-ish header, machine code built
/// from a few hundred recurring instruction sequences with varying
/// immediates, string and symbol tables, relocation-like tables of rising
/// addresses, and zero padding to page boundaries.
pub fn elf_like(n: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng::new(seed);
    let mut out = Vec::with_capacity(n + 4096);
    out.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0\x01\0\0\0");
    out.resize(64, 0);
    // A pool of instruction sequences, shared by the whole "program".
    let mut seqs: Vec<Vec<u8>> = Vec::new();
    for _ in 0..300 {
        let len = 2 + r.below(12);
        let mut s = Vec::new();
        for _ in 0..len {
            // Opcode-like bytes are skewed towards a few common values.
            let b = match r.below(8) {
                0 => 0x48,
                1 => 0x89,
                2 => 0x8b,
                3 => 0xe8,
                4 => 0x0f,
                _ => r.next_u64() as u8,
            };
            s.push(b);
        }
        seqs.push(s);
    }
    let mut addr: u64 = 0x40_1000;
    while out.len() < n {
        match r.below(10) {
            0..=5 => {
                // Code: sequences with 32-bit immediates now and then.
                for _ in 0..200 + r.below(2000) {
                    let s = &seqs[r.below(seqs.len()).min(r.below(seqs.len()))];
                    out.extend_from_slice(s);
                    if r.below(3) == 0 {
                        let imm = (r.below(4096) as u32).to_le_bytes();
                        out.extend_from_slice(&imm);
                    }
                }
            }
            6 => {
                // String table: symbol names and paths.
                for _ in 0..50 + r.below(300) {
                    let a = WORDS[r.below(WORDS.len())];
                    let b = WORDS[r.below(WORDS.len())];
                    out.extend_from_slice(format!("_{a}_{b}").as_bytes());
                    out.push(0);
                }
            }
            7 => {
                // Relocations / symbol table: rising addresses, small types.
                for _ in 0..100 + r.below(500) {
                    addr += 8 * (1 + r.below(6) as u64);
                    out.extend_from_slice(&addr.to_le_bytes());
                    out.extend_from_slice(&(r.below(40) as u64).to_le_bytes());
                }
            }
            8 => {
                // Data: mostly small integers.
                for _ in 0..200 + r.below(1000) {
                    out.extend_from_slice(&(r.below(300) as u32).to_le_bytes());
                }
            }
            _ => {
                // Zero padding to the next 4 KiB page.
                let pad = (4096 - out.len() % 4096) % 4096;
                out.resize(out.len() + pad, 0);
            }
        }
    }
    out.truncate(n);
    out
}

/// A realistic image payload: files of 1-256 KiB, mostly executables, some
/// text (scripts, configuration), a few already-compressed (random) files
/// and some zero-filled ones.
pub fn image_like(n: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng::new(seed);
    let mut out = Vec::with_capacity(n + 1024);
    let mut file = 0u64;
    while out.len() < n {
        let len = 1024 + r.below(256 * 1024);
        file += 1;
        match r.below(20) {
            0..=11 => out.extend_from_slice(&elf_like(len, seed ^ file)),
            12..=16 => out.extend_from_slice(&text(len, seed ^ file)),
            17 | 18 => r.fill(&mut out, len / 4),
            _ => out.resize(out.len() + len / 2, 0),
        }
    }
    out.truncate(n);
    out
}

/// `n` random (incompressible) bytes.
pub fn random(n: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng::new(seed);
    let mut out = Vec::with_capacity(n);
    r.fill(&mut out, n);
    out
}

/// Inputs of many shapes, each with a name for failure messages.
pub fn shapes() -> Vec<(String, Vec<u8>)> {
    const K: usize = 1024;
    let mut v: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), Vec::new()),
        ("one byte".into(), vec![0x5a]),
        ("two bytes".into(), vec![1, 2]),
        ("three equal bytes".into(), vec![7, 7, 7]),
        ("zeros 1 MiB".into(), vec![0; 1024 * K]),
        ("random 200 KiB".into(), random(200 * K, 1)),
        ("text 300 KiB".into(), text(300 * K, 2)),
        ("elf 500 KiB".into(), elf_like(500 * K, 3)),
        ("period 3".into(), b"abc".repeat(40_000)),
        (
            "period 3331 (beyond 0xd00)".into(),
            random(3331, 4).repeat(30),
        ),
        ("far repeats".into(), {
            let block = text(50 * K, 5);
            let mut v = block.clone();
            v.extend_from_slice(&random(10 * K, 6));
            v.extend_from_slice(&block);
            v
        }),
    ];
    for size in [
        64 * K - 1,
        64 * K,
        64 * K + 1,
        128 * K - 1,
        128 * K,
        128 * K + 1,
    ] {
        v.push((format!("text {size}"), text(size, size as u64)));
        v.push((format!("random {size}"), random(size, size as u64)));
    }
    v.push(("image 3 MiB".into(), image_like(3 * 1024 * K, 7)));
    v
}

/// Splits a framed LZO/UCL stream into its blocks (without their lengths),
/// checking that the end marker is the last thing in it.
pub fn frames(stream: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let len = usize::from(u16::from_be_bytes([stream[pos], stream[pos + 1]]));
        pos += 2;
        if len == 0 {
            assert_eq!(pos, stream.len(), "bytes after the end marker");
            return out;
        }
        out.push(&stream[pos..pos + len]);
        pos += len;
    }
}
