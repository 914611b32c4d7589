//! Known-answer tests of the metric suite and the phase classifier.

use bump_analysis::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// A 32×32 grid mapped into R^256 by a random smooth nonlinear map (random low-frequency
/// sinusoids of x and y) plus small Gaussian noise.
fn ordered_sheet(side: usize, noise: f64, seed: u64) -> (Activations, Vec<[f64; 2]>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let d = 256;
    let w: Vec<[f64; 3]> = (0..d)
        .map(|_| {
            [
                rng.random_range(-0.15..0.15),
                rng.random_range(-0.15..0.15),
                rng.random_range(0.0..std::f64::consts::TAU),
            ]
        })
        .collect();
    let nz = Normal::new(0.0, noise).unwrap();
    let mut data = Vec::new();
    let mut coords = Vec::new();
    for y in 0..side {
        for x in 0..side {
            coords.push([x as f64, y as f64]);
            for c in &w {
                data.push((c[0] * x as f64 + c[1] * y as f64 + c[2]).sin() + nz.sample(&mut rng));
            }
        }
    }
    (
        Activations::from_f64(&data, side * side, d).unwrap(),
        coords,
    )
}

#[test]
fn ordered_sheet_is_phase_c() {
    let (a, coords) = ordered_sheet(32, 0.01, 1);
    let m = compute_metrics(&a, &coords, Some((32, 32)), &MetricConfig::default()).unwrap();
    assert!(
        (m.twonn_multiscale_dim - 2.0).abs() <= 0.2,
        "multiscale TwoNN {}",
        m.twonn_multiscale_dim
    );
    assert!(
        m.r2_x >= 0.95 && m.r2_y >= 0.95,
        "probe R² {} {}",
        m.r2_x,
        m.r2_y
    );
    let c = classify(&m, &PhaseThresholds::default());
    assert_eq!(c.phase, Phase::C, "{}: {:?}", c.reason, c.decided_by);
}

#[test]
fn shuffled_sheet_is_phase_b() {
    let (a, mut coords) = ordered_sheet(32, 0.01, 1);
    coords.shuffle(&mut ChaCha8Rng::seed_from_u64(9));
    let m = compute_metrics(&a, &coords, None, &MetricConfig::default()).unwrap();
    let c = classify(&m, &PhaseThresholds::default());
    assert_eq!(c.phase, Phase::B, "{}: {:?}", c.reason, c.decided_by);
    assert!(
        m.trustworthiness < 0.7 && m.r2_x < 0.2,
        "labels carry no order: T {} R² {}",
        m.trustworthiness,
        m.r2_x
    );
}

#[test]
fn gaussian_cloud_is_phase_a() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let nz = Normal::new(0.0, 1.0).unwrap();
    let n = 1024;
    let data: Vec<f64> = (0..n * 256).map(|_| nz.sample(&mut rng)).collect();
    let a = Activations::from_f64(&data, n, 256).unwrap();
    let coords: Vec<[f64; 2]> = (0..n).map(|i| [(i % 32) as f64, (i / 32) as f64]).collect();
    let m = compute_metrics(&a, &coords, None, &MetricConfig::default()).unwrap();
    let c = classify(&m, &PhaseThresholds::default());
    assert_eq!(c.phase, Phase::A, "{}: {:?}", c.reason, c.decided_by);
    assert!(m.twonn_multiscale_dim > 10.0);
}

#[test]
fn factorized_map_scores_more_factorized_than_a_coupled_one() {
    let side = 12;
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let d = 32;
    // f(x) in dims 0..16, g(y) in dims 16..32: orthogonal subspaces.
    let wx: Vec<f64> = (0..16).map(|_| rng.random_range(0.1..0.5)).collect();
    let wy: Vec<f64> = (0..16).map(|_| rng.random_range(0.1..0.5)).collect();
    let mut fact = Vec::new();
    let mut coupled = Vec::new();
    for y in 0..side {
        for x in 0..side {
            let (xf, yf) = (x as f64, y as f64);
            let mut row = vec![0.0; d];
            for k in 0..16 {
                row[k] = (wx[k] * xf).sin();
                row[16 + k] = (wy[k] * yf).cos();
            }
            fact.extend_from_slice(&row);
            // Rotation-coupled: the angle depends on x and y jointly.
            let mut row = vec![0.0; d];
            for k in 0..16 {
                let ang = wx[k] * xf * (1.0 + 0.1 * yf) + wy[k] * yf;
                row[2 * k] = ang.cos();
                row[2 * k + 1] = ang.sin();
            }
            coupled.extend_from_slice(&row);
        }
    }
    let n = side * side;
    let f = factorization(
        &Activations::from_f64(&fact, n, d).unwrap(),
        (side, side),
        3,
        0,
    )
    .unwrap();
    let c = factorization(
        &Activations::from_f64(&coupled, n, d).unwrap(),
        (side, side),
        3,
        0,
    )
    .unwrap();
    assert!(
        f.parallelogram_error < 1e-9
            && f.metric_offdiag_ratio < 1e-9
            && f.mean_principal_cosine < 1e-6,
        "{f:?}"
    );
    assert!(c.parallelogram_error > 0.1, "{c:?}");
    assert!(c.metric_offdiag_ratio > 0.05, "{c:?}");
    assert!(c.mean_principal_cosine > 0.1, "{c:?}");
}

