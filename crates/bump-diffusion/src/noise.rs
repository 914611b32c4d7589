//! Seeded Gaussian noise that we own (Candle's CPU RNG cannot be seeded).

use crate::Result;
use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// `count` standard-normal f32 values from the ChaCha8 stream (`seed`, `stream`).
pub fn gaussian_noise_vec(seed: u64, stream: u64, count: usize) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    (0..count)
        .map(|_| rng.sample::<f32, _>(StandardNormal))
        .collect()
}

/// Per-sample seeded noise: sample `i` is drawn from the stream seeded by `seeds[i]` alone, so it
/// is bit-identical whatever batch it is part of.
///
/// # Shapes
/// - returns (B, shape_per_sample…) with B = `seeds.len()`.
pub fn gaussian_noise(
    seeds: &[u64],
    shape_per_sample: &[usize],
    device: &Device,
) -> Result<Tensor> {
    noise_for_stream(seeds, 0, shape_per_sample, device)
}

/// Like [`gaussian_noise`], with a `stream` index (samplers use one stream per step).
pub(crate) fn noise_for_stream(
    seeds: &[u64],
    stream: u64,
    shape_per_sample: &[usize],
    device: &Device,
) -> Result<Tensor> {
    let per: usize = shape_per_sample.iter().product();
    let mut data = Vec::with_capacity(per * seeds.len());
    for &s in seeds {
        data.extend(gaussian_noise_vec(s, stream, per));
    }
    let mut shape = vec![seeds.len()];
    shape.extend_from_slice(shape_per_sample);
    Ok(Tensor::from_vec(data, shape, device)?)
}
