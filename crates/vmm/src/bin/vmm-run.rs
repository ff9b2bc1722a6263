//! `vmm-run SPEC.json`: run one VM from a JSON [`vmm::VmSpec`], the VMM's
//! own input format (no qvmconf needed). Exits with qvm's exit codes.
//!
//! `vmm-run --print-probe elf` and `vmm-run --print-probe bin` print the path
//! of the probe guest built with the crate (ELF, flat binary), one path and
//! nothing else, for `load` lines and shell substitution; `--print-probe`
//! alone prints both, one per line, labelled (`elf PATH`, `bin PATH`).

use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.as_slice() {
        // a closed pipe (`| head -1`) is not an error worth reporting
        [flag] if flag == "--print-probe" => {
            let _ = writeln!(
                std::io::stdout(),
                "elf {}\nbin {}",
                vmm::probe::ELF,
                vmm::probe::BIN
            );
            0
        }
        [flag, which] if flag == "--print-probe" => match which.as_str() {
            "elf" | "bin" => {
                let path = if which == "elf" {
                    vmm::probe::ELF
                } else {
                    vmm::probe::BIN
                };
                let _ = writeln!(std::io::stdout(), "{path}");
                0
            }
            other => {
                eprintln!("vmm-run: `--print-probe {other}`: say `elf` or `bin`");
                vmm::ExitCode::Config.code()
            }
        },
        [path] => match std::fs::read(path) {
            Ok(bytes) => match serde_json::from_slice::<vmm::VmSpec>(&bytes) {
                Ok(spec) => vmm::run(&spec, &vmm::RunOptions::default()).code.code(),
                Err(e) => {
                    eprintln!("vmm-run: {path}: {e}");
                    vmm::ExitCode::Config.code()
                }
            },
            Err(e) => {
                eprintln!("vmm-run: {path}: {e}");
                vmm::ExitCode::BeforeStart.code()
            }
        },
        _ => {
            eprintln!("usage: vmm-run SPEC.json | --print-probe [elf|bin]");
            vmm::ExitCode::Config.code()
        }
    };
    let _ = std::io::stdout().flush();
    std::process::exit(i32::from(code));
}
