//! Scorer acceptance tests (issue 2, "scoring generated images").

use bump_data::{
    render_bumps_max, render_image, score_batch, score_image, Error, FailureClass, ImageScore,
    Pattern, Polarity, RenderConfig, ScoreConfig, ScoreReport,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

fn centres_for_accuracy() -> Vec<[f64; 2]> {
    vec![
        [16.0, 16.0],
        [16.3, 15.7],
        [10.5, 20.5],
        [7.25, 23.9],
        [0.3, 0.6],   // within 1 px of the top-left border
        [31.0, 30.4], // within 1 px of the bottom-right border
        [0.0, 17.2],
        [12.1, 31.0],
        [30.75, 0.45],
    ]
}

#[test]
fn render_then_score_recovers_centre_within_005_px() {
    for sigma in [0.5, 1.0, 2.0] {
        for polarity in [Polarity::DarkOnBright, Polarity::BrightOnDark] {
            let cfg = RenderConfig::default()
                .with_sigma(sigma)
                .with_polarity(polarity);
            let sc = ScoreConfig::for_sigma(sigma).with_polarity(polarity);
            for c in centres_for_accuracy() {
                let img = render_image(&cfg, Pattern::Bump, c).unwrap();
                let s = score_image(&img, 32, [c[0] as f32, c[1] as f32], &sc).unwrap();
                assert_eq!(s.count, 1, "sigma {sigma} centre {c:?}: {s:?}");
                assert_eq!(s.count_peaks, 1, "sigma {sigma} centre {c:?}: {s:?}");
                let e = s.error.unwrap();
                assert!(
                    e[0].abs() <= 0.05 && e[1].abs() <= 0.05,
                    "sigma {sigma} {polarity:?} centre {c:?}: error {e:?}"
                );
                assert!(s.correct && s.correct_tight && s.x_ok && s.y_ok);
                assert_eq!(s.failure, FailureClass::Correct);
            }
        }
    }
}

#[test]
fn centroid_alone_is_close_for_interior_bumps() {
    // Without refinement the centroid still lands within τ = 1 px for interior centres.
    let sc = ScoreConfig::default().with_refine(false);
    let cfg = RenderConfig::default();
    let img = render_image(&cfg, Pattern::Bump, [16.4, 9.8]).unwrap();
    let s = score_image(&img, 32, [16.4, 9.8], &sc).unwrap();
    assert!(!s.refined);
    let e = s.error.unwrap();
    assert!(e[0].abs() < 0.5 && e[1].abs() < 0.5, "{e:?}");
}

#[test]
fn refinement_is_what_reaches_005_px_at_the_border_and_small_sigma() {
    // The truncated / undersampled centroid misses by more than 0.05 px; the fit does not.
    for (sigma, c) in [(2.0, [0.3, 16.0]), (0.5, [16.3, 16.0])] {
        let img =
            render_image(&RenderConfig::default().with_sigma(sigma), Pattern::Bump, c).unwrap();
        let t = [c[0] as f32, c[1] as f32];
        let raw = score_image(&img, 32, t, &ScoreConfig::default().with_refine(false)).unwrap();
        let fit = score_image(&img, 32, t, &ScoreConfig::default()).unwrap();
        assert!(raw.error.unwrap()[0].abs() > 0.05, "{raw:?}");
        assert!(fit.refined && fit.error.unwrap()[0].abs() < 1e-3, "{fit:?}");
    }
}

#[test]
fn wrong_target_is_single_wrong_with_per_axis_flags() {
    let cfg = RenderConfig::default();
    let img = render_image(&cfg, Pattern::Bump, [10.0, 20.0]).unwrap();
    // x off by 3, y off by 0.7: x fails, y passes at τ = 1 but not at 0.5.
    let s = score_image(&img, 32, [13.0, 20.7], &ScoreConfig::default()).unwrap();
    assert_eq!(s.count, 1);
    assert!(!s.x_ok && s.y_ok && !s.correct && !s.correct_tight);
    assert_eq!(s.failure, FailureClass::SingleWrong);
    let e = s.error.unwrap();
    assert!(
        (e[0] + 3.0).abs() < 1e-3 && (e[1] + 0.7).abs() < 1e-3,
        "{e:?}"
    );
    // Between the two tolerances.
    let s = score_image(&img, 32, [10.7, 20.0], &ScoreConfig::default()).unwrap();
    assert!(s.correct && !s.correct_tight);
}

#[test]
fn blank_image_counts_zero() {
    for v in [-1.0f32, 0.0, 1.0] {
        let img = vec![v; 32 * 32];
        let s = score_image(&img, 32, [16.0, 16.0], &ScoreConfig::default()).unwrap();
        assert_eq!((s.count, s.count_peaks), (0, 0));
        assert_eq!(s.failure, FailureClass::Empty);
        assert!(!s.correct);
    }
    // A faint bump below the minimum amplitude is also empty.
    let cfg = RenderConfig::default().with_range(-0.1, 0.1);
    let img = render_image(&cfg, Pattern::Bump, [16.0, 16.0]).unwrap();
    let s = score_image(&img, 32, [16.0, 16.0], &ScoreConfig::default()).unwrap();
    assert_eq!(s.failure, FailureClass::Empty);
}

#[test]
fn two_bumps_three_sigma_apart_count_two_peaks() {
    // Rule 3b (peaks, NMS at 2σ) separates bumps ≥ 3σ apart for σ = 1 and 2, at any orientation.
    for sigma in [1.0, 2.0] {
        let cfg = RenderConfig::default().with_sigma(sigma);
        let sc = ScoreConfig::for_sigma(sigma);
        for (dx, dy) in [(3.0, 0.0), (0.0, 3.0), (2.2, 2.2), (4.0, 1.0), (5.0, 0.0)] {
            for base in [[8.0, 9.0], [8.5, 9.5], [8.3, 9.7]] {
                let a = base;
                let b = [base[0] + dx * sigma, base[1] + dy * sigma];
                let img = render_bumps_max(&cfg, &[a, b]).unwrap();
                let s = score_image(&img, 32, [a[0] as f32, a[1] as f32], &sc).unwrap();
                assert_eq!(s.count_peaks, 2, "sigma {sigma} {a:?} {b:?}: {s:?}");
                assert!(!s.correct);
            }
        }
    }
}

/// Two bumps of width `sigma`, the first at each of three sub-pixel alignments (integer,
/// half-pixel, arbitrary) and the second offset from it by `offsets` in units of σ, each image
/// scored against the first bump: `(first, second, score)`.
fn score_bump_pairs(sigma: f64, offsets: &[(f64, f64)]) -> Vec<([f64; 2], [f64; 2], ImageScore)> {
    let cfg = RenderConfig::default().with_sigma(sigma);
    let sc = ScoreConfig::for_sigma(sigma);
    let mut out = Vec::new();
    for &(dx, dy) in offsets {
        for base in [[8.0, 9.0], [8.5, 9.5], [8.3, 9.7]] {
            let b = [base[0] + dx * sigma, base[1] + dy * sigma];
            let img = render_bumps_max(&cfg, &[base, b]).unwrap();
            let s = score_image(&img, 32, [base[0] as f32, base[1] as f32], &sc).unwrap();
            out.push((base, b, s));
        }
    }
    out
}

#[test]
fn two_bumps_three_sigma_apart_count_two_components() {
    // Rule 3a (canonical), with merged components split by their NMS peaks: bumps ≥ 3σ apart
    // count 2 for σ = 1, 1.5 and 2, along the axes, the diagonal and oblique directions, at
    // integer, half-pixel and arbitrary sub-pixel alignments.
    for sigma in [1.0, 1.5, 2.0] {
        let offsets = [(3.0, 0.0), (0.0, 3.0), (2.2, 2.2), (3.0, 1.0), (4.0, 0.0)];
        for (base, b, s) in score_bump_pairs(sigma, &offsets) {
            assert_eq!(s.count, 2, "sigma {sigma} {base:?} {b:?}: {s:?}");
            assert_eq!(s.failure, FailureClass::MultiBump);
            assert!(!s.correct);
        }
    }
    // σ = 0.5 is under-sampled (half-maximum width 1.18 px): 3σ = 1.5 px is below the pixel
    // grid's resolution (at integer alignment no pixel between the centres is lower than its
    // neighbours), and the brightest pixel of a bump ranges from 1 (integer centre) to e⁻¹
    // (centre at a pixel corner), so a corner-centred bump beside an integer-centred one falls
    // below half of A. Guarantee for σ = 0.5: two bumps with the same sub-pixel phase, ≥ 6σ = 3 px
    // apart, count 2.
    let offsets = [(6.0, 0.0), (0.0, 6.0), (6.0, 6.0), (6.0, 2.0), (8.0, 0.0)];
    for (base, b, s) in score_bump_pairs(0.5, &offsets) {
        assert_eq!(s.count, 2, "sigma 0.5 {base:?} {b:?}: {s:?}");
    }
    // Well-separated bumps count 2 for every σ.
    for sigma in [0.5, 1.0, 2.0] {
        let cfg = RenderConfig::default().with_sigma(sigma);
        let img = render_bumps_max(&cfg, &[[6.0, 6.0], [24.5, 20.0]]).unwrap();
        let s = score_image(&img, 32, [6.0, 6.0], &ScoreConfig::for_sigma(sigma)).unwrap();
        assert_eq!((s.count, s.count_peaks), (2, 2), "sigma {sigma}");
    }
    // Three bumps count 3.
    let cfg = RenderConfig::default();
    let img = render_bumps_max(&cfg, &[[5.0, 5.0], [20.0, 5.0], [12.0, 25.0]]).unwrap();
    let s = score_image(&img, 32, [5.0, 5.0], &ScoreConfig::default()).unwrap();
    assert_eq!((s.count, s.count_peaks), (3, 3));
}

#[test]
fn min_area_drops_small_components() {
    // σ = 0.5 at an integer centre thresholds to a single pixel: min_area 2 removes it.
    let cfg = RenderConfig::default().with_sigma(0.5);
    let img = render_image(&cfg, Pattern::Bump, [16.0, 16.0]).unwrap();
    let s1 = score_image(&img, 32, [16.0, 16.0], &ScoreConfig::default()).unwrap();
    assert_eq!(s1.count, 1);
    let s2 = score_image(
        &img,
        32,
        [16.0, 16.0],
        &ScoreConfig::default().with_min_area(2),
    )
    .unwrap();
    assert_eq!(s2.count, 0);
    assert_eq!(s2.failure, FailureClass::Empty);
}

#[test]
fn pure_noise_is_never_correct() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let draws = 1000;
    let mut images = Vec::with_capacity(draws * 1024);
    for _ in 0..draws * 1024 {
        let z: f64 = StandardNormal.sample(&mut rng);
        images.push(z as f32);
    }
    let targets: Vec<[f32; 2]> = (0..draws)
        .map(|i| [(i % 32) as f32, ((i / 32) % 32) as f32])
        .collect();
    let r = score_batch(&images, 32, &targets, &ScoreConfig::default()).unwrap();
    assert_eq!(r.count, draws);
    assert_eq!(r.per_image.iter().filter(|s| s.correct).count(), 0);
    assert_eq!(r.accuracy, 0.0);
    // Noise looks like many bumps, not one.
    assert!(r.multi_bump_rate > 0.99, "{}", r.multi_bump_rate);
}

