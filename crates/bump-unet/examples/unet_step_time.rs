//! Prints the parameter count of both presets and times the tiny preset's forward pass and
//! AdamW training step (release build): `cargo run --release -p bump-unet --example unet_step_time -- [batch] [steps]`.

use bump_unet::{UNet, UNetConfig};
use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use std::time::Instant;

/// CPU seconds used by this process so far (all threads), from /proc/self/stat; 0 elsewhere.
/// On a shared machine this is a better measure of the work than wall time.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // rest starts at field 3 (state, not numeric, filtered out) → field 14 is f[10].
    (f.get(10).copied().unwrap_or(0.0) + f.get(11).copied().unwrap_or(0.0)) / 100.0
}

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
    let (t0, c0) = (Instant::now(), cpu_seconds());
    for _ in 0..steps {
        let _ = unet.forward(&x, &t, &c)?;
    }
    let fwd = t0.elapsed().as_secs_f64() / steps as f64;
    let fwd_cpu = (cpu_seconds() - c0) / steps as f64;
    let loss = unet.forward_t(&x, &t, &c, true)?.sqr()?.mean_all()?;
    opt.backward_step(&loss)?;
    let (t0, c0) = (Instant::now(), cpu_seconds());
    for _ in 0..steps {
        let loss = unet.forward_t(&x, &t, &c, true)?.sqr()?.mean_all()?;
        opt.backward_step(&loss)?;
    }
    let step = t0.elapsed().as_secs_f64() / steps as f64;
    let step_cpu = (cpu_seconds() - c0) / steps as f64;
    println!(
        "tiny batch {batch} (mean of {steps}): forward {fwd:.3} s wall / {fwd_cpu:.3} s CPU, \
         training step {step:.3} s wall / {step_cpu:.3} s CPU"
    );
    Ok(())
}
