//! Closed-form answers and invariants of single metrics.

use bump_analysis::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn grid_coords(side: usize) -> Vec<[f64; 2]> {
    (0..side * side)
        .map(|i| [(i % side) as f64, (i / side) as f64])
        .collect()
}

/// Rows f(x, y) over a side×side grid (row iy·side + ix).
fn grid_map(side: usize, d: usize, f: impl Fn(f64, f64) -> Vec<f64>) -> Activations {
    let data: Vec<f64> = grid_coords(side)
        .iter()
        .flat_map(|c| {
            let row = f(c[0], c[1]);
            assert_eq!(row.len(), d);
            row
        })
        .collect();
    Activations::from_f64(&data, side * side, d).unwrap()
}

#[test]
fn linear_map_factorization_is_the_cosine_between_its_columns() {
    // f(x, y) = x·u + y·v with |u| = 1, |v| = 2 and cos∠(u, v) = cos θ: the metric tensor's
    // off-diagonal ratio and the single principal cosine are |cos θ|; a linear map is additive,
    // so the parallelogram error is 0.
    for theta in [0.3f64, 1.0, std::f64::consts::FRAC_PI_2] {
        let (u, v) = ([1.0, 0.0, 0.0], [2.0 * theta.cos(), 2.0 * theta.sin(), 0.0]);
        let a = grid_map(8, 3, |x, y| (0..3).map(|k| x * u[k] + y * v[k]).collect());
        let f = factorization(&a, (8, 8), 3, 0).unwrap();
        let want = theta.cos().abs();
        assert!((f.metric_offdiag_ratio - want).abs() < 1e-12, "{f:?}");
        assert_eq!(f.principal_cosines.len(), 1, "rank-1 difference subspaces");
        assert!((f.principal_cosines[0] - want).abs() < 1e-9, "{f:?}");
        assert!(f.parallelogram_error < 1e-12, "{f:?}");
    }
}

/// f(x, y) = g(u) + h(v) with (u, v) the grid coordinates rotated by θ, and g, h smooth curves
/// in orthogonal 6-dimensional subspaces (h with a larger speed than g). θ = 0 is factorized;
/// θ ≠ 0 codes rotated coordinates, so both code subspaces move with both x and y.
fn rotation_coupled(side: usize, theta: f64) -> Activations {
    let freqs = [0.11, 0.17, 0.23];
    grid_map(side, 12, |x, y| {
        let u = x * theta.cos() - y * theta.sin();
        let v = x * theta.sin() + y * theta.cos();
        let mut row = Vec::with_capacity(12);
        for f in freqs {
            row.extend([(f * u).cos(), (f * u).sin()]);
        }
        for f in freqs {
            row.extend([2.0 * (f * v).cos(), 2.0 * (f * v).sin()]);
        }
        row
    })
}

#[test]
fn rotation_coupled_map_is_less_factorized_than_the_additive_one() {
    let side = 16;
    let f0 = factorization(&rotation_coupled(side, 0.0), (side, side), 3, 1).unwrap();
    assert!(
        f0.parallelogram_error < 1e-12 && f0.metric_offdiag_ratio < 1e-12,
        "{f0:?}"
    );
    assert!(f0.mean_principal_cosine < 1e-9, "{f0:?}");
    let mut last = f0.clone();
    for theta in [0.2, 0.5, std::f64::consts::FRAC_PI_4] {
        let f = factorization(&rotation_coupled(side, theta), (side, side), 3, 1).unwrap();
        assert!(
            f.parallelogram_error > last.parallelogram_error
                && f.metric_offdiag_ratio > last.metric_offdiag_ratio
                && f.mean_principal_cosine > last.mean_principal_cosine,
            "θ = {theta}: {f:?} not less factorized than {last:?}"
        );
        last = f;
    }
    assert!(
        last.parallelogram_error > 0.1
            && last.metric_offdiag_ratio > 0.2
            && last.mean_principal_cosine > 0.5,
        "θ = π/4: {last:?}"
    );
}