#[test]
fn batch_report_aggregates_exactly() {
    let cfg = RenderConfig::default();
    let mut images = Vec::new();
    let mut targets = Vec::new();
    // 0: correct; 1: x wrong by 2; 2: two bumps; 3: blank; 4: correct, dy = 0.6 (fails τ = 0.5).
    images.extend(render_image(&cfg, Pattern::Bump, [10.0, 10.0]).unwrap());
    targets.push([10.0, 10.0]);
    images.extend(render_image(&cfg, Pattern::Bump, [12.0, 10.0]).unwrap());
    targets.push([14.0, 10.0]);
    images.extend(render_bumps_max(&cfg, &[[5.0, 5.0], [25.0, 25.0]]).unwrap());
    targets.push([5.0, 5.0]);
    images.extend(vec![1.0f32; 1024]);
    targets.push([5.0, 5.0]);
    images.extend(render_image(&cfg, Pattern::Bump, [20.0, 20.6]).unwrap());
    targets.push([20.0, 20.0]);
    let r = score_batch(&images, 32, &targets, &ScoreConfig::default()).unwrap();
    assert_eq!(r.count, 5);
    assert_eq!(r.single_count, 3);
    assert!((r.accuracy - 0.4).abs() < 1e-12);
    assert!((r.acc_x - 0.4).abs() < 1e-12);
    assert!((r.acc_y - 0.6).abs() < 1e-12);
    assert!((r.accuracy_single.unwrap() - 2.0 / 3.0).abs() < 1e-12);
    assert!((r.acc_x_single.unwrap() - 2.0 / 3.0).abs() < 1e-12);
    assert!((r.acc_y_single.unwrap() - 1.0).abs() < 1e-12);
    assert!((r.accuracy_tight - 0.2).abs() < 1e-12);
    assert!((r.multi_bump_rate - 0.2).abs() < 1e-12);
    assert!((r.empty_rate - 0.2).abs() < 1e-12);
    assert!((r.single_wrong_rate - 0.2).abs() < 1e-12);
    assert_eq!(r.malformed_rate, 0.0);
    // Tight per-axis: x within 0.5 px for images 0 and 4, y for images 0 and 1.
    assert!((r.acc_x_tight - 0.4).abs() < 1e-12);
    assert!((r.acc_y_tight - 0.4).abs() < 1e-12);
    assert!((r.mean_abs_dx.unwrap() - 2.0 / 3.0).abs() < 1e-3);
    assert!((r.mean_abs_dy.unwrap() - 0.2).abs() < 1e-3);
    let classes: Vec<_> = r.per_image.iter().map(|s| s.failure).collect();
    use FailureClass::*;
    assert_eq!(classes, [Correct, SingleWrong, MultiBump, Empty, Correct]);
    // Reports serialize.
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.contains("\"accuracy\":0.4"));
}

