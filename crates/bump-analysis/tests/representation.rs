//! Known answers of the condition-signal estimator, the probe analysis and the representation
//! rule's branches.

use bump_analysis::controls::{ControlMap, ControlSpec, NoiseKind};
use bump_analysis::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// K samples of B×D: a random mean per condition (variance `sb` per feature) plus independent
/// noise (variance `sw` per feature).
fn random_samples(b: usize, d: usize, k: usize, sb: f64, sw: f64, seed: u64) -> Vec<Activations> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let nb = Normal::new(0.0, sb.sqrt()).unwrap();
    let nw = Normal::new(0.0, sw.sqrt()).unwrap();
    let mu: Vec<f64> = (0..b * d).map(|_| nb.sample(&mut rng)).collect();
    (0..k)
        .map(|_| {
            let x: Vec<f64> = mu.iter().map(|m| m + nw.sample(&mut rng)).collect();
            Activations::from_f64(&x, b, d).unwrap()
        })
        .collect()
}

/// Σ over rows of squared distances to the column means.
fn centred_sq(a: &Activations) -> f64 {
    let m = a.column_means();
    (0..a.n())
        .map(|i| {
            a.row(i)
                .iter()
                .zip(&m)
                .map(|(x, c)| (x - c).powi(2))
                .sum::<f64>()
        })
        .sum()
}

fn mean_of(samples: &[Activations]) -> Activations {
    let (b, d, k) = (samples[0].n(), samples[0].d(), samples.len() as f64);
    let v: Vec<f64> = (0..b * d)
        .map(|t| samples.iter().map(|s| s.as_slice()[t]).sum::<f64>() / k)
        .collect();
    Activations::from_f64(&v, b, d).unwrap()
}

#[test]
fn signal_fraction_is_the_documented_anova_correction() {
    // The estimator's closed form: S_B = S_M − (B/(B − 1))·W/K + B/((B − 1)K(K − 1)) Σ_k ‖x̄_k − m̄‖²
    // (the U-statistic over pairs of different samples), f = S_B/(S_B + W).
    for (k, seed) in [(2usize, 1u64), (3, 2), (4, 3), (7, 4)] {
        let s = random_samples(40, 12, k, 1.0, 2.0, seed);
        let (b, kf) = (40.0, k as f64);
        let m = mean_of(&s);
        let s_m = centred_sq(&m) / (b - 1.0);
        let w = s
            .iter()
            .map(|x| {
                x.as_slice()
                    .iter()
                    .zip(m.as_slice())
                    .map(|(a, c)| (a - c).powi(2))
                    .sum::<f64>()
            })
            .sum::<f64>()
            / (b * (kf - 1.0));
        let grand = m.column_means();
        let offsets: f64 = s
            .iter()
            .map(|x| {
                x.column_means()
                    .iter()
                    .zip(&grand)
                    .map(|(a, c)| (a - c).powi(2))
                    .sum::<f64>()
            })
            .sum();
        let sb = s_m - b / (b - 1.0) * w / kf + b / ((b - 1.0) * kf * (kf - 1.0)) * offsets;
        let want = sb.max(0.0) / (sb.max(0.0) + w);
        let got = condition_signal_fraction(&s).unwrap();
        assert!((got - want).abs() < 1e-12, "K = {k}: {got} vs {want}");
    }
}

#[test]
fn signal_fraction_is_unbiased_where_the_plain_ratio_is_not() {
    // Population fraction 0.2 (between variance 1, within 4 per feature).
    let s = random_samples(256, 64, 4, 1.0, 4.0, 5);
    let f = condition_signal_fraction(&s).unwrap();
    assert!((f - 0.2).abs() < 0.02, "corrected {f}");
    // The variance of the means carries W/K of noise: taken at face value it reads
    // (1 + 4/4)/(1 + 4/4 + 4) = 1/3.
    let m = mean_of(&s);
    let s_m = centred_sq(&m) / 255.0;
    let w = 4.0 * 64.0;
    let plain = s_m / (s_m + w);
    assert!((plain - 1.0 / 3.0).abs() < 0.03, "uncorrected {plain}");
    // No noise: the condition explains everything; no signal: nothing.
    assert_eq!(
        condition_signal_fraction(&random_samples(30, 5, 3, 1.0, 0.0, 6)).unwrap(),
        1.0
    );
    let none = condition_signal_fraction(&random_samples(256, 64, 4, 0.0, 1.0, 7)).unwrap();
    assert!(none < 0.01, "{none}");
    let constant = vec![Activations::from_f64(&[2.0; 20], 10, 2).unwrap(); 3];
    assert_eq!(condition_signal_fraction(&constant).unwrap(), 0.0);
}

