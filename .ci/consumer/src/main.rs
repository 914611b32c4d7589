//! The five crate-level examples of the workspace's lib.rs files, as a user's program (no Candle
//! dependency of its own: every Candle type comes from the crates' re-exports), then the
//! records round trip of issue 17. Keep in step with the `# Example` sections of each lib.rs.

use std::error::Error;
use std::time::Instant;

type AnyResult<T> = Result<T, Box<dyn Error>>;

fn main() -> AnyResult<()> {
    let steps: [(&str, fn() -> AnyResult<()>); 6] = [
        ("bump-data: render → save → load → noise → score", data),
        (
            "bump-diffusion: closure denoiser, DDIM and DPM-Solver++",
            diffusion,
        ),
        ("bump-unet: build → forward_with_taps → checkpoint", unet),
        ("bump-analysis: metrics → classification", analysis),
        (
            "bump-ddpm: micro run read back, records bit for bit",
            facade,
        ),
        ("serde_json float_roundtrip in a user's build", floats),
    ];
    for (name, f) in steps {
        let t = Instant::now();
        f().map_err(|e| format!("{name}: {e}"))?;
        println!("ok  {name} ({:.1} s)", t.elapsed().as_secs_f64());
    }
    Ok(())
}

fn data() -> AnyResult<()> {
    use bump_data::{
        add_gaussian_noise, render_image, score_batch, score_image, Dataset, FailureClass, Pattern,
        RenderConfig, ScoreConfig,
    };
    let render = RenderConfig::default().with_n(16).with_sigma(1.0);
    let centres = [[4.0, 5.0], [10.0, 8.0], [12.5, 3.0]];
    let data = Dataset::render(&render, &centres)?;
    let path =
        std::env::temp_dir().join(format!("consumer-data-{}.safetensors", std::process::id()));
    data.save(&path)?;
    let back = Dataset::load(&path)?;
    std::fs::remove_file(&path)?;
    assert_eq!(back.images(), data.images());
    assert_eq!(back.labels(), data.labels());
    let noisy = add_gaussian_noise(back.images(), 0.05, 7)?;
    let targets = back.image_centres();
    let report = score_batch(
        &noisy,
        back.n(),
        &targets,
        &ScoreConfig::for_render(&render),
    )?;
    assert_eq!(report.accuracy, 1.0);
    assert!(report
        .per_image
        .iter()
        .all(|s| s.failure == FailureClass::Correct));
    // A stripe through the target is not a bump, even for the default scorer.
    let stripe = render_image(&render, Pattern::VerticalStripe, [6.0, 8.0])?;
    let s = score_image(&stripe, 16, [6.0, 8.0], &ScoreConfig::default())?;
    assert_eq!(s.failure, FailureClass::Malformed);
    Ok(())
}

fn diffusion() -> AnyResult<()> {
    use bump_diffusion::{
        candle_core, sample, DType, Device, NoiseSchedule, SamplerConfig, ScheduleConfig, Tensor,
    };
    let schedule = NoiseSchedule::new(&ScheduleConfig::default())?;
    let alphas_cumprod = schedule.alphas_cumprod.clone();
    let mut denoiser = |x: &Tensor, t: &Tensor, _cond: &Tensor| -> candle_core::Result<Tensor> {
        let a = alphas_cumprod[t.to_vec1::<f32>()?[0] as usize];
        (x - 0.5 * a.sqrt())? / (1.0 - a).sqrt()
    };
    let dev = Device::Cpu;
    let cond = Tensor::zeros((2, 2), DType::F32, &dev)?;
    for sampler in [SamplerConfig::ddim(10), SamplerConfig::dpm_solver_pp(10)] {
        let out = sample(
            &schedule,
            &sampler,
            &mut denoiser,
            &cond,
            (1, 4, 4),
            &[11, 12],
            None,
        )?;
        assert_eq!(out.images.dims(), &[2, 1, 4, 4]);
        let v: Vec<f32> = out.images.flatten_all()?.to_vec1()?;
        assert!(
            v.iter().all(|p| (p - 0.5).abs() < 1e-3),
            "{sampler:?}: {v:?}"
        );
    }
    Ok(())
}

fn unet() -> AnyResult<()> {
    use bump_unet::{
        load_checkpoint, save_checkpoint, CheckpointMeta, Device, Tensor, UNet, UNetConfig,
        LAYER4_ALIAS,
    };
    let dev = Device::Cpu;
    let net = UNet::new(&UNetConfig::tiny(), 0, &dev)?;
    let x = Tensor::randn(0f32, 1.0, (2, 1, 16, 16), &dev)?;
    let t = Tensor::new(&[10f32, 500.0], &dev)?;
    let cond = Tensor::new(&[[4f32, 5.0], [12.0, 11.0]], &dev)?;
    let (eps, taps) = net.forward_with_taps(&x, &t, &cond, &[LAYER4_ALIAS])?;
    assert_eq!(eps.dims(), &[2, 1, 16, 16]);
    assert_eq!(taps[LAYER4_ALIAS].dims(), &[2, 32, 4, 4]);
    let path =
        std::env::temp_dir().join(format!("consumer-unet-{}.safetensors", std::process::id()));
    let meta = CheckpointMeta {
        step: 7,
        seed: 0,
        ..Default::default()
    };
    save_checkpoint(&path, &net, &meta, &[])?;
    let (back, meta_back, _) = load_checkpoint(&path, &dev)?;
    std::fs::remove_file(&path)?;
    assert_eq!(meta_back.step, 7);
    let again = back.forward(&x, &t, &cond)?;
    let diff = (eps - again)?.abs()?.max_all()?.to_scalar::<f32>()?;
    assert_eq!(diff, 0.0);
    Ok(())
}

