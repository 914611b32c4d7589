//! UNet forward / training-step benches: filled in once the model lands.

fn main() {}
