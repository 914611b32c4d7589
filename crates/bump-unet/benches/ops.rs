//! Op-level benches: filled in next.

fn main() {}