#[test]
fn empty_batch_report_has_no_single_rates() {
    let r = score_batch(&[], 32, &[], &ScoreConfig::default()).unwrap();
    assert_eq!(r.count, 0);
    assert_eq!(r.accuracy_single, None);
    assert_eq!(r.mean_abs_dx, None);
}

#[test]
fn scorer_rejects_bad_input() {
    let img = vec![0.0f32; 1024];
    let sc = ScoreConfig::default();
    assert!(score_image(&img, 31, [1.0, 1.0], &sc).is_err());
    assert!(score_image(&img, 0, [1.0, 1.0], &sc).is_err());
    assert!(score_image(&img, 32, [f32::NAN, 1.0], &sc).is_err());
    assert!(score_batch(&img, 32, &[[1.0, 1.0], [2.0, 2.0]], &sc).is_err());
    for bad in [
        sc.with_tolerance(f64::NAN),
        sc.with_threshold_fraction(0.0),
        sc.with_min_area(0),
        sc.with_range(1.0, 1.0),
        sc.with_nms_radius(-1.0),
    ] {
        assert!(score_image(&img, 32, [1.0, 1.0], &bad).is_err(), "{bad:?}");
    }
    // Non-finite pixels are treated as background, never a panic.
    let mut img = render_image(&RenderConfig::default(), Pattern::Bump, [8.0, 8.0]).unwrap();
    img[0] = f32::NAN;
    img[1] = f32::INFINITY;
    let s = score_image(&img, 32, [8.0, 8.0], &sc).unwrap();
    assert_eq!(s.count, 1);
}

#[test]
fn periodic_scoring_wraps_around_the_border() {
    for sigma in [0.5, 1.0, 2.0] {
        let cfg = RenderConfig::default()
            .with_sigma(sigma)
            .with_periodic(true);
        for c in [
            [0.3, 31.6],
            [31.8, 0.0],
            [15.5, 31.9],
            [0.0, 0.0],
            [16.2, 8.7],
        ] {
            let img = render_image(&cfg, Pattern::Bump, c).unwrap();
            let t = [c[0] as f32, c[1] as f32];
            let sc = ScoreConfig::for_render(&cfg);
            assert!(sc.periodic && sc.nms_radius == 2.0 * sigma);
            let s = score_image(&img, 32, t, &sc).unwrap();
            assert_eq!(
                (s.count, s.count_peaks),
                (1, 1),
                "sigma {sigma} {c:?}: {s:?}"
            );
            let e = s.error.unwrap();
            assert!(
                e[0].abs() <= 0.05 && e[1].abs() <= 0.05,
                "sigma {sigma} {c:?}: {e:?}"
            );
            let centre = s.centre.unwrap();
            assert!(centre.iter().all(|v| (0.0..32.0).contains(v)), "{centre:?}");
            assert!(s.correct);
        }
    }
    // A bump straddling the corner is 4 pieces without the torus and one bump with it.
    let cfg = RenderConfig::default().with_sigma(1.5).with_periodic(true);
    let img = render_image(&cfg, Pattern::Bump, [31.5, 31.5]).unwrap();
    let flat = score_image(&img, 32, [31.5, 31.5], &ScoreConfig::default()).unwrap();
    assert_eq!(flat.count, 4);
    assert_eq!(flat.failure, FailureClass::MultiBump);
    // Minimum-image error: centre 31.5 vs target 0.2 is x̂ − μx = −0.7 px on the torus.
    let sc = ScoreConfig::default().with_periodic(true);
    let s = score_image(&img, 32, [0.2, 31.5], &sc).unwrap();
    assert!((s.error.unwrap()[0] + 0.7).abs() < 1e-3, "{s:?}");
    assert!(s.correct && !s.correct_tight);
}

#[test]
fn merged_components_split_by_peaks() {
    // σ = 1, pixel-aligned bumps 3 px apart: pixels 11 and 12 are both at exp(−1/2) = 0.61 ≥ 0.5·A,
    // so the half-maximum regions touch and form one component holding two NMS peaks. The plain
    // component count (split off) says 1; the default splits it into 2. Half-pixel-aligned, the
    // gap leaves pixel 12 below threshold and both say 2.
    let cfg = RenderConfig::default();
    let plain = ScoreConfig::default().with_split_merged_peaks(false);
    let img = render_bumps_max(&cfg, &[[10.0, 16.0], [13.0, 16.0]]).unwrap();
    let s = score_image(&img, 32, [10.0, 16.0], &plain).unwrap();
    assert_eq!((s.count, s.count_peaks), (1, 2));
    let s = score_image(&img, 32, [10.0, 16.0], &ScoreConfig::default()).unwrap();
    assert_eq!((s.count, s.count_peaks), (2, 2));
    assert_eq!(s.failure, FailureClass::MultiBump);
    let img = render_bumps_max(&cfg, &[[10.5, 16.0], [13.5, 16.0]]).unwrap();
    for sc in [plain, ScoreConfig::default()] {
        let s = score_image(&img, 32, [10.5, 16.0], &sc).unwrap();
        assert_eq!((s.count, s.count_peaks), (2, 2));
    }
    // A single bump, however wide, has one peak and stays one bump (no false split).
    for sigma in [0.5, 1.0, 2.0, 4.0] {
        let cfg = RenderConfig::default().with_sigma(sigma);
        for c in [[16.0, 16.0], [16.3, 15.6], [0.5, 30.8]] {
            let img = render_image(&cfg, Pattern::Bump, c).unwrap();
            let s = score_image(
                &img,
                32,
                [c[0] as f32, c[1] as f32],
                &ScoreConfig::for_sigma(sigma),
            )
            .unwrap();
            assert_eq!((s.count, s.count_peaks), (1, 1), "sigma {sigma} {c:?}");
            // (σ = 4 cut by the corner is not located within 1 px: the 9×9 fit window sees a
            // plateau and the centroid is pulled inwards; σ ≤ 2 is the scorer's stated range.)
            if sigma <= 2.0 {
                assert!(s.correct, "sigma {sigma} {c:?}: {s:?}");
            }
        }
    }
    // A merged pair of unequal bumps (the weaker at 0.7 of the stronger) also splits.
    let strong = render_image(&cfg, Pattern::Bump, [10.0, 16.0]).unwrap();
    let weak = render_image(&cfg, Pattern::Bump, [13.0, 16.0]).unwrap();
    // Dark-on-bright in [−1, 1]: intensity = (1 − v) / 2; combine by max of intensities.
    let img: Vec<f32> = strong
        .iter()
        .zip(&weak)
        .map(|(&a, &b)| {
            let (ia, ib) = ((1.0 - a) / 2.0, 0.7 * (1.0 - b) / 2.0);
            1.0 - 2.0 * ia.max(ib)
        })
        .collect();
    let s = score_image(&img, 32, [10.0, 16.0], &ScoreConfig::default()).unwrap();
    assert_eq!((s.count, s.count_peaks), (2, 2), "{s:?}");
    // 4 px apart separates at any alignment for σ = 1.
    for off in [0.0, 0.25, 0.5, 0.75] {
        let img = render_bumps_max(&cfg, &[[10.0 + off, 16.0], [14.0 + off, 16.0]]).unwrap();
        let s = score_image(&img, 32, [10.0, 16.0], &ScoreConfig::default()).unwrap();
        assert_eq!(s.count, 2, "offset {off}");
    }
}