#[test]
fn pca_recovers_a_planted_spectrum() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let nz = Normal::new(0.0, 1.0).unwrap();
    let planted: [f64; 3] = [9.0, 4.0, 1.0];
    let (n, d) = (4000, 20);
    // Random orthonormal directions from a QR-free Gram–Schmidt on Gaussian vectors.
    let mut dirs: Vec<Vec<f64>> = Vec::new();
    while dirs.len() < 3 {
        let mut v: Vec<f64> = (0..d).map(|_| nz.sample(&mut rng)).collect();
        for u in &dirs {
            let p: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
            v.iter_mut().zip(u).for_each(|(a, b)| *a -= p * b);
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        dirs.push(v.iter().map(|x| x / norm).collect());
    }
    let mut data = Vec::with_capacity(n * d);
    for _ in 0..n {
        let mut row = vec![0.0; d];
        for (u, &var) in dirs.iter().zip(&planted) {
            let z = nz.sample(&mut rng) * var.sqrt();
            row.iter_mut().zip(u).for_each(|(r, b)| *r += z * b);
        }
        data.extend(row);
    }
    let p = pca(&Activations::from_f64(&data, n, d).unwrap(), 3).unwrap();
    for (got, want) in p.spectrum.iter().zip(planted) {
        // Sample variance of n Gaussians: relative standard error √(2/n) ≈ 2.2 %; allow 4 SE.
        assert!((got - want).abs() / want < 0.09, "{got} vs {want}");
    }
    assert!(p.spectrum[3] < 1e-9, "no variance beyond the planted rank");
    assert!((participation_ratio(&planted) - 14.0f64.powi(2) / 98.0).abs() < 1e-12);
    // Gram trick (D > N) gives the same spectrum as the covariance route.
    let small = Activations::from_f64(&data[..30 * d], 30, d).unwrap();
    let wide: Vec<f64> = (0..30)
        .flat_map(|i| {
            let mut r = small.row(i).to_vec();
            r.extend(vec![0.0; 40]);
            r
        })
        .collect();
    let pw = pca(&Activations::from_f64(&wide, 30, d + 40).unwrap(), 5).unwrap();
    let ps = pca(&small, 5).unwrap();
    for (a, b) in pw.spectrum.iter().zip(&ps.spectrum).take(5) {
        assert!((a - b).abs() < 1e-9 * b.abs().max(1.0));
    }
}

#[test]
fn twonn_on_a_uniform_square_is_two() {
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let n = 2000;
    let data: Vec<f64> = (0..2 * n).map(|_| rng.random_range(0.0..1.0)).collect();
    let d = twonn(&Activations::from_f64(&data, n, 2).unwrap()).unwrap();
    assert!((d - 2.0).abs() <= 0.1, "TwoNN {d}");
    let lb = levina_bickel(&Activations::from_f64(&data, n, 2).unwrap(), 10).unwrap();
    assert!((lb - 2.0).abs() <= 0.2, "Levina–Bickel {lb}");
}

