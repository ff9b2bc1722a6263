//! Development helper: prints diagnostics for files.
fn main() {
    let mut map = diag::SourceMap::new();
    let words: Vec<String> = std::env::args().skip(1).collect();
    let opts = qvmconf::Options {
        host_files: false,
        ..Default::default()
    };
    let (vm, diags) = qvmconf::load(&mut map, &words, &opts);
    print!("{}", diag::render::human_to_string(&map, &diags));
    println!("ok={}", vm.is_some());
}