// ---------------------------------------------------------------------------------------------
// The stricter rule: malformed bumps, absolute extra-bump level, tight tolerance.
// ---------------------------------------------------------------------------------------------

fn t32(c: [f64; 2]) -> [f32; 2] {
    [c[0] as f32, c[1] as f32]
}

/// Dark-on-bright [−1, 1] image from per-pixel intensities g ∈ [0, 1].
fn from_intensity(g: impl Fn(f64, f64) -> f64) -> Vec<f32> {
    (0..32 * 32)
        .map(|i| (1.0 - 2.0 * g((i % 32) as f64, (i / 32) as f64)) as f32)
        .collect()
}

/// A full bump at `a` and a second bump of relative amplitude `weak` at `b`, both of width σ,
/// combined by the maximum of their intensities.
fn bump_pair(sigma: f64, a: [f64; 2], b: [f64; 2], weak: f64) -> Vec<f32> {
    let g = |c: [f64; 2], x: f64, y: f64| {
        (-((x - c[0]).powi(2) + (y - c[1]).powi(2)) / (2.0 * sigma * sigma)).exp()
    };
    from_intensity(|x, y| g(a, x, y).max(weak * g(b, x, y)))
}

fn rates_sum(r: &ScoreReport) -> f64 {
    r.accuracy + r.single_wrong_rate + r.malformed_rate + r.multi_bump_rate + r.empty_rate
}

#[test]
fn blurry_blob_at_the_target_is_malformed() {
    // σ_render = 3σ at exactly the target: the old rule (any fitted σ > 0.05) called it correct.
    for sigma in [1.0, 1.5, 2.0] {
        let data = RenderConfig::default().with_sigma(sigma);
        let sc = ScoreConfig::for_render(&data);
        for c in [[16.0, 16.0], [16.5, 15.5], [10.3, 20.8]] {
            let img = render_image(&data.with_sigma(3.0 * sigma), Pattern::Bump, c).unwrap();
            let s = score_image(&img, 32, t32(c), &sc).unwrap();
            assert_eq!(s.count, 1, "sigma {sigma} {c:?}: {s:?}");
            assert_eq!(
                s.failure,
                FailureClass::Malformed,
                "sigma {sigma} {c:?}: {s:?}"
            );
            assert!(!s.correct && !s.correct_tight && !s.x_ok && !s.y_ok);
            // The fit measures the blob's real width, and the centre is still reported.
            let w = s.sigma.unwrap();
            assert!(s.refined, "sigma {sigma} {c:?}: {s:?}");
            assert!((w[0] - 3.0 * sigma).abs() < 1e-3 && (w[1] - 3.0 * sigma).abs() < 1e-3);
            let e = s.error.unwrap();
            assert!(e[0].abs() < 1e-3 && e[1].abs() < 1e-3, "{e:?}");
            // Without refinement the moment fallback reaches the same verdict.
            let s = score_image(&img, 32, t32(c), &sc.with_refine(false)).unwrap();
            assert_eq!(
                s.failure,
                FailureClass::Malformed,
                "no fit, sigma {sigma} {c:?}"
            );
            assert!(s.sigma.unwrap()[0] > 2.0 * sigma, "{s:?}");
        }
        // Twice as wide is the edge of the accepted range; 2.5σ is outside.
        let img = render_image(&data.with_sigma(2.5 * sigma), Pattern::Bump, [16.0, 16.0]).unwrap();
        let s = score_image(&img, 32, [16.0, 16.0], &sc).unwrap();
        assert_eq!(s.failure, FailureClass::Malformed, "sigma {sigma}");
        // Narrower than half: σ/3 (σ = 1.5 and 2 only; σ/3 = 0.33 is below the pixel grid).
        if sigma >= 1.5 {
            let img =
                render_image(&data.with_sigma(sigma / 3.0), Pattern::Bump, [16.0, 16.0]).unwrap();
            let s = score_image(&img, 32, [16.0, 16.0], &sc).unwrap();
            assert_eq!(
                s.failure,
                FailureClass::Malformed,
                "narrow, sigma {sigma}: {s:?}"
            );
        }
    }
    // A fit rejected for moving too far (the wide blob cut by the corner) falls back to the
    // component's moments, which still see a blob about 3 px wide for σ = 1.5 data.
    let data = RenderConfig::default().with_sigma(1.5);
    let img = render_image(&data.with_sigma(4.5), Pattern::Bump, [0.5, 30.8]).unwrap();
    let s = score_image(&img, 32, [0.5, 30.8], &ScoreConfig::for_render(&data)).unwrap();
    assert!(!s.refined, "{s:?}");
    assert_eq!(s.failure, FailureClass::Malformed, "{s:?}");
    // ScoreConfig::default() knows no σ, so it skips the width check (documented): the blob
    // at the target is correct there.
    let img = render_image(&data.with_sigma(4.5), Pattern::Bump, [16.0, 16.0]).unwrap();
    let s = score_image(&img, 32, [16.0, 16.0], &ScoreConfig::default()).unwrap();
    assert_eq!(s.failure, FailureClass::Correct);
}