#[test]
fn percolation_grows_with_lambda_and_sigma() {
    let mut last = 0.0;
    for lambda in [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0] {
        let r = percolation(&PercolationConfig {
            lambda,
            sigma: 0.5,
            spacing: 1.0,
            threshold: 0.05,
            ..Default::default()
        })
        .unwrap();
        assert!(
            r.largest_mass_ratio >= last,
            "λ {lambda}: {} < {last}",
            r.largest_mass_ratio
        );
        last = r.largest_mass_ratio;
    }
    assert!((last - 1.0).abs() < 1e-12, "full lattice percolates");
    let mut last = 0.0;
    for sigma in [0.1, 0.3, 0.5, 0.7, 1.0, 2.0] {
        let r = percolation(&PercolationConfig {
            lambda: 0.4,
            sigma,
            spacing: 1.0,
            threshold: 0.05,
            ..Default::default()
        })
        .unwrap();
        assert!(
            r.largest_fraction >= last,
            "σ {sigma}: {} < {last}",
            r.largest_fraction
        );
        last = r.largest_fraction;
    }
    let tiny = percolation(&PercolationConfig {
        sigma: 0.1,
        threshold: 0.05,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(tiny.largest, 1, "σ = 0.1: no two neighbours overlap");
}

#[test]
fn generation_phase_follows_the_failure_mix() {
    let g = |accuracy, multi, empty, wrong| {
        classify_generation(
            &GenerationMix {
                accuracy,
                multi_bump_rate: multi,
                empty_rate: empty,
                single_wrong_rate: wrong,
            },
            &GenerationThresholds::default(),
        )
        .phase
    };
    assert_eq!(g(0.0, 0.7, 0.2, 0.1), Phase::A);
    assert_eq!(g(0.1, 0.1, 0.05, 0.75), Phase::B);
    assert_eq!(g(0.95, 0.0, 0.0, 0.05), Phase::C);
}

#[test]
fn bad_input_is_a_typed_error() {
    assert!(matches!(
        Activations::from_f64(&[1.0, f64::NAN], 1, 2),
        Err(Error::NonFinite(_))
    ));
    assert!(matches!(
        Activations::from_f64(&[1.0, 2.0, 3.0], 2, 2),
        Err(Error::LengthMismatch(_))
    ));
    let a = Activations::from_f64(&(0..20).map(|v| v as f64).collect::<Vec<_>>(), 10, 2).unwrap();
    let coords: Vec<[f64; 2]> = (0..10).map(|i| [i as f64, 0.0]).collect();
    assert!(
        matches!(
            compute_metrics(&a, &coords, None, &MetricConfig::default()),
            Err(Error::TooFewPoints { .. })
        ),
        "N <= k"
    );
    let (s, c) = ordered_sheet(6, 0.01, 2);
    assert!(matches!(
        compute_metrics(&s, &c[..35], None, &MetricConfig::default()),
        Err(Error::LengthMismatch(_))
    ));
    assert!(matches!(
        compute_metrics(&s, &c, Some((5, 6)), &MetricConfig::default()),
        Err(Error::GridMismatch { .. })
    ));
    let mut bad = c.clone();
    bad[3][0] = f64::INFINITY;
    assert!(matches!(
        compute_metrics(&s, &bad, None, &MetricConfig::default()),
        Err(Error::NonFinite(_))
    ));
    assert!(matches!(
        trustworthiness(&[0.0; 4], &[0.0; 4], 2, 5),
        Err(Error::TooFewPoints { .. })
    ));
    assert!(matches!(
        Activations::from_f32(&[1.0, f32::INFINITY], 2, 1),
        Err(Error::NonFinite(_))
    ));
    assert!(matches!(
        factorization(&s, (6, 5), 3, 0),
        Err(Error::GridMismatch { .. })
    ));
    assert!(matches!(
        ridge_cv_r2(&s, &[0.0; 35], 5, 1e-3, 0),
        Err(Error::LengthMismatch(_))
    ));
    assert!(matches!(
        knn_r2(&[0.0; 36], &[0.0; 6], 6),
        Err(Error::TooFewPoints { .. })
    ));
    assert!(matches!(
        compute_metrics(&s, &c, None, &MetricConfig::default().with_k(1)),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        compute_metrics(
            &s,
            &c,
            None,
            &MetricConfig::default().with_ridge_alpha(f64::NAN)
        ),
        Err(Error::InvalidArgument(_))
    ));
    // Two far-apart clusters: the k-NN graph is disconnected.
    let two: Vec<f64> = (0..40)
        .map(|i| {
            if i < 20 {
                i as f64 * 0.01
            } else {
                1e3 + i as f64 * 0.01
            }
        })
        .collect();
    let two = Activations::from_f64(&two, 40, 1).unwrap();
    assert!(matches!(
        isomap_2d(&two, 5),
        Err(Error::Disconnected { k: 5 })
    ));
}

#[test]
fn degenerate_representations_are_measured_not_rejected() {
    // All points identical (a collapsed layer): dimension 0, nothing decodable, phase A.
    let n = 64;
    let a = Activations::from_f64(&vec![0.5; n * 16], n, 16).unwrap();
    let coords: Vec<[f64; 2]> = (0..n).map(|i| [(i % 8) as f64, (i / 8) as f64]).collect();
    let m = compute_metrics(&a, &coords, Some((8, 8)), &MetricConfig::default()).unwrap();
    assert_eq!(m.twonn_multiscale_dim, 0.0);
    assert_eq!(m.mle_dim, 0.0);
    // Held-out predictions are training-fold means: slightly worse than the global mean.
    assert!(m.r2_x <= 0.0 && m.r2_y <= 0.0, "{} {}", m.r2_x, m.r2_y);
    assert_eq!(classify(&m, &PhaseThresholds::default()).phase, Phase::A);
    // Far-apart clusters: Isomap-based values are NaN, the rest are still computed.
    let data: Vec<f64> = (0..n)
        .flat_map(|i| {
            let off = if i < n / 2 { 0.0 } else { 1e4 };
            [off + (i % 8) as f64, (i / 8) as f64]
        })
        .collect();
    let a = Activations::from_f64(&data, n, 2).unwrap();
    let m = compute_metrics(&a, &coords, None, &MetricConfig::default()).unwrap();
    assert!(m.procrustes_disparity.is_nan() && m.spearman_geodesic.is_nan());
    assert!(m.trustworthiness.is_finite() && m.spearman_euclidean.is_finite());
}
