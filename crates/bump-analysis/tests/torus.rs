//! Known-answer tests of the torus factorization statistics (issue 15).

use std::f64::consts::{PI, TAU};

use bump_analysis::{
    clifford_torus, distances_to_ideals, torus_3d, torus_distance, torus_stats, Activations, Error,
    TorusStatsConfig,
};
use faer::Mat;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

const NX: usize = 16;
const NY: usize = 12;

fn cfg() -> TorusStatsConfig {
    TorusStatsConfig::default()
}

/// A seeded random orthogonal D×D matrix (QR of a Gaussian matrix).
fn rotation(d: usize, seed: u64) -> Mat<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let g: Mat<f64> = Mat::from_fn(d, d, |_, _| StandardNormal.sample(&mut rng));
    g.qr().compute_Q()
}

/// `x` padded with zeros to D columns, rotated by a random orthogonal matrix, scaled by `s` and
/// shifted by a random offset.
fn embed(x: &Activations, d: usize, s: f64, seed: u64) -> Activations {
    let q = rotation(d, seed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed + 1);
    let offset: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
    let mut out = Vec::with_capacity(x.n() * d);
    for i in 0..x.n() {
        let row = x.row(i);
        for (j, o) in offset.iter().enumerate() {
            let v: f64 = row.iter().enumerate().map(|(k, r)| q[(j, k)] * r).sum();
            out.push(s * v + o);
        }
    }
    Activations::from_f64(&out, x.n(), d).unwrap()
}

fn with_noise(x: &Activations, sd: f64, seed: u64) -> Activations {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let v: Vec<f64> = x
        .as_slice()
        .iter()
        .map(|a| {
            let e: f64 = StandardNormal.sample(&mut rng);
            a + sd * e
        })
        .collect();
    Activations::from_f64(&v, x.n(), x.d()).unwrap()
}

#[test]
fn clifford_torus_has_orthogonal_factors_and_zero_self_distance() {
    let c = torus_stats(&clifford_torus(NX, NY).unwrap(), NX, NY, &cfg()).unwrap();
    assert!(c.x_on_y.mean_abs < 1e-12, "{:?}", c.x_on_y.mean_abs);
    assert_eq!(c.x_on_y.pairs, (NX * NY) * (NX * NY));
    assert_eq!(c.x_on_x.pairs, (NX * NY) * (NX * NY - 1) / 2);
    assert_eq!(c.degenerate, [0, 0]);
    let d = torus_distance(&c, &c).unwrap();
    assert_eq!(d.mean, 0.0);
    // x-on-x: the chord from θᵢ to θᵢ₊₁ points along θᵢ + π/2 + π/nx, so two chords have cosine
    // cos(2π(i − k)/nx). Mean over all pairs of distinct grid points (i, j) ≠ (k, l).
    let mut sum = 0.0;
    let mut count = 0usize;
    for p in 0..NX * NY {
        for q in p + 1..NX * NY {
            sum += (TAU * ((p % NX) as f64 - (q % NX) as f64) / NX as f64).cos();
            count += 1;
        }
    }
    assert!((c.x_on_x.mean - sum / count as f64).abs() < 1e-12);
    // The histogram holds every pair.
    assert_eq!(c.x_on_y.histogram.iter().sum::<usize>(), c.x_on_y.pairs);
    assert_eq!(
        c.x_on_y.histogram[c.x_on_y.histogram.len() / 2],
        c.x_on_y.pairs
    );
}

#[test]
fn torus_3d_x_on_y_matches_its_closed_form() {
    // x around the axis (φ), y on the tube (θ). The φ-chord at φ̄ᵢ = φᵢ + π/nx points along
    // (−sin φ̄ᵢ, cos φ̄ᵢ, 0); the θ-chord at (φₖ, θ̄ₗ) along
    // (−sin θ̄ₗ cos φₖ, −sin θ̄ₗ sin φₖ, cos θ̄ₗ). Their cosine is sin θ̄ₗ · sin(φ̄ᵢ − φₖ), so the
    // mean |cos| factorises over the grid.
    let t = torus_stats(&torus_3d(NX, NY, 2.0, 1.0, false).unwrap(), NX, NY, &cfg()).unwrap();
    let mean_abs_sin_theta = (0..NY)
        .map(|l| (TAU * l as f64 / NY as f64 + PI / NY as f64).sin().abs())
        .sum::<f64>()
        / NY as f64;
    let mut s = 0.0;
    for i in 0..NX {
        for k in 0..NX {
            let phi_bar = TAU * i as f64 / NX as f64 + PI / NX as f64;
            s += (phi_bar - TAU * k as f64 / NX as f64).sin().abs();
        }
    }
    let want = mean_abs_sin_theta * s / (NX * NX) as f64;
    assert!(
        (t.x_on_y.mean_abs - want).abs() < 1e-12,
        "{} vs {want}",
        t.x_on_y.mean_abs
    );
    // Near (2/π)² ≈ 0.405 on a fine grid: far from the Clifford torus's 0.
    assert!(t.x_on_y.mean_abs > 0.35);
    // x-on-x is the same as the Clifford torus's (chords around the axis depend on φ only).
    let c = torus_stats(&clifford_torus(NX, NY).unwrap(), NX, NY, &cfg()).unwrap();
    let d = torus_distance(&t, &c).unwrap();
    assert!(d.x_on_x < 1e-12, "{d:?}");
    assert!(d.x_on_y > 0.1 && d.y_on_y > 0.05, "{d:?}");
}