#[test]
fn faint_bump_is_malformed() {
    // σ correct, amplitude 0.3 of full contrast: rendered with the range squeezed to the upper
    // 30 % (dark-on-bright: background 1, centre 0.4) or the lower 30 % (bright-on-dark).
    for sigma in [1.0, 1.5] {
        for polarity in [Polarity::DarkOnBright, Polarity::BrightOnDark] {
            let data = RenderConfig::default()
                .with_sigma(sigma)
                .with_polarity(polarity);
            let (lo, hi) = match polarity {
                Polarity::DarkOnBright => (0.4, 1.0),
                Polarity::BrightOnDark => (-1.0, -0.4),
            };
            let sc = ScoreConfig::for_render(&data);
            // Half-pixel centres only for σ = 1.5: for σ = 1 their brightest pixel is
            // 0.3·e^(−1/4) = 0.23 < min_amplitude, so the image is empty (also not correct).
            let mut centres = vec![[16.0, 16.0], [3.0, 28.0]];
            if sigma > 1.0 {
                centres.push([16.5, 15.5]);
            }
            for c in centres {
                let img = render_image(&data.with_range(lo, hi), Pattern::Bump, c).unwrap();
                let s = score_image(&img, 32, t32(c), &sc).unwrap();
                assert_eq!(s.count, 1, "{sigma} {polarity:?} {c:?}: {s:?}");
                assert_eq!(
                    s.failure,
                    FailureClass::Malformed,
                    "{sigma} {polarity:?} {c:?}"
                );
                assert!((s.bump_amplitude.unwrap() - 0.3).abs() < 1e-3, "{s:?}");
                assert!(!s.correct && !s.x_ok && !s.y_ok);
                // The amplitude check needs no σ: ScoreConfig::default() agrees.
                if polarity == Polarity::DarkOnBright {
                    let s = score_image(&img, 32, t32(c), &ScoreConfig::default()).unwrap();
                    assert_eq!(s.failure, FailureClass::Malformed);
                }
            }
            // At 0.6 of full contrast it is a bump (the limit is 0.5).
            let (lo, hi) = match polarity {
                Polarity::DarkOnBright => (-0.2, 1.0),
                Polarity::BrightOnDark => (-1.0, 0.2),
            };
            let img = render_image(&data.with_range(lo, hi), Pattern::Bump, [9.5, 20.0]).unwrap();
            let s = score_image(&img, 32, [9.5, 20.0], &sc).unwrap();
            assert_eq!(
                s.failure,
                FailureClass::Correct,
                "{sigma} {polarity:?}: {s:?}"
            );
        }
    }
}

#[test]
fn faint_second_bump_makes_the_image_multi_bump() {
    // A correct bump plus a second at 40 % amplitude 6 px away: the old relative rule (half of
    // the strongest) did not count it; the absolute level 0.25 does.
    for sigma in [1.0, 1.5] {
        let sc = ScoreConfig::for_render(&RenderConfig::default().with_sigma(sigma));
        let h = 6.0 / 2f64.sqrt();
        for a in [[16.0, 16.0], [12.5, 17.5], [10.3, 9.6]] {
            for d in [[6.0, 0.0], [0.0, 6.0], [-6.0, 0.0], [h, -h]] {
                let b = [a[0] + d[0], a[1] + d[1]];
                let img = bump_pair(sigma, a, b, 0.4);
                let s = score_image(&img, 32, t32(a), &sc).unwrap();
                assert_eq!(
                    (s.count, s.count_peaks),
                    (2, 2),
                    "{sigma} {a:?} {b:?}: {s:?}"
                );
                assert_eq!(s.failure, FailureClass::MultiBump);
                assert!(!s.correct && !s.x_ok && !s.y_ok);
                // Relative rule only (absolute level off): one bump, correct.
                let old =
                    score_image(&img, 32, t32(a), &sc.with_extra_bump_min_amplitude(1.0)).unwrap();
                assert_eq!((old.count, old.failure), (1, FailureClass::Correct));
                // A second bump at 20 % is below the absolute level: still one correct bump.
                let img = bump_pair(sigma, a, b, 0.2);
                let s = score_image(&img, 32, t32(a), &sc).unwrap();
                assert_eq!(
                    (s.count, s.count_peaks),
                    (1, 1),
                    "{sigma} {a:?} {b:?}: {s:?}"
                );
                assert_eq!(s.failure, FailureClass::Correct);
            }
        }
    }
    // The absolute level also counts a faint third bump beside two strong ones.
    let img = from_intensity(|x, y| {
        let g = |cx: f64, cy: f64| (-((x - cx).powi(2) + (y - cy).powi(2)) / 2.0).exp();
        g(6.0, 6.0).max(g(24.0, 6.0)).max(0.4 * g(15.0, 25.0))
    });
    let s = score_image(&img, 32, [6.0, 6.0], &ScoreConfig::default()).unwrap();
    assert_eq!((s.count, s.count_peaks), (3, 3));
}

#[test]
fn neighbouring_condition_is_correct_at_tau_1_but_not_at_tight_tolerance() {
    // On the default 1-px training lattice the neighbouring condition is exactly 1 px away:
    // τ = 1 accepts it, τ = 0.5 does not.
    let mut images = Vec::new();
    let mut targets = Vec::new();
    for sigma in [1.0, 1.5] {
        let data = RenderConfig::default().with_sigma(sigma);
        let sc = ScoreConfig::for_render(&data);
        for c in [[16.0, 16.0], [10.5, 20.5], [1.0, 30.0]] {
            let img = render_image(&data, Pattern::Bump, c).unwrap();
            for d in [[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]] {
                let t = [c[0] + d[0], c[1] + d[1]];
                let s = score_image(&img, 32, t32(t), &sc).unwrap();
                assert!(s.correct && !s.correct_tight, "{sigma} {c:?} {t:?}: {s:?}");
                assert_eq!(s.failure, FailureClass::Correct);
                assert_eq!((s.x_ok_tight, s.y_ok_tight), (d[0] == 0.0, d[1] == 0.0));
                if sigma == 1.0 {
                    images.extend_from_slice(&img);
                    targets.push(t32(t));
                }
            }
        }
    }
    let r = score_batch(&images, 32, &targets, &ScoreConfig::default()).unwrap();
    assert_eq!(r.count, 9);
    assert_eq!((r.accuracy, r.accuracy_tight), (1.0, 0.0));
    assert!((r.acc_x_tight - 1.0 / 3.0).abs() < 1e-12);
    assert!((r.acc_y_tight - 1.0 / 3.0).abs() < 1e-12);
    // 1.01 px is outside τ = 1 (the slack is only for float rounding).
    let img = render_image(&RenderConfig::default(), Pattern::Bump, [16.0, 16.0]).unwrap();
    let s = score_image(&img, 32, [17.01, 16.0], &ScoreConfig::default()).unwrap();
    assert_eq!(s.failure, FailureClass::SingleWrong);
}

