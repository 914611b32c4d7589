//! How quickly does the tiny UNet learn to draw a bump where the condition says, depending
//! on the frequency range of the position encoding? Trains (x = 0, t = 0, μ) → the clean bump
//! at μ (σ = 1.5 px, fresh random μ every step, batch 16) with AdamW and prints the held-out
//! MSE along the way. Conditioning is the only source of the answer, so this isolates it.
//!
//! `cargo run --release -p bump-unet --example position_encoding_probe -- [steps]`

use bump_unet::{ConditionEncoding, FrequencyRange, UNet, UNetConfig};
use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const N: usize = 32;
const SIGMA: f32 = 1.5;

/// Bumps (model space, 2v − 1 with v = 1 − exp(−r²/2σ²)) and their centres.
fn batch(rng: &mut ChaCha8Rng, b: usize, dev: &Device) -> candle_core::Result<(Tensor, Tensor)> {
    let mut img = Vec::with_capacity(b * N * N);
    let mut mu = Vec::with_capacity(2 * b);
    for _ in 0..b {
        let (mx, my): (f32, f32) = (rng.random_range(0.0..32.0), rng.random_range(0.0..32.0));
        for y in 0..N {
            for x in 0..N {
                let r2 = (x as f32 - mx).powi(2) + (y as f32 - my).powi(2);
                img.push(1.0 - 2.0 * (-r2 / (2.0 * SIGMA * SIGMA)).exp());
            }
        }
        mu.extend([mx, my]);
    }
    Ok((
        Tensor::from_vec(img, (b, 1, N, N), dev)?,
        Tensor::from_vec(mu, (b, 2), dev)?,
    ))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let steps: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(150);
    let dev = Device::Cpu;
    let ranges = [
        ("pixels 4..256 px (default)", FrequencyRange::pixels()),
        ("transformer 2π..2π·1e4", FrequencyRange::transformer()),
    ];
    for (name, position) in ranges {
        let cfg = UNetConfig::tiny().with_condition(ConditionEncoding::Sinusoidal {
            dim: 32,
            time: FrequencyRange::transformer(),
            position,
        });
        let unet = UNet::new(&cfg, 0, &dev)?;
        let vars = unet.vars().into_iter().map(|(_, v)| v).collect();
        let mut opt = AdamW::new(
            vars,
            ParamsAdamW {
                lr: 2e-3,
                weight_decay: 0.0,
                ..Default::default()
            },
        )?;
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (test_img, test_mu) = batch(&mut ChaCha8Rng::seed_from_u64(99), 64, &dev)?;
        let zeros = |b: usize| Tensor::zeros((b, 1, N, N), candle_core::DType::F32, &dev);
        let t0 = |b: usize| Tensor::zeros(b, candle_core::DType::F32, &dev);
        let mut line = format!("{name}:");
        for step in 1..=steps {
            let (img, mu) = batch(&mut rng, 16, &dev)?;
            let loss = (unet.forward_t(&zeros(16)?, &t0(16)?, &mu, true)? - img)?
                .sqr()?
                .mean_all()?;
            opt.backward_step(&loss)?;
            if step % (steps / 5).max(1) == 0 {
                let pred = unet.forward(&zeros(64)?, &t0(64)?, &test_mu)?;
                let mse: f32 = (pred - &test_img)?.sqr()?.mean_all()?.to_scalar()?;
                line += &format!(" {step}:{mse:.4}");
            }
        }
        println!("{line}");
    }
    Ok(())
}
