//! Prints the parameter count of both presets and times the tiny preset's forward pass and
//! AdamW training step (release build): `cargo run --release -p bump-unet --example unet_step_time -- [batch] [steps]`.

use bump_unet::{UNet, UNetConfig};
use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let batch: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(64);
    let steps: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(5);
    let dev = Device::Cpu;
    for (name, cfg) in [("paper", UNetConfig::paper()), ("tiny", UNetConfig::tiny())] {
        let m = UNet::new(&cfg, 0, &dev)?;
        println!("{name}: {} parameters", m.parameter_count());
    }
    let unet = UNet::new(&UNetConfig::tiny(), 0, &dev)?;
    let x = Tensor::zeros((batch, 1, 32, 32), candle_core::DType::F32, &dev)?;
    let t = Tensor::from_vec(
        (0..batch).map(|i| (i * 13 % 1000) as f32).collect(),
        batch,
        &dev,
    )?;
    let c = Tensor::from_vec(
        (0..2 * batch).map(|i| (i % 32) as f32).collect(),
        (batch, 2),
        &dev,
    )?;
    let vars = unet.vars().into_iter().map(|(_, v)| v).collect();
    let mut opt = AdamW::new(
        vars,
        ParamsAdamW {
            lr: 1e-3,
            ..Default::default()
        },
    )?;
    let _ = unet.forward(&x, &t, &c)?; // warm-up
    let t0 = Instant::now();
    for _ in 0..steps {
        let _ = unet.forward(&x, &t, &c)?;
    }
    let fwd = t0.elapsed().as_secs_f64() / steps as f64;
    let loss = unet.forward_t(&x, &t, &c, true)?.sqr()?.mean_all()?;
    opt.backward_step(&loss)?;
    let t0 = Instant::now();
    for _ in 0..steps {
        let loss = unet.forward_t(&x, &t, &c, true)?.sqr()?.mean_all()?;
        opt.backward_step(&loss)?;
    }
    let step = t0.elapsed().as_secs_f64() / steps as f64;
    println!("tiny batch {batch}: forward {fwd:.3} s, training step {step:.3} s (mean of {steps})");
    Ok(())
}