#[test]
fn correct_bumps_stay_correct_under_the_strict_rule() {
    for sigma in [1.0, 1.5] {
        let data = RenderConfig::default().with_sigma(sigma);
        let sc = ScoreConfig::for_render(&data);
        assert_eq!(sc.expected_sigma, Some((sigma, sigma)));
        for c in [
            [16.0, 16.0],
            [16.5, 15.5],
            [7.0, 23.5],
            [0.5, 31.0],
            [20.3, 4.6],
        ] {
            let img = render_image(&data, Pattern::Bump, c).unwrap();
            let s = score_image(&img, 32, t32(c), &sc).unwrap();
            assert_eq!(s.failure, FailureClass::Correct, "{sigma} {c:?}: {s:?}");
            assert!(s.correct_tight && s.refined);
            let (w, p) = (s.sigma.unwrap(), s.sigma_principal.unwrap());
            for v in w.iter().chain(&p) {
                assert!((v - sigma).abs() < 1e-4, "{sigma} {c:?}: {s:?}");
            }
            assert!((s.bump_amplitude.unwrap() - 1.0).abs() < 1e-4, "{s:?}");
            // The moment fallback (no fit) keeps them correct as well.
            let s = score_image(&img, 32, t32(c), &sc.with_refine(false)).unwrap();
            assert_eq!(
                s.failure,
                FailureClass::Correct,
                "no fit, {sigma} {c:?}: {s:?}"
            );
            assert!(!s.refined);
        }
    }
    // Anisotropic data: the right orientation is correct, the swapped one malformed.
    let data = RenderConfig::default().with_sigma_xy(1.0, 2.5);
    let sc = ScoreConfig::for_render(&data);
    let img = render_image(&data, Pattern::Bump, [12.0, 18.5]).unwrap();
    let s = score_image(&img, 32, [12.0, 18.5], &sc).unwrap();
    assert_eq!(s.failure, FailureClass::Correct, "{s:?}");
    let w = s.sigma.unwrap();
    assert!(
        (w[0] - 1.0).abs() < 1e-4 && (w[1] - 2.5).abs() < 1e-4,
        "{w:?}"
    );
    let swapped = RenderConfig::default().with_sigma_xy(2.5, 1.0);
    let img = render_image(&swapped, Pattern::Bump, [12.0, 18.5]).unwrap();
    let s = score_image(&img, 32, [12.0, 18.5], &sc).unwrap();
    assert_eq!(s.failure, FailureClass::Malformed, "{s:?}");
    // k = 4 (exp(−d²/(4σ²))) is a Gaussian of width σ·√2 in the scorer's 2σ² convention.
    let data = RenderConfig::default().with_exponent_denominator_factor(4.0);
    let sc = ScoreConfig::for_render(&data);
    let (ex, ey) = sc.expected_sigma.unwrap();
    assert!((ex - 2f64.sqrt()).abs() < 1e-12 && (ey - 2f64.sqrt()).abs() < 1e-12);
    let img = render_image(&data, Pattern::Bump, [16.0, 16.0]).unwrap();
    let s = score_image(&img, 32, [16.0, 16.0], &sc).unwrap();
    assert_eq!(s.failure, FailureClass::Correct);
    assert!((s.sigma.unwrap()[0] - 2f64.sqrt()).abs() < 1e-4);
    // for_sigma sets the expected σ too.
    assert_eq!(ScoreConfig::for_sigma(2.0).expected_sigma, Some((2.0, 2.0)));
    assert_eq!(ScoreConfig::default().expected_sigma, None);
}

#[test]
fn elongated_blob_at_an_angle_is_malformed() {
    // Principal widths 2.5 and 0.6 at 45°: both marginal widths are √((2.5² + 0.6²)/2) = 1.82,
    // inside [0.5, 2] for σ = 1, so only the principal-width check catches it.
    let (major, minor) = (2.5f64, 0.6f64);
    let (a, b) = (1.0 / (major * major), 1.0 / (minor * minor));
    let c = [15.3, 16.6];
    let img = from_intensity(|x, y| {
        let (u, v) = (
            (x - c[0] + y - c[1]) / 2f64.sqrt(),
            (x - c[0] - y + c[1]) / 2f64.sqrt(),
        );
        (-0.5 * (a * u * u + b * v * v)).exp()
    });
    let sc = ScoreConfig::for_render(&RenderConfig::default());
    let s = score_image(&img, 32, t32(c), &sc).unwrap();
    assert_eq!(s.count, 1, "{s:?}");
    assert_eq!(s.failure, FailureClass::Malformed, "{s:?}");
    let (w, p) = (s.sigma.unwrap(), s.sigma_principal.unwrap());
    let marginal = ((major * major + minor * minor) / 2.0).sqrt();
    assert!(
        (w[0] - marginal).abs() < 1e-3 && (w[1] - marginal).abs() < 1e-3,
        "{w:?}"
    );
    assert!(
        (p[0] - minor).abs() < 1e-3 && (p[1] - major).abs() < 1e-3,
        "{p:?}"
    );
}

#[test]
fn stripes_are_malformed_not_correct() {
    // Before: one component, one peak (the plateau's first pixel), the centroid at the middle
    // of the stripe: "correct" for a target on that line. Now the stripe's long axis is ~16 px
    // wide (moment fallback; the fit window cannot hold it and the fit is rejected): malformed.
    for sigma in [1.0, 1.5] {
        let data = RenderConfig::default().with_sigma(sigma);
        let sc = ScoreConfig::for_render(&data);
        for (pattern, target) in [
            (Pattern::VerticalStripe, [10.0, 15.5]),
            (Pattern::VerticalStripe, [10.0, 16.0]),
            (Pattern::HorizontalStripe, [15.5, 10.0]),
        ] {
            let img = render_image(&data, pattern, [10.0, 10.0]).unwrap();
            for cfg in [sc, sc.with_refine(false)] {
                let s = score_image(&img, 32, t32(target), &cfg).unwrap();
                assert_eq!(s.count, 1, "{sigma} {pattern:?}: {s:?}");
                assert_eq!(
                    s.failure,
                    FailureClass::Malformed,
                    "{sigma} {pattern:?}: {s:?}"
                );
                assert!(!s.correct);
                assert!(s.sigma_principal.unwrap()[1] > 10.0, "{s:?}");
            }
        }
        // ScoreConfig::default() knows no σ, yet a component spanning the canvas is no bump
        // (issue 17; before, it was scored correct).
        let img = render_image(&data, Pattern::VerticalStripe, [10.0, 10.0]).unwrap();
        let s = score_image(&img, 32, [10.0, 15.5], &ScoreConfig::default()).unwrap();
        assert_eq!(s.failure, FailureClass::Malformed);
    }
}