#[test]
fn identical_geometry_scores_perfect_order() {
    // Random (tie-free) points isometrically embedded in R^5 by a rotation plus zero padding:
    // every order metric is at its optimum and the probes decode both axes. (On a lattice,
    // distance shells tie and T(k) depends on how ties are broken; scikit-learn shares this.)
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let coords: Vec<[f64; 2]> = (0..300)
        .map(|_| [rng.random_range(0.0..20.0), rng.random_range(0.0..20.0)])
        .collect();
    let (c, s) = (0.6, 0.8);
    let data: Vec<f64> = coords
        .iter()
        .flat_map(|p| [c * p[0] - s * p[1], s * p[0] + c * p[1], 0.0, 0.0, 0.0])
        .collect();
    let a = Activations::from_f64(&data, coords.len(), 5).unwrap();
    let m = compute_metrics(&a, &coords, None, &MetricConfig::default()).unwrap();
    for (name, v) in [
        ("T", m.trustworthiness),
        ("C", m.continuity),
        ("overlap", m.knn_overlap),
        ("ρ", m.spearman_euclidean),
        ("ρ local", m.spearman_local),
    ] {
        assert!((v - 1.0).abs() < 1e-12, "{name} = {v}");
    }
    assert!(m.r2_x > 0.999 && m.r2_y > 0.999, "{} {}", m.r2_x, m.r2_y);
    assert!(m.r2_x_pcs > 0.999 && m.r2_y_pcs > 0.999);
    assert!(m.procrustes_disparity < 1e-2, "{}", m.procrustes_disparity);
    assert!(m.participation_ratio < 2.0 + 1e-9 && m.participation_ratio > 1.8);
}

#[test]
fn isomap_unrolls_a_rolled_sheet() {
    // A 20×20 sheet rolled around the z axis (a quarter-to-three-quarter turn spiral): straight-
    // line distances cut across the roll, geodesics follow it.
    let side = 20;
    let a = grid_map(side, 3, |x, y| {
        let t = 1.5 + 3.0 * x / (side - 1) as f64;
        let r = 2.0 + 0.8 * t;
        vec![r * t.cos(), r * t.sin(), 6.0 * y / (side - 1) as f64]
    });
    let coords: Vec<[f64; 2]> = grid_coords(side);
    let emb = isomap_2d(&a, 8).unwrap();
    // Arc length is not linear in x, so compare with the arc-length parametrisation.
    let arc = |x: f64| {
        let steps = 2000;
        let (t0, t1) = (1.5, 1.5 + 3.0 * x / (side - 1) as f64);
        (0..steps)
            .map(|i| {
                let t = t0 + (t1 - t0) * (i as f64 + 0.5) / steps as f64;
                ((2.0 + 0.8 * t).powi(2) + 0.64).sqrt() * (t1 - t0) / steps as f64
            })
            .sum::<f64>()
    };
    let unrolled: Vec<[f64; 2]> = coords
        .iter()
        .map(|c| [arc(c[0]), 6.0 * c[1] / (side - 1) as f64])
        .collect();
    let iso = procrustes_disparity(&unrolled, &emb).unwrap();
    let p = pca(&a, 2).unwrap().projections_2d();
    let flat = procrustes_disparity(&unrolled, &p).unwrap();
    assert!(iso < 0.01, "Isomap disparity {iso}");
    assert!(
        flat > 5.0 * iso,
        "PCA cannot unroll: {flat} vs Isomap {iso}"
    );
}

#[test]
fn spearman_is_invariant_to_monotone_distortion() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let n = 50;
    let a: Vec<f64> = (0..n * n).map(|_| rng.random_range(0.0..10.0)).collect();
    let sym: Vec<f64> = (0..n * n)
        .map(|t| {
            let (i, j) = (t / n, t % n);
            if i == j {
                0.0
            } else {
                a[i.min(j) * n + i.max(j)]
            }
        })
        .collect();
    let warped: Vec<f64> = sym.iter().map(|d| d.powi(3) + d.exp()).collect();
    let (all, local) = spearman_distances(&sym, &warped, n, 5).unwrap();
    assert!((all - 1.0).abs() < 1e-12 && (local - 1.0).abs() < 1e-12);
    let negated: Vec<f64> = sym.iter().map(|d| 100.0 - d).collect();
    let (all, _) = spearman_distances(&sym, &negated, n, 5).unwrap();
    assert!(
        (all + 1.0).abs() < 1e-12,
        "reversed order gives ρ = −1: {all}"
    );
}

