//! `vmm-run SPEC.json`: run one VM from a JSON [`vmm::VmSpec`], the VMM's
//! own input format (no qvmconf needed). Exits with qvm's exit codes.
//!
//! `vmm-run --print-probe` prints the paths of the probe guest built with
//! the crate (ELF and flat binary).

use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.as_slice() {
        [flag] if flag == "--print-probe" => {
            // a closed pipe (`| head -1`) is not an error worth reporting
            let _ = writeln!(
                std::io::stdout(),
                "{}\n{}",
                vmm::probe::ELF,
                vmm::probe::BIN
            );
            0
        }
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
            eprintln!("usage: vmm-run SPEC.json | --print-probe");
            vmm::ExitCode::Config.code()
        }
    };
    let _ = std::io::stdout().flush();
    std::process::exit(i32::from(code));
}
