//! Seeded pixel noise: what every user of the scorer writes to test it on imperfect images.
//!
//! One ChaCha8 stream seeded by `seed` draws standard-normal values in buffer order, so the same
//! `(images, std, seed)` gives the same bits on every platform. An image's noise therefore
//! depends on its position in the buffer: call once per image (with a seed per image) when each
//! image's noise must not depend on its batch.

use crate::error::{Error, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// `images` plus independent Gaussian noise of standard deviation `std` (in pixel-value units,
/// e.g. of the default `[−1, 1]` range), drawn from a ChaCha8 stream seeded by `seed`. Values are
/// not clamped: the scorer clamps to its range itself.
///
/// # Errors
/// [`Error::InvalidArgument`] when `std` is not finite and ≥ 0.
///
/// # Shapes
/// `images`: any length (e.g. `[B, N, N]` row-major); returns the same length.
///
/// ```
/// let clean = vec![0.0f32; 4];
/// let a = bump_data::add_gaussian_noise(&clean, 0.1, 7)?;
/// assert_eq!(a, bump_data::add_gaussian_noise(&clean, 0.1, 7)?); // same seed, same bits
/// assert_ne!(a, bump_data::add_gaussian_noise(&clean, 0.1, 8)?);
/// # Ok::<(), bump_data::Error>(())
/// ```
pub fn add_gaussian_noise(images: &[f32], std: f64, seed: u64) -> Result<Vec<f32>> {
    let mut out = images.to_vec();
    add_gaussian_noise_in_place(&mut out, std, seed)?;
    Ok(out)
}

/// [`add_gaussian_noise`] into the buffer itself (same values, no allocation).
///
/// # Errors
/// [`Error::InvalidArgument`] when `std` is not finite and ≥ 0; the buffer is then unchanged.
pub fn add_gaussian_noise_in_place(images: &mut [f32], std: f64, seed: u64) -> Result<()> {
    if !(std.is_finite() && std >= 0.0) {
        return Err(Error::InvalidArgument(format!(
            "noise std must be finite and >= 0, got {std}"
        )));
    }
    if std == 0.0 {
        return Ok(());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for v in images.iter_mut() {
        let z: f64 = StandardNormal.sample(&mut rng);
        // f64 arithmetic, one rounding to f32: the result does not depend on the FPU's f32 path.
        *v = (*v as f64 + std * z) as f32;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_match_the_requested_std() {
        let n = 200_000;
        let base = vec![0.25f32; n];
        let noisy = add_gaussian_noise(&base, 0.1, 3).unwrap();
        let d: Vec<f64> = noisy.iter().map(|&v| v as f64 - 0.25).collect();
        let mean = d.iter().sum::<f64>() / n as f64;
        let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        // Standard errors: mean 0.1/√n = 2.2e-4, std ≈ 0.1/√(2n) = 1.6e-4; 5 of each.
        assert!(mean.abs() < 1.2e-3, "mean {mean}");
        assert!((var.sqrt() - 0.1).abs() < 8e-4, "std {}", var.sqrt());
        // Gaussian tails: about 4.55 % beyond 2σ (standard error 0.05 %).
        let tail = d.iter().filter(|x| x.abs() > 0.2).count() as f64 / n as f64;
        assert!((tail - 0.0455).abs() < 2.5e-3, "tail {tail}");
    }

    #[test]
    fn seeded_and_deterministic() {
        let base: Vec<f32> = (0..64).map(|i| i as f32 / 64.0).collect();
        let a = add_gaussian_noise(&base, 0.2, 11).unwrap();
        let b = add_gaussian_noise(&base, 0.2, 11).unwrap();
        assert_eq!(
            a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            b.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        assert_ne!(a, add_gaussian_noise(&base, 0.2, 12).unwrap());
        let mut c = base.clone();
        add_gaussian_noise_in_place(&mut c, 0.2, 11).unwrap();
        assert_eq!(a, c);
        // std = 0 is the identity; a bad std is an error naming the value, buffer untouched.
        assert_eq!(add_gaussian_noise(&base, 0.0, 1).unwrap(), base);
        let mut d = base.clone();
        for bad in [-0.1, f64::NAN, f64::INFINITY] {
            let e = add_gaussian_noise_in_place(&mut d, bad, 1).unwrap_err();
            assert!(e.to_string().contains("noise std"), "{e}");
        }
        assert_eq!(d, base);
    }
}