#[test]
fn rates_partition_every_batch() {
    let data = RenderConfig::default();
    let sc = ScoreConfig::for_render(&data);
    let mut images = Vec::new();
    let mut targets = Vec::new();
    let mut push = |img: Vec<f32>, t: [f64; 2]| {
        images.extend(img);
        targets.push(t32(t));
    };
    push(
        render_image(&data, Pattern::Bump, [10.0, 10.0]).unwrap(),
        [10.0, 10.0],
    ); // correct
    push(
        render_image(&data, Pattern::Bump, [20.5, 7.0]).unwrap(),
        [20.5, 7.0],
    ); // correct
    push(
        render_image(&data, Pattern::Bump, [12.0, 10.0]).unwrap(),
        [15.0, 10.0],
    ); // wrong
    let blurry = data.with_sigma(3.0);
    push(
        render_image(&blurry, Pattern::Bump, [16.0, 16.0]).unwrap(),
        [16.0, 16.0],
    ); // malformed
    push(
        render_image(&blurry, Pattern::Bump, [5.0, 5.0]).unwrap(),
        [25.0, 25.0],
    ); // malformed
    let faint = data.with_range(0.4, 1.0);
    push(
        render_image(&faint, Pattern::Bump, [8.0, 8.0]).unwrap(),
        [8.0, 8.0],
    ); // malformed
    push(
        render_image(&data, Pattern::VerticalStripe, [9.0, 0.0]).unwrap(),
        [9.0, 15.5],
    ); // malformed
    push(
        bump_pair(1.0, [16.0, 16.0], [22.0, 16.0], 0.4),
        [16.0, 16.0],
    ); // multi
    push(
        render_bumps_max(&data, &[[5.0, 5.0], [25.0, 25.0]]).unwrap(),
        [5.0, 5.0],
    ); // multi
    push(vec![1.0; 1024], [3.0, 3.0]); // empty
    let r = score_batch(&images, 32, &targets, &sc).unwrap();
    use FailureClass::*;
    let classes: Vec<_> = r.per_image.iter().map(|s| s.failure).collect();
    assert_eq!(
        classes,
        [
            Correct,
            Correct,
            SingleWrong,
            Malformed,
            Malformed,
            Malformed,
            Malformed,
            MultiBump,
            MultiBump,
            Empty
        ]
    );
    for (rate, k) in [
        (r.accuracy, 2.0),
        (r.single_wrong_rate, 1.0),
        (r.malformed_rate, 4.0),
        (r.multi_bump_rate, 2.0),
        (r.empty_rate, 1.0),
    ] {
        assert!((rate - k / 10.0).abs() < 1e-12, "{rate} vs {k}/10: {r:?}");
    }
    assert!((rates_sum(&r) - 1.0).abs() < 1e-12);
    // Malformed images are single-bump images but never correct, also per axis.
    assert_eq!(r.single_count, 7);
    // (The single-wrong image is off in x only, so its y counts.)
    assert!((r.acc_x - 0.2).abs() < 1e-12 && (r.acc_y - 0.3).abs() < 1e-12);
    assert!((r.accuracy_single.unwrap() - 2.0 / 7.0).abs() < 1e-12);

    // Seeded mixtures of bumps of random width, amplitude and count, plus noise: every batch's
    // rates sum to 1 and each image's class agrees with its flags.
    use rand::Rng;
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for _ in 0..5 {
        let mut images = Vec::new();
        let mut targets = Vec::new();
        for _ in 0..40 {
            let k = rng.random_range(0..3usize);
            let width = rng.random_range(0.4..4.0);
            let amp: f64 = rng.random_range(0.1..1.0);
            let centres: Vec<[f64; 2]> = (0..k)
                .map(|_| [rng.random_range(0.0..31.0), rng.random_range(0.0..31.0)])
                .collect();
            let noise: f64 = rng.random_range(0.0..0.1);
            let mut img = vec![0.0f64; 1024];
            for c in &centres {
                for (i, v) in img.iter_mut().enumerate() {
                    let (x, y) = ((i % 32) as f64, (i / 32) as f64);
                    let g =
                        (-((x - c[0]).powi(2) + (y - c[1]).powi(2)) / (2.0 * width * width)).exp();
                    *v = v.max(amp * g);
                }
            }
            for v in &img {
                let z: f64 = StandardNormal.sample(&mut rng);
                images.push((1.0 - 2.0 * (v + noise * z)) as f32);
            }
            let t = centres.first().copied().unwrap_or([16.0, 16.0]);
            targets.push(t32([t[0] + rng.random_range(-1.5..1.5), t[1]]));
        }
        let r = score_batch(&images, 32, &targets, &sc).unwrap();
        assert!((rates_sum(&r) - 1.0).abs() < 1e-12, "{}", rates_sum(&r));
        for s in &r.per_image {
            assert_eq!(s.correct, s.failure == Correct, "{s:?}");
            assert!(!(s.failure == Malformed && (s.x_ok || s.y_ok || s.correct_tight)));
            assert_eq!(
                s.count == 1,
                s.error.is_some() || s.failure == Malformed,
                "{s:?}"
            );
        }
    }
}

#[test]
fn faint_peak_beside_a_dropped_component_is_malformed() {
    // min_area 2 drops the strong σ = 0.5 bump (a one-pixel component); the faint bump far away
    // is then the only one counted, with no component to measure: malformed, not a panic.
    let strong = [8.0, 8.0];
    let weak = [24.0, 24.0];
    let img = from_intensity(|x, y| {
        let g = |c: [f64; 2]| (-((x - c[0]).powi(2) + (y - c[1]).powi(2)) / 0.5).exp();
        g(strong).max(0.4 * g(weak))
    });
    let sc = ScoreConfig::for_sigma(0.5).with_min_area(2);
    let s = score_image(&img, 32, t32(weak), &sc).unwrap();
    assert_eq!((s.count, s.failure), (1, FailureClass::Malformed), "{s:?}");
    assert!(s.centre.is_none() && !s.correct);
}