#[test]
fn a_shift_shared_by_all_conditions_of_a_sample_is_noise() {
    // One noise image for all conditions of sample k adds the same vector to every row of it:
    // the between-condition variance is unchanged, the within-condition variance grows by the
    // spread of the shifts.
    let s = random_samples(50, 8, 4, 1.0, 0.5, 8);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let shifted: Vec<Activations> = s
        .iter()
        .map(|x| {
            let shift: Vec<f64> = (0..8).map(|_| rng.random_range(-3.0..3.0)).collect();
            let v: Vec<f64> = x
                .as_slice()
                .iter()
                .enumerate()
                .map(|(t, v)| v + shift[t % 8])
                .collect();
            Activations::from_f64(&v, 50, 8).unwrap()
        })
        .collect();
    let (f0, f1) = (
        condition_signal_fraction(&s).unwrap(),
        condition_signal_fraction(&shifted).unwrap(),
    );
    // f = S_B/(S_B + W): same S_B, so S_B = f0·W0/(1 − f0) must equal f1·W1/(1 − f1).
    let within = |x: &[Activations]| {
        let m = mean_of(x);
        x.iter()
            .map(|a| {
                a.as_slice()
                    .iter()
                    .zip(m.as_slice())
                    .map(|(p, q)| (p - q).powi(2))
                    .sum::<f64>()
            })
            .sum::<f64>()
            / (50.0 * 3.0)
    };
    let (w0, w1) = (within(&s), within(&shifted));
    assert!(w1 > 2.0 * w0);
    let (b0, b1) = (f0 * w0 / (1.0 - f0), f1 * w1 / (1.0 - f1));
    assert!((b0 - b1).abs() < 1e-9 * b0, "{b0} vs {b1}");
}

#[test]
fn bad_samples_are_typed_errors() {
    let a = Activations::from_f64(&[0.0; 20], 10, 2).unwrap();
    let b = Activations::from_f64(&[0.0; 30], 10, 3).unwrap();
    assert!(matches!(
        condition_signal_fraction(&[]),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        condition_signal_fraction(std::slice::from_ref(&a)),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        condition_signal_fraction(&[a.clone(), b.clone()]),
        Err(Error::LengthMismatch(_))
    ));
    let cfg = MetricConfig::default();
    assert!(matches!(
        analyze_probe(&[], &[], None, &cfg),
        Err(Error::InvalidArgument(_))
    ));
    let c = ControlSpec {
        map: ControlMap::Flat,
        signal: 0.9,
        noise: NoiseKind::Iso,
        dim: 16,
    }
    .generate(0)
    .unwrap();
    assert!(matches!(
        analyze_probe(&c.samples, &c.coords[..255], None, &cfg),
        Err(Error::LengthMismatch(_))
    ));
    assert!(matches!(
        analyze_probe(&c.samples, &c.coords, Some((16, 15)), &cfg),
        Err(Error::GridMismatch { .. })
    ));
    let mut bad = c.coords.clone();
    bad[0][1] = f64::NAN;
    assert!(matches!(
        analyze_probe(&c.samples, &bad, None, &cfg),
        Err(Error::NonFinite(_))
    ));
    assert!(matches!(
        analyze_probe(&[c.samples[0].clone(), a], &c.coords, None, &cfg),
        Err(Error::LengthMismatch(_))
    ));
    // Too few conditions for the neighbourhoods.
    let small: Vec<Activations> = c.samples.iter().map(|s| s.select(&[0, 1, 2, 3])).collect();
    assert!(analyze_probe(&small, &c.coords[..4], None, &cfg).is_err());
}

fn control(map: ControlMap, signal: f64, dim: usize) -> bump_analysis::controls::Control {
    ControlSpec {
        map,
        signal,
        noise: NoiseKind::Iso,
        dim,
    }
    .generate(11)
    .unwrap()
}

