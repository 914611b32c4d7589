//! Placeholder until the benchmark lands (issue 6).
fn main() {}