#[test]
fn new_score_settings_are_validated() {
    let img = vec![0.0f32; 1024];
    let sc = ScoreConfig::default();
    for (bad, needle) in [
        (
            sc.with_extra_bump_min_amplitude(0.0),
            "extra_bump_min_amplitude",
        ),
        (
            sc.with_extra_bump_min_amplitude(f64::NAN),
            "extra_bump_min_amplitude",
        ),
        (sc.with_expected_sigma(Some((0.0, 1.0))), "expected_sigma"),
        (
            sc.with_expected_sigma(Some((1.0, f64::INFINITY))),
            "expected_sigma",
        ),
        (sc.with_sigma_ratio_range(0.6, 0.9), "sigma_ratio_range"),
        (sc.with_sigma_ratio_range(0.0, 2.0), "sigma_ratio_range"),
        (
            sc.with_sigma_ratio_range(0.5, f64::INFINITY),
            "sigma_ratio_range",
        ),
        (sc.with_expected_amplitude(-1.0), "expected_amplitude"),
        (sc.with_min_amplitude_ratio(1.5), "min_amplitude_ratio"),
    ] {
        match score_image(&img, 32, [1.0, 1.0], &bad) {
            Err(Error::InvalidArgument(m)) => assert!(m.contains(needle), "{m}"),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    let msg = sc
        .with_min_amplitude_ratio(1.5)
        .validate()
        .unwrap_err()
        .to_string();
    assert!(msg.contains("[0, 1]") && msg.contains("1.5"), "{msg}");
    assert!(ScoreConfig::for_render(&RenderConfig::default())
        .validate()
        .is_ok());
}

#[test]
fn score_config_files_without_the_new_fields_still_read() {
    // A configuration written before the strict rule (no extra_bump_min_amplitude,
    // expected_sigma, sigma_ratio_range, expected_amplitude, min_amplitude_ratio) reads with the
    // defaults, i.e. without a width check.
    let mut v = serde_json::to_value(ScoreConfig::default().with_min_amplitude(0.3)).unwrap();
    let map = v.as_object_mut().unwrap();
    for key in [
        "extra_bump_min_amplitude",
        "expected_sigma",
        "sigma_ratio_range",
        "expected_amplitude",
        "min_amplitude_ratio",
        "split_merged_peaks",
    ] {
        map.remove(key);
    }
    let old: ScoreConfig = serde_json::from_value(v).unwrap();
    assert_eq!(old, ScoreConfig::default().with_min_amplitude(0.3));
    // JSON and TOML round trips, with and without an expected σ.
    for sc in [
        ScoreConfig::default(),
        ScoreConfig::for_render(&RenderConfig::default().with_sigma_xy(1.0, 2.0)),
    ] {
        let back: ScoreConfig = serde_json::from_str(&serde_json::to_string(&sc).unwrap()).unwrap();
        assert_eq!(back, sc);
        let back: ScoreConfig = toml::from_str(&toml::to_string(&sc).unwrap()).unwrap();
        assert_eq!(back, sc);
    }
    // Reports written before malformed_rate and the tight per-axis rates also read.
    let r = score_batch(&[], 32, &[], &ScoreConfig::default()).unwrap();
    let mut v = serde_json::to_value(&r).unwrap();
    for key in ["malformed_rate", "acc_x_tight", "acc_y_tight"] {
        v.as_object_mut().unwrap().remove(key);
    }
    let back: ScoreReport = serde_json::from_value(v).unwrap();
    assert_eq!(back, r);
}

#[test]
fn pixel_noise_sensitivity_of_the_absolute_level() {
    // Correct bumps plus independent pixel noise of sd s (w units): the absolute level 0.25
    // tolerates s = 0.05 and fails at s = 0.1 (noise maxima ≥ 0.25 become extra bumps), where
    // the relative-only level (0.5·A) still scores every image correct.
    let data = RenderConfig::default();
    let sc = ScoreConfig::for_render(&data);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut noisy = |sd: f64| {
        let mut images = Vec::new();
        let mut targets = Vec::new();
        for i in 0..200 {
            let c = [4.0 + (i % 24) as f64, 4.0 + (i / 24) as f64];
            for v in render_image(&data, Pattern::Bump, c).unwrap() {
                let z: f64 = StandardNormal.sample(&mut rng);
                images.push(v - (2.0 * sd * z) as f32);
            }
            targets.push(t32(c));
        }
        let strict = score_batch(&images, 32, &targets, &sc).unwrap();
        let relative = sc.with_extra_bump_min_amplitude(1.0);
        let relative = score_batch(&images, 32, &targets, &relative).unwrap();
        (strict, relative)
    };
    let (strict, relative) = noisy(0.05);
    assert_eq!((strict.accuracy, relative.accuracy), (1.0, 1.0));
    let (strict, relative) = noisy(0.1);
    assert!(strict.multi_bump_rate > 0.9, "{}", strict.multi_bump_rate);
    assert_eq!(relative.accuracy, 1.0);
}

#[test]
fn axis_accuracy_counts_each_axis_at_its_own_tolerance() {
    // Bumps rendered 0.3 px off along x and 0.03 px off along y: at τ = (0.05, 0.5) only y
    // passes, at τ = (0.5, 0.05) both do, at τ = (1, 1) it equals [acc_x, acc_y]; a blank image
    // counts for neither axis.
    let data = RenderConfig::default();
    let sc = ScoreConfig::for_render(&data);
    let mut images = Vec::new();
    let mut targets = Vec::new();
    for i in 0..10 {
        let c = [8.0 + i as f64, 12.0 + 0.5 * i as f64];
        images.extend(render_image(&data, Pattern::Bump, [c[0] + 0.3, c[1] + 0.03]).unwrap());
        targets.push(t32(c));
    }
    images.extend(vec![data.range.1; 32 * 32]);
    targets.push([16.0, 16.0]);
    let report = score_batch(&images, 32, &targets, &sc).unwrap();
    assert_eq!(
        report.axis_accuracy([0.05, 0.5]).unwrap(),
        [0.0, 10.0 / 11.0]
    );
    assert_eq!(report.axis_accuracy([0.5, 0.05]).unwrap(), [10.0 / 11.0; 2]);
    assert_eq!(
        report.axis_accuracy([1.0, 1.0]).unwrap(),
        [report.acc_x, report.acc_y]
    );
    assert!(report.axis_accuracy([f64::NAN, 1.0]).is_err());
    assert!(report.axis_accuracy([1.0, -0.1]).is_err());
}
