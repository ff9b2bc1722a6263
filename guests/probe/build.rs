//! Link the probe as a static, freestanding ELF placed by `link.ld`.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rerun-if-changed=link.ld");
    // Set by crates/vmm/build.rs: a checkout at another path (sharing a
    // target directory) must relink with its own script.
    println!("cargo:rerun-if-env-changed=HVHOST_PROBE_DIR");
    for arg in [
        "-nostartfiles",
        "-nostdlib",
        "-static",
        "-no-pie",
        "-Wl,--build-id=none",
        "-Wl,-n",
    ] {
        println!("cargo:rustc-link-arg={arg}");
    }
    println!("cargo:rustc-link-arg=-Wl,-T,{dir}/link.ld");
}