#[test]
fn statistics_do_not_depend_on_radii_rotation_scale_or_embedding() {
    let c = clifford_torus(NX, NY).unwrap();
    let base = torus_stats(&c, NX, NY, &cfg()).unwrap();
    for (d, s, seed) in [(4, 1.0, 1), (20, 0.01, 2), (64, 300.0, 3)] {
        let moved = torus_stats(&embed(&c, d, s, seed), NX, NY, &cfg()).unwrap();
        let dist = torus_distance(&moved, &base).unwrap();
        assert!(dist.mean < 1e-9, "D {d} scale {s}: {dist:?}");
        assert!(moved.x_on_y.mean_abs < 1e-9);
    }
    let a = torus_stats(&torus_3d(NX, NY, 2.0, 1.0, true).unwrap(), NX, NY, &cfg()).unwrap();
    let b = torus_stats(&torus_3d(NX, NY, 5.0, 0.5, true).unwrap(), NX, NY, &cfg()).unwrap();
    assert!(torus_distance(&a, &b).unwrap().mean < 1e-9);
}

#[test]
fn the_distance_separates_the_two_ideals() {
    let clif = clifford_torus(NX, NY).unwrap();
    let (_, d) = distances_to_ideals(&clif, NX, NY, &cfg()).unwrap();
    eprintln!("Clifford torus on {NX}×{NY}: {d:?}");
    assert!(d.clifford.mean < 1e-12, "{d:?}");
    assert!(d.torus_3d.mean > 0.1, "{d:?}");
    for x_on_tube in [false, true] {
        let t = torus_3d(NX, NY, 2.0, 1.0, x_on_tube).unwrap();
        let (_, d) = distances_to_ideals(&embed(&t, 10, 3.0, 7), NX, NY, &cfg()).unwrap();
        assert!(d.torus_3d.mean < 1e-9, "{d:?}");
        assert_eq!(d.torus_3d_x_on_tube, x_on_tube);
        assert!(d.clifford.mean > 0.1, "{d:?}");
    }
    // With noise (5 % of the radius per coordinate, 32 dimensions) each ideal stays nearer to
    // itself than to the other.
    let noisy_c = with_noise(&embed(&clif, 32, 1.0, 9), 0.05, 10);
    let (_, d) = distances_to_ideals(&noisy_c, NX, NY, &cfg()).unwrap();
    eprintln!("noisy Clifford: {d:?}");
    assert!(d.clifford.mean < d.torus_3d.mean, "{d:?}");
    let noisy_t = with_noise(
        &embed(&torus_3d(NX, NY, 2.0, 1.0, false).unwrap(), 32, 1.0, 11),
        0.05,
        12,
    );
    let (_, d) = distances_to_ideals(&noisy_t, NX, NY, &cfg()).unwrap();
    eprintln!("noisy 3D torus: {d:?}");
    assert!(d.torus_3d.mean < d.clifford.mean, "{d:?}");
}

#[test]
fn bad_input_is_a_typed_error() {
    let c = clifford_torus(NX, NY).unwrap();
    assert!(matches!(
        torus_stats(&c, NX, NY + 1, &cfg()),
        Err(Error::GridMismatch { .. })
    ));
    assert!(clifford_torus(2, 5)
        .unwrap_err()
        .to_string()
        .contains("2×5"));
    let e = torus_3d(4, 4, 1.0, 2.0, false).unwrap_err();
    assert!(e.to_string().contains("R = 1"), "{e}");
    let flat = Activations::from_f64(&vec![1.0; NX * NY * 3], NX * NY, 3).unwrap();
    let e = torus_stats(&flat, NX, NY, &cfg()).unwrap_err();
    assert!(e.to_string().contains("constant"), "{e}");
    let bad = TorusStatsConfig { bins: 0, ..cfg() };
    assert!(torus_stats(&c, NX, NY, &bad).is_err());
}