#[test]
fn probe_analysis_reports_both_suites_and_the_resolved_sheet() {
    let c = control(ControlMap::Curved, 0.3, 128);
    let cfg = MetricConfig::default();
    let p = analyze_probe(&c.samples, &c.coords, Some(c.grid), &cfg).unwrap();
    assert_eq!(p.samples, 4);
    assert!(
        (p.condition_signal - 0.3).abs() < 0.03,
        "{}",
        p.condition_signal
    );
    assert!((p.between_variance - 0.3).abs() < 0.03 && (p.within_variance - 0.7).abs() < 0.03);
    // The two suites are exactly compute_metrics on the plain means and on sample 0.
    let means: Vec<f64> = (0..256 * 128)
        .map(|t| c.samples.iter().map(|s| s.as_slice()[t]).sum::<f64>() / 4.0)
        .collect();
    let means = Activations::from_f64(&means, 256, 128).unwrap();
    assert_eq!(
        p.means,
        compute_metrics(&means, &c.coords, Some(c.grid), &cfg).unwrap()
    );
    assert_eq!(
        p.single,
        compute_metrics(&c.samples[0], &c.coords, Some(c.grid), &cfg).unwrap()
    );
    // Noise inflates the plain means' local dimension; the resolved means are a sheet again.
    let g = &p.geometry;
    assert!(g.denoised);
    assert!(
        p.means.twonn_multiscale_dim > 5.0,
        "{}",
        p.means.twonn_multiscale_dim
    );
    assert!(
        g.sheet_dim > 1.6 && g.sheet_dim < 2.6,
        "resolved sheet dimension {} ({:?})",
        g.sheet_dim,
        g.sheet_dims
    );
    assert!(g.resolved_share > 0.9 && g.resolved_rank.unwrap() >= 2);
    assert_eq!((g.k, g.k_coarse), (10, 40));
    let windows: Vec<(usize, usize)> = g.sheet_dims.iter().map(|s| (s.lo, s.hi)).collect();
    assert_eq!(windows, [(2, 4), (4, 8), (8, 16), (16, 32)]);
    assert_eq!(
        g.order,
        g.trustworthiness
            .min(g.continuity)
            .min(g.trustworthiness_coarse)
            .min(g.continuity_coarse)
    );
    let c = classify_representation(&p, &RepresentationThresholds::default());
    assert_eq!(c.phase, Phase::C, "{}", c.reason);
    let names: Vec<&str> = c.decided_by.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["condition_signal", "order", "sheet_dim", "resolved_share"]
    );
}

#[test]
fn one_sample_is_classified_from_geometry_alone() {
    let t = RepresentationThresholds::default();
    let cfg = MetricConfig::default();
    let c = control(ControlMap::Curved, 0.95, 64);
    let p = analyze_probe(&c.samples[..1], &c.coords, Some(c.grid), &cfg).unwrap();
    assert!(p.condition_signal.is_nan() && p.within_variance.is_nan());
    assert!(!p.geometry.denoised && p.geometry.resolved_rank.is_none());
    assert!(p.geometry.resolved_share.is_nan());
    let r = classify_representation(&p, &t);
    assert_eq!(r.phase, Phase::C);
    assert!(r.reason.contains("not identifiable"), "{}", r.reason);
    // A sample that does not vary across conditions: the condition explains nothing.
    let flat = Activations::from_f64(&vec![1.5; 256 * 8], 256, 8).unwrap();
    let p = analyze_probe(&[flat], &c.coords, None, &cfg).unwrap();
    assert_eq!(p.condition_signal, 0.0);
    assert_eq!(classify_representation(&p, &t).phase, Phase::A);
    // Two samples: the noise edge comes from Ĝ's negative spectrum.
    let c = control(ControlMap::Permuted { fraction: 1.0 }, 0.5, 64);
    let p = analyze_probe(&c.samples[..2], &c.coords, None, &cfg).unwrap();
    assert!(p.geometry.noise_edge > 0.0 && p.geometry.resolved_rank.unwrap() >= 2);
    assert_eq!(classify_representation(&p, &t).phase, Phase::B);
}