fn analysis() -> AnyResult<()> {
    use bump_analysis::{
        analyze_probe, classify_representation, compute_metrics, Activations, MetricConfig, Phase,
        RepresentationThresholds,
    };
    let (nx, ny) = (10, 10);
    let coords: Vec<[f64; 2]> = (0..ny)
        .flat_map(|y| (0..nx).map(move |x| [x as f64, y as f64]))
        .collect();
    let sheet = |[x, y]: [f64; 2], k: usize| -> Vec<f64> {
        let jitter = |i: usize| 0.01 * ((k * 7 + i * 13) as f64 + 3.1 * x + 1.7 * y).sin();
        vec![
            x + jitter(0),
            y + jitter(1),
            (x / 3.0).sin() + jitter(2),
            (y / 3.0).cos() + jitter(3),
            0.01 * x * y + jitter(4),
            jitter(5),
        ]
    };
    let read = |assign: &dyn Fn(usize) -> usize| -> bump_analysis::Result<Vec<Activations>> {
        (0..4)
            .map(|k| {
                let rows: Vec<Vec<f64>> = (0..coords.len())
                    .map(|i| sheet(coords[assign(i)], k))
                    .collect();
                Activations::from_rows(&rows)
            })
            .collect()
    };
    let cfg = MetricConfig::default();
    let ordered = read(&|i| i)?;
    let m = compute_metrics(&ordered[0], &coords, Some((nx, ny)), &cfg)?;
    assert!(
        m.trustworthiness > 0.95 && m.spearman_geodesic > 0.95,
        "{m:?}"
    );
    assert!((m.twonn_multiscale_dim - 2.0).abs() < 0.5);
    let rule = RepresentationThresholds::default();
    let label = classify_representation(
        &analyze_probe(&ordered, &coords, Some((nx, ny)), &cfg)?,
        &rule,
    );
    assert_eq!(label.phase, Phase::C, "{}", label.reason);
    let scrambled = read(&|i| (37 * i) % 100)?;
    let label = classify_representation(
        &analyze_probe(&scrambled, &coords, Some((nx, ny)), &cfg)?,
        &rule,
    );
    assert_eq!(label.phase, Phase::B, "{}", label.reason);
    Ok(())
}

fn facade() -> AnyResult<()> {
    use bump_ddpm::config::ExperimentConfig;
    use bump_ddpm::data::CentreSet;
    use bump_ddpm::diffusion::SamplerConfig;
    use bump_ddpm::schedule::CheckpointSchedule;
    use bump_ddpm::train::{run, RunOptions};
    use bump_ddpm::unet::UNetConfig;
    use bump_ddpm::RunDir;

    let mut cfg = ExperimentConfig::quick();
    cfg.data.n = 16;
    (cfg.data.dx, cfg.data.dy) = (2.0, 2.0);
    cfg.model = UNetConfig::tiny();
    cfg.train.steps = 4;
    cfg.train.batch = 8;
    cfg.train.warmup = 2;
    cfg.train.checkpoints = CheckpointSchedule {
        log_spaced: false,
        every: 4,
        ..Default::default()
    };
    cfg.eval.sampler = SamplerConfig::ddim(3).with_clip_sample(Some((-1.0, 1.0)));
    cfg.eval.centres = CentreSet {
        dx: 3.0,
        dy: 3.0,
        offset: [1.0, 1.0],
        region: None,
    };
    cfg.eval.k = 5;

    let dir = std::env::temp_dir().join(format!("consumer-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut opts = RunOptions::new(&dir);
    opts.progress = false;
    let outcome = run(&cfg, &opts)?;
    assert_eq!(outcome.run_dir.root(), dir.as_path());
    let run_dir = RunDir::new(&dir);
    let records = run_dir.read_records()?;
    assert_eq!(records.iter().map(|r| r.step).collect::<Vec<_>>(), [0, 4]);
    // The records round trip of issue 17, compared field by field in their shortest
    // round-trip text (NaN-safe) and as JSON numbers.
    assert_eq!(records.len(), outcome.records.len());
    for (returned, read) in outcome.records.iter().zip(&records) {
        assert_eq!(
            format!("{returned:?}"),
            format!("{read:?}"),
            "step {}",
            read.step
        );
        assert_eq!(serde_json::to_value(returned)?, serde_json::to_value(read)?);
    }
    for r in &records {
        let rep = r.representation_typed()?; // typed, renamed metrics included
        assert_eq!(rep.metrics.twonn_multiscale_dim, r.twonn_multiscale_dim);
    }
    let summary = run_dir.read_summary()?;
    assert_eq!(summary.steps, 4);
    assert_eq!(
        format!("{:?}", outcome.summary.as_ref().ok_or("no summary")?),
        format!("{summary:?}")
    );
    assert!(outcome.report.is_some_and(|p| p.is_file()));
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// Parsing exactness of the serde_json this program is built with: plain `serde_json = "1"` in
/// this crate, `float_roundtrip` switched on by the bump crates (Cargo unifies features).
fn floats() -> AnyResult<()> {
    let mut values = vec![0.9570686070686072, 0.9570686070686071, 1.0 / 3.0];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..20_000 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let v = f64::from_bits(state >> 2);
        if v.is_finite() {
            values.push(v);
            values.push((state >> 11) as f64 / (1u64 << 53) as f64);
        }
    }
    for v in values {
        let text = serde_json::to_string(&v)?;
        let back: f64 = serde_json::from_str(&text)?;
        if back.to_bits() != v.to_bits() {
            return Err(format!("{text} read back as {back:?}").into());
        }
    }
    Ok(())
}
