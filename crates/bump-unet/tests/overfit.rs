//! The tiny preset memorises a fixed batch of 16 noisy bumps: the ε-prediction MSE falls by
//! at least 90 % within a bounded number of AdamW steps.

use bump_unet::{UNet, UNetConfig};
use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

const N: usize = 32;
const BATCH: usize = 16;
const SIGMA: f64 = 1.5;
const MAX_STEPS: usize = 300;

/// Spec §11 pixel formula, v = 1 − exp(−r² / 2σ²), mapped to model space 2v − 1.
fn bump(mx: f64, my: f64) -> Vec<f32> {
    let mut img = Vec::with_capacity(N * N);
    for y in 0..N {
        for x in 0..N {
            let r2 = (x as f64 - mx).powi(2) + (y as f64 - my).powi(2);
            let v = 1.0 - (-r2 / (2.0 * SIGMA * SIGMA)).exp();
            img.push((2.0 * v - 1.0) as f32);
        }
    }
    img
}

#[test]
fn tiny_preset_overfits_a_fixed_batch() {
    let dev = Device::Cpu;
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    // DDPM forward process with the spec's linear β schedule (T = 1000, 1e-4 → 0.02).
    let t_max = 1000;
    let mut alpha_bar = Vec::with_capacity(t_max);
    let mut prod = 1.0f64;
    for i in 0..t_max {
        prod *= 1.0 - (1e-4 + (0.02 - 1e-4) * i as f64 / (t_max - 1) as f64);
        alpha_bar.push(prod);
    }
    let (mut xt, mut eps, mut ts, mut cond) = (vec![], vec![], vec![], vec![]);
    for i in 0..BATCH {
        let (mx, my) = (2.0 + 1.9 * i as f64, 30.0 - 1.7 * i as f64);
        // Small t (≤ 250), where x_t is mostly signal: ε ≈ x_t is no shortcut here.
        let t = 5 + i * 245 / (BATCH - 1);
        let (a, s) = (alpha_bar[t].sqrt(), (1.0 - alpha_bar[t]).sqrt());
        for p in bump(mx, my) {
            let e: f64 = StandardNormal.sample(&mut rng);
            eps.push(e as f32);
            xt.push((a * p as f64 + s * e) as f32);
        }
        ts.push(t as f32);
        cond.extend([mx as f32, my as f32]);
    }
    let xt = Tensor::from_vec(xt, (BATCH, 1, N, N), &dev).unwrap();
    let eps = Tensor::from_vec(eps, (BATCH, 1, N, N), &dev).unwrap();
    let ts = Tensor::from_vec(ts, BATCH, &dev).unwrap();
    let cond = Tensor::from_vec(cond, (BATCH, 2), &dev).unwrap();

    let unet = UNet::new(&UNetConfig::tiny(), 0, &dev).unwrap();
    let vars = unet.vars().into_iter().map(|(_, v)| v).collect();
    let params = ParamsAdamW {
        lr: 3e-3,
        weight_decay: 0.0,
        ..Default::default()
    };
    let mut opt = AdamW::new(vars, params).unwrap();
    let mse = || -> f32 {
        let pred = unet.forward(&xt, &ts, &cond).unwrap();
        (pred - &eps)
            .unwrap()
            .sqr()
            .unwrap()
            .mean_all()
            .unwrap()
            .to_scalar()
            .unwrap()
    };
    let initial = mse();
    let mut curve = vec![(0, initial)];
    let mut reached = None;
    for step in 1..=MAX_STEPS {
        let pred = unet.forward_t(&xt, &ts, &cond, true).unwrap();
        let loss = (pred - &eps).unwrap().sqr().unwrap().mean_all().unwrap();
        opt.backward_step(&loss).unwrap();
        let l: f32 = loss.to_scalar().unwrap();
        assert!(l.is_finite(), "loss diverged at step {step}");
        if step % 10 == 0 {
            curve.push((step, l));
        }
        if step % 10 == 0 && mse() <= 0.1 * initial {
            reached = Some(step);
            break;
        }
    }
    let last = mse();
    eprintln!(
        "overfit curve (step, training ε-MSE): {curve:?}; final eval MSE {last} at {reached:?}"
    );
    assert!(initial > 0.5, "initial ε-MSE {initial} should be about 1");
    assert!(
        last <= 0.1 * initial,
        "ε-MSE fell only from {initial} to {last} in {MAX_STEPS} steps: {curve:?}"
    );
}
