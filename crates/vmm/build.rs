//! Builds the probe guest (`guests/probe`, a separate no_std crate outside
//! the workspace) with a nested cargo and its own target directory, then
//! writes a flat binary of its loadable segment. The paths reach the crate
//! as `VMM_PROBE_ELF` and `VMM_PROBE_BIN`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let probe = manifest.join("../../guests/probe");
    for f in [
        "src",
        "Cargo.toml",
        "build.rs",
        "link.ld",
        ".cargo/config.toml",
    ] {
        println!("cargo:rerun-if-changed={}", probe.join(f).display());
    }
    let target = out.join("probe-target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&probe)
        .args([
            "build",
            "--release",
            "--quiet",
            "--target",
            "x86_64-unknown-linux-gnu",
            "--manifest-path",
        ])
        .arg(probe.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .env("HVHOST_PROBE_DIR", &probe)
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        // Same flags as guests/probe/.cargo/config.toml. SSE is off: the
        // probe never touches floating point, and leaving the FPU alone keeps
        // it independent of the VMM's FPU/XSAVE set-up (see docs/vmm.md).
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            "-Crelocation-model=static\x1f-Cno-redzone=yes\x1f-Ctarget-feature=-sse,-sse2",
        )
        .status()
        .expect("running cargo for guests/probe");
    assert!(status.success(), "building guests/probe failed");
    let elf_path = target.join("x86_64-unknown-linux-gnu/release/probe");
    let elf = std::fs::read(&elf_path).expect("reading the probe ELF");
    let bin = flat(&elf).expect("the probe ELF has one loadable segment at 0x100000");
    let elf_out = out.join("probe.elf");
    let bin_out = out.join("probe.bin");
    write(&elf_out, &elf);
    write(&bin_out, &bin);
    println!("cargo:rustc-env=VMM_PROBE_ELF={}", elf_out.display());
    println!("cargo:rustc-env=VMM_PROBE_BIN={}", bin_out.display());
}

fn write(path: &Path, data: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data).expect("writing the probe");
    std::fs::rename(&tmp, path).expect("renaming the probe");
}

fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?))
}
fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
}
fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?))
}

/// The file bytes of the PT_LOAD segments, placed from 0x100000.
fn flat(elf: &[u8]) -> Option<Vec<u8>> {
    let phoff = u64_at(elf, 32)? as usize;
    let phnum = u16_at(elf, 56)? as usize;
    let mut image = Vec::new();
    for i in 0..phnum {
        let p = phoff + i * 56;
        if u32_at(elf, p)? != 1 {
            continue;
        }
        let off = u64_at(elf, p + 8)? as usize;
        let paddr = u64_at(elf, p + 24)?;
        let filesz = u64_at(elf, p + 32)? as usize;
        let at = paddr.checked_sub(0x10_0000)? as usize;
        if image.len() < at + filesz {
            image.resize(at + filesz, 0);
        }
        image[at..at + filesz].copy_from_slice(elf.get(off..off + filesz)?);
    }
    (!image.is_empty()).then_some(image)
}