#[test]
fn the_initialisation_artefact_is_an_ordered_sheet_and_its_label_comes_from_the_signal() {
    let t = RepresentationThresholds::default();
    let cfg = MetricConfig::default();
    // The 4-to-256-px position encoding itself (what a shared noise image shows): a sheet
    // folded at the grid's resolution, high-dimensional locally, ordered.
    let enc = control(ControlMap::Sinusoidal, 1.0, 64);
    let p = analyze_probe(&enc.samples[..1], &enc.coords, Some(enc.grid), &cfg).unwrap();
    assert!(
        p.single.twonn_multiscale_dim > 3.0,
        "local dimension {}",
        p.single.twonn_multiscale_dim
    );
    // The legacy rule calls it A on dimension alone; the new rule calls it C.
    assert_eq!(
        classify(&p.single, &PhaseThresholds::default()).phase,
        Phase::A
    );
    assert_eq!(classify_representation(&p, &t).phase, Phase::C);
    // Random features of it seen through independent noise images that dominate layer 4: A
    // from the signal fraction, though the means are still ordered.
    let init = control(ControlMap::SinusoidalFeatures, 0.05, 256);
    let p = analyze_probe(&init.samples, &init.coords, Some(init.grid), &cfg).unwrap();
    let r = classify_representation(&p, &t);
    assert_eq!(r.phase, Phase::A, "{}", r.reason);
    assert_eq!(r.decided_by[0].0, "condition_signal");
    assert!(p.condition_signal < 0.07);
}

fn geometry(order: f64, sheet_dim: f64, resolved_share: f64) -> ConditionGeometry {
    ConditionGeometry {
        denoised: true,
        k: 10,
        k_coarse: 40,
        trustworthiness: order,
        continuity: order,
        trustworthiness_coarse: order,
        continuity_coarse: order,
        order,
        geodesic_rho: 0.0,
        geodesic_k: 10,
        resolved_rank: Some(5),
        resolved_share,
        noise_edge: 0.1,
        sheet_dims: vec![],
        sheet_dim,
    }
}

#[test]
fn rule_branches_fire_in_order_at_the_frozen_thresholds() {
    let t = RepresentationThresholds::default();
    assert_eq!(
        (
            t.signal_min,
            t.order_min,
            t.sheet_dim_max,
            t.resolved_share_min
        ),
        (0.07, 0.81, 2.65, 0.55)
    );
    let c = control(ControlMap::Flat, 0.95, 16);
    let mut p = analyze_probe(&c.samples, &c.coords, None, &MetricConfig::default()).unwrap();
    let mut phase = |signal: f64, g: ConditionGeometry| {
        p.condition_signal = signal;
        p.geometry = g;
        classify_representation(&p, &t).phase
    };
    // Signal first: an ordered sheet carrying 6 % of the variance is A.
    assert_eq!(phase(0.06, geometry(0.99, 2.0, 1.0)), Phase::A);
    // At each threshold exactly, the label on the inclusive side.
    assert_eq!(phase(0.07, geometry(0.81, 9.0, 0.0)), Phase::C);
    assert_eq!(phase(0.5, geometry(0.8099, 2.65, 0.55)), Phase::B);
    // Order before dimension: a high-dimensional but ordered sheet is C (the old rule's A).
    assert_eq!(phase(0.5, geometry(0.9, 6.0, 1.0)), Phase::C);
    // Disordered: B on a sheet, A without one, A when the sheet carries too little signal.
    assert_eq!(phase(0.5, geometry(0.5, 1.0, 1.0)), Phase::B);
    assert_eq!(phase(0.5, geometry(0.5, 2.66, 1.0)), Phase::A);
    assert_eq!(phase(0.5, geometry(0.5, 2.0, 0.5)), Phase::A);
    // K = 1: no signal gate, no share test.
    assert_eq!(phase(f64::NAN, geometry(0.5, 2.0, f64::NAN)), Phase::B);
    assert_eq!(phase(f64::NAN, geometry(0.95, 5.0, f64::NAN)), Phase::C);
    // Thresholds round-trip through serde and reject unknown keys.
    let json = serde_json::to_string(&t).unwrap();
    assert_eq!(
        serde_json::from_str::<RepresentationThresholds>(&json).unwrap(),
        t
    );
    assert!(serde_json::from_str::<RepresentationThresholds>(
        r#"{"signal_min":0.1,"order_min":0.8,"sheet_dim_max":2.5,"resolved_share_min":0.5,"id_max":3}"#
    )
    .is_err());
}
