//! Criterion benchmarks (written below).
fn main() {}
