//! Builds the probe guest (`guests/probe`, a separate no_std crate outside
//! the workspace) with a nested cargo, then writes a flat binary of its
//! loadable segments. The paths reach the crate as `VMM_PROBE_ELF` and
//! `VMM_PROBE_BIN`.
//!
//! The result is cached in `<target>/probe/<hash>/`, the hash taken over the
//! probe's sources and build flags: every profile and every tool that runs
//! this script with its own `OUT_DIR` (`cargo build`, `test`, `clippy`,
//! `--release`) shares one build, and the nested cargo runs only when the
//! probe's sources change. It stays a build script (not a test helper)
//! because release binaries (`hvhost run --vm probe`, `vmm-run
//! --print-probe`) name the probe too.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Same flags as guests/probe/.cargo/config.toml. SSE is off: the probe
/// never touches floating point, and leaving the FPU alone keeps it
/// independent of the VMM's FPU/XSAVE set-up (see docs/vmm.md).
const RUSTFLAGS: &str =
    "-Crelocation-model=static\x1f-Cno-redzone=yes\x1f-Ctarget-feature=-sse,-sse2";
const TRIPLE: &str = "x86_64-unknown-linux-gnu";
const BASE: u64 = 0x10_0000;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let probe = manifest.join("../../guests/probe");
    let inputs = inputs(&probe);
    println!("cargo:rerun-if-changed={}", probe.join("src").display());
    for f in &inputs {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let cache = cache_root(&out);
    let dir = cache.join(format!("{:016x}", hash(&probe, &inputs)));
    let (elf_out, bin_out) = (dir.join("probe.elf"), dir.join("probe.bin"));
    if !(elf_out.exists() && bin_out.exists()) {
        let elf = build(&probe, &cache.join("target"));
        let bin = flat(&elf).expect("the probe ELF has loadable segments from 0x100000");
        std::fs::create_dir_all(&dir).expect("creating the probe cache");
        write(&bin_out, &bin);
        write(&elf_out, &elf); // last: its presence says the entry is whole
    }
    println!("cargo:rustc-env=VMM_PROBE_ELF={}", elf_out.display());
    println!("cargo:rustc-env=VMM_PROBE_BIN={}", bin_out.display());
}

/// The files the probe is built from.
fn inputs(probe: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(probe.join("src"))
        .expect("reading guests/probe/src")
        .map(|e| e.expect("a directory entry").path())
        .collect();
    files.sort();
    for f in [
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
        "link.ld",
        ".cargo/config.toml",
    ] {
        files.push(probe.join(f));
    }
    files
}

/// `<target>/probe`: beside the profile directories (`OUT_DIR` is
/// `<target>/[<triple>/]<profile>/build/vmm-*/out`).
fn cache_root(out: &Path) -> PathBuf {
    let build = out
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .expect("OUT_DIR lies in a build directory");
    let profile = build.parent().expect("a profile directory");
    profile.parent().unwrap_or(profile).join("probe")
}

/// FNV-1a over the inputs' names and bytes and the flags.
fn hash(probe: &Path, inputs: &[PathBuf]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: &[u8]| {
        for &x in b.iter().chain(&[0xff]) {
            h = (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(RUSTFLAGS.as_bytes());
    for f in inputs {
        let rel = f.strip_prefix(probe).unwrap_or(f);
        eat(rel.to_string_lossy().as_bytes());
        eat(&std::fs::read(f).unwrap_or_default());
    }
    h
}

/// Run the nested cargo; returns the ELF.
fn build(probe: &Path, target: &Path) -> Vec<u8> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(probe)
        .args(["build", "--release", "--quiet", "--target", TRIPLE])
        .arg("--manifest-path")
        .arg(probe.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target)
        .env("HVHOST_PROBE_DIR", probe)
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env("CARGO_ENCODED_RUSTFLAGS", RUSTFLAGS)
        .status()
        .expect("running cargo for guests/probe");
    assert!(status.success(), "building guests/probe failed");
    let elf_path = target.join(TRIPLE).join("release/probe");
    std::fs::read(&elf_path).expect("reading the probe ELF")
}

fn write(path: &Path, data: &[u8]) {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, data).expect("writing the probe");
    std::fs::rename(&tmp, path).expect("renaming the probe");
}

/// The file bytes of the PT_LOAD segments, placed from [`BASE`].
fn flat(elf: &[u8]) -> Option<Vec<u8>> {
    use object::read::elf::{ElfFile64, ProgramHeader};
    let file = ElfFile64::<object::Endianness>::parse(elf).ok()?;
    let endian = file.endian();
    let mut image = Vec::new();
    for ph in file.elf_program_headers() {
        if ph.p_type(endian) != object::elf::PT_LOAD {
            continue;
        }
        let bytes = ph.data(endian, elf).ok()?;
        let at = usize::try_from(ph.p_paddr(endian).checked_sub(BASE)?).ok()?;
        if image.len() < at + bytes.len() {
            image.resize(at + bytes.len(), 0);
        }
        image[at..at + bytes.len()].copy_from_slice(bytes);
    }
    (!image.is_empty()).then_some(image)
}