#[test]
fn percolation_link_radius_is_exact() {
    // exp(−s²/(4σ²)) > θ  ⇔  s < 2σ√(−ln θ) = 3.4616… for σ = 1, θ = 0.05.
    let base = PercolationConfig::default()
        .with_sigma(1.0)
        .with_threshold(0.05)
        .with_n(40);
    let linked = percolation(&base.with_spacing(3.45)).unwrap();
    assert_eq!(
        linked.largest, linked.kept,
        "spacing below the radius: one cluster"
    );
    let apart = percolation(&base.with_spacing(3.47)).unwrap();
    assert_eq!(apart.largest, 1, "spacing above the radius: isolated nodes");
    // Diagonal neighbours: √2·2.4 = 3.39 < 3.46 links them; at 2.5 only the axis ones link.
    // Either way, with everything kept, the lattice is one cluster.
    assert_eq!(
        percolation(&base.with_spacing(2.5))
            .unwrap()
            .largest_fraction,
        1.0
    );
}

#[test]
fn percolation_keeps_each_centre_with_probability_lambda() {
    let cfg = PercolationConfig::default().with_n(100).with_lambda(0.3);
    let mut kept = 0usize;
    for seed in 0..5 {
        let r = percolation(&cfg.with_seed(seed)).unwrap();
        assert_eq!(r.total, 10_000);
        kept += r.kept;
    }
    // 50,000 Bernoulli(0.3) draws: standard error 0.002 of the fraction; allow 5 SE.
    let frac = kept as f64 / 50_000.0;
    assert!((frac - 0.3).abs() < 0.01, "kept fraction {frac}");
    let none = percolation(&cfg.with_lambda(0.0)).unwrap();
    assert_eq!(
        (none.kept, none.largest, none.largest_fraction),
        (0, 0, 0.0)
    );
    assert!(matches!(
        percolation(&cfg.with_lambda(1.5)),
        Err(Error::InvalidArgument(_))
    ));
}

fn metrics(id: f64, trust: f64, rho: f64, r2: f64) -> RepresentationMetrics {
    RepresentationMetrics {
        n: 100,
        d: 8,
        twonn_multiscale_dim: id,
        twonn_dim: id,
        mle_dim: id,
        participation_ratio: 2.0,
        explained_variance_top: vec![0.5, 0.5],
        r2_x: r2,
        r2_y: r2,
        r2_x_pcs: r2,
        r2_y_pcs: r2,
        knn_r2_x: r2,
        knn_r2_y: r2,
        trustworthiness: trust,
        continuity: trust,
        knn_overlap: 0.5,
        spearman_euclidean: 0.1,
        spearman_geodesic: rho,
        spearman_local: rho,
        procrustes_disparity: 0.1,
        factorization: None,
    }
}

#[test]
fn classifier_rules_fire_in_order_at_the_default_thresholds() {
    let t = PhaseThresholds::default();
    let phase = |m: &RepresentationMetrics| classify(m, &t).phase;
    assert_eq!(phase(&metrics(2.0, 0.95, 0.85, 0.95)), Phase::C);
    // Exactly at every C threshold is still C.
    assert_eq!(phase(&metrics(3.0, 0.9, 0.8, 0.9)), Phase::C);
    assert_eq!(phase(&metrics(1.5, 0.9, 0.8, 0.9)), Phase::C);
    // Each C condition failing alone gives B.
    assert_eq!(phase(&metrics(2.0, 0.89, 0.85, 0.95)), Phase::B);
    assert_eq!(phase(&metrics(2.0, 0.95, 0.79, 0.95)), Phase::B);
    assert_eq!(phase(&metrics(2.0, 0.95, 0.85, 0.89)), Phase::B);
    // Scrambled 2D sheet: low T is still B (the 2D band is checked first).
    assert_eq!(phase(&metrics(2.0, 0.5, 0.0, 0.0)), Phase::B);
    // Outside the band: A, whatever the order metrics say.
    assert_eq!(phase(&metrics(3.01, 0.99, 0.99, 0.99)), Phase::A);
    assert_eq!(phase(&metrics(1.2, 0.99, 0.99, 0.99)), Phase::A);
    assert_eq!(phase(&metrics(f64::NAN, 0.99, 0.99, 0.99)), Phase::A);
    // The geodesic ρ is used when finite, the Euclidean one (0.1 here) otherwise.
    let mut m = metrics(2.0, 0.95, 0.85, 0.95);
    m.spearman_geodesic = f64::NAN;
    assert_eq!(order_rho(&m), 0.1);
    assert_eq!(phase(&m), Phase::B);
    // The classification names the values it used.
    let c = classify(&metrics(2.0, 0.95, 0.85, 0.95), &t);
    assert!(c
        .decided_by
        .contains(&("trustworthiness".to_string(), 0.95)));
    assert_eq!(Phase::C.to_string(), "C");
    assert_eq!(serde_json::to_string(&Phase::B).unwrap(), "\"B\"");
}
