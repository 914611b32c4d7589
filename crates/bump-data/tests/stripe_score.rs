//! Known-answer tests of the stripe and sum-of-stripes scorers (issue 15).

use bump_data::{
    render_image, score_sos_batch, score_sos_image, score_stripe_batch, score_stripe_image,
    DetectedOrientation, Error, Orientation, Pattern, Polarity, RenderConfig, SosFailure,
    StripeFailure, StripeReport, StripeScoreConfig, StripeTarget,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

const N: usize = 32;

fn vertical(x: f64) -> StripeTarget {
    StripeTarget {
        orientation: Orientation::Vertical,
        position: x as f32,
    }
}

fn horizontal(y: f64) -> StripeTarget {
    StripeTarget {
        orientation: Orientation::Horizontal,
        position: y as f32,
    }
}

/// A stripe image of `pattern` at position `pos` (the other coordinate is ignored).
fn stripe(cfg: &RenderConfig, pattern: Pattern, pos: f64) -> Vec<f32> {
    render_image(cfg, pattern, [pos, pos]).unwrap()
}

/// Pixel-wise combination in bump-intensity space `g ∈ [0, 1]` of two default renders
/// (dark on bright, range (−1, 1): `g = (1 − u)/2`), combined by `op` and mapped back.
fn combine(a: &[f32], b: &[f32], op: impl Fn(f64, f64) -> f64) -> Vec<f32> {
    a.iter()
        .zip(b)
        .map(|(&u, &v)| {
            let g = op((1.0 - u as f64) / 2.0, (1.0 - v as f64) / 2.0).clamp(0.0, 1.0);
            (1.0 - 2.0 * g) as f32
        })
        .collect()
}

/// Positions across the frame, sub-pixel, including the border columns.
const POSITIONS: [f64; 8] = [16.0, 16.3, 7.25, 23.9, 0.0, 0.3, 31.0, 30.6];

#[test]
fn exact_renders_are_recovered_within_001_px_and_2_percent_width() {
    for sigma in [0.5, 1.0, 2.0] {
        for polarity in [Polarity::DarkOnBright, Polarity::BrightOnDark] {
            let render = RenderConfig::default()
                .with_sigma(sigma)
                .with_polarity(polarity);
            for (pattern, make) in [
                (Pattern::VerticalStripe, vertical as fn(f64) -> StripeTarget),
                (Pattern::HorizontalStripe, horizontal),
            ] {
                let sc = StripeScoreConfig::for_render(&render, pattern);
                for pos in POSITIONS {
                    let img = stripe(&render, pattern, pos);
                    let s = score_stripe_image(&img, N, make(pos), &sc).unwrap();
                    let what = format!("σ {sigma} {polarity:?} {pattern:?} at {pos}: {s:?}");
                    assert_eq!(s.failure, StripeFailure::Correct, "{what}");
                    assert_eq!(s.multiplicity(), 1, "{what}");
                    let want = match pattern {
                        Pattern::VerticalStripe => DetectedOrientation::Vertical,
                        _ => DetectedOrientation::Horizontal,
                    };
                    assert_eq!(s.orientation, want, "{what}");
                    let fit = s.stripe.unwrap();
                    assert!(fit.refined, "{what}");
                    assert!(s.error.unwrap().abs() < 0.01, "{what}");
                    assert!((fit.sigma.unwrap() / sigma - 1.0).abs() < 0.02, "{what}");
                    assert!((fit.amplitude - 1.0).abs() < 0.02, "{what}");
                    assert!(s.correct && s.correct_tight, "{what}");
                    assert!(s.residual < 1e-3, "{what}");
                }
            }
        }
    }
}

#[test]
fn pixel_noise_of_005_keeps_stripes_correct_within_01_px() {
    // Gaussian pixel noise of standard deviation 0.05 in [0, 1] units (0.1 in model units).
    let render = RenderConfig::default();
    let sc = StripeScoreConfig::for_render(&render, Pattern::VerticalStripe);
    let noise = Normal::new(0.0, 0.1).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(15);
    let mut worst = 0.0f64;
    for k in 0..60 {
        let pos = 1.5 + 29.0 * (k as f64 / 59.0);
        let (pattern, target) = if k % 2 == 0 {
            (Pattern::VerticalStripe, vertical(pos))
        } else {
            (Pattern::HorizontalStripe, horizontal(pos))
        };
        let mut img = stripe(&render, pattern, pos);
        img.iter_mut()
            .for_each(|v| *v += noise.sample(&mut rng) as f32);
        let s = score_stripe_image(&img, N, target, &sc).unwrap();
        assert_eq!(
            s.failure,
            StripeFailure::Correct,
            "{pattern:?} at {pos}: {s:?}"
        );
        worst = worst.max(s.error.unwrap().abs());
    }
    assert!(worst < 0.1, "worst error {worst}");
}

#[test]
fn blank_images_are_empty() {
    for v in [-1.0f32, 0.0, 1.0] {
        let img = vec![v; N * N];
        let s = score_stripe_image(&img, N, vertical(16.0), &StripeScoreConfig::default()).unwrap();
        assert_eq!(s.failure, StripeFailure::Empty);
        assert_eq!(
            (s.multiplicity(), s.orientation),
            (0, DetectedOrientation::None)
        );
        assert!(!s.correct);
    }
}

#[test]
fn bumps_are_never_correct_stripes() {
    for sigma in [0.5, 1.0, 2.0, 3.0, 6.0] {
        let render = RenderConfig::default().with_sigma(sigma);
        let sc = StripeScoreConfig::for_render(&render, Pattern::VerticalStripe);
        for c in [[16.0, 16.0], [10.3, 20.7], [0.5, 31.0]] {
            let img = render_image(&render, Pattern::Bump, c).unwrap();
            for t in [vertical(c[0]), horizontal(c[1])] {
                let s = score_stripe_image(&img, N, t, &sc).unwrap();
                assert!(!s.correct, "σ {sigma} bump at {c:?}: {s:?}");
                if sigma <= 2.0 {
                    // A bump shorter than half the frame leaves both median profiles flat.
                    assert_eq!(s.failure, StripeFailure::NoStripe, "σ {sigma} {c:?}: {s:?}");
                }
            }
        }
    }
}

#[test]
fn two_stripes_are_multi_stripe_and_both_positions_are_reported() {
    let render = RenderConfig::default();
    let sc = StripeScoreConfig::for_render(&render, Pattern::VerticalStripe);
    for (a, b) in [(8.0, 20.0), (10.2, 14.0), (3.5, 28.25)] {
        let img = combine(
            &stripe(&render, Pattern::VerticalStripe, a),
            &stripe(&render, Pattern::VerticalStripe, b),
            f64::max,
        );
        let s = score_stripe_image(&img, N, vertical(a), &sc).unwrap();
        assert_eq!(s.failure, StripeFailure::MultiStripe, "{a}, {b}: {s:?}");
        assert_eq!(s.orientation, DetectedOrientation::Vertical);
        let mut found: Vec<f64> = s.vertical.iter().map(|f| f.position).collect();
        found.sort_by(f64::total_cmp);
        assert_eq!(found.len(), 2, "{s:?}");
        assert!(
            (found[0] - a).abs() < 0.05 && (found[1] - b).abs() < 0.05,
            "{found:?}"
        );
    }
    // A cross (one of each orientation) is ambiguous for a single-stripe target.
    let cross = combine(
        &stripe(&render, Pattern::VerticalStripe, 9.0),
        &stripe(&render, Pattern::HorizontalStripe, 21.0),
        f64::max,
    );
    let s = score_stripe_image(&cross, N, vertical(9.0), &sc).unwrap();
    assert_eq!(s.orientation, DetectedOrientation::Both);
    assert_eq!(s.failure, StripeFailure::MultiStripe);
}

#[test]
fn wrong_orientation_is_its_own_class() {
    let render = RenderConfig::default();
    let sc = StripeScoreConfig::for_render(&render, Pattern::VerticalStripe);
    let img = stripe(&render, Pattern::HorizontalStripe, 12.0);
    let s = score_stripe_image(&img, N, vertical(12.0), &sc).unwrap();
    assert_eq!(s.failure, StripeFailure::WrongOrientation);
    assert_eq!(s.orientation, DetectedOrientation::Horizontal);
    assert!(s.error.is_none() && !s.correct);
    assert!((s.stripe.unwrap().position - 12.0).abs() < 0.01);
}

#[test]
fn misplaced_stripe_is_single_wrong_with_its_error() {
    let render = RenderConfig::default();
    let sc = StripeScoreConfig::for_render(&render, Pattern::VerticalStripe);
    let img = stripe(&render, Pattern::VerticalStripe, 10.0);
    let s = score_stripe_image(&img, N, vertical(13.0), &sc).unwrap();
    assert_eq!(s.failure, StripeFailure::SingleWrong);
    assert!((s.error.unwrap() + 3.0).abs() < 0.01, "{s:?}");
    // Between the tight tolerance and τ.
    let s = score_stripe_image(&img, N, vertical(10.7), &sc).unwrap();
    assert!(s.correct && !s.correct_tight, "{s:?}");
}

#[test]
fn stripe_with_a_bump_beside_it_is_malformed() {
    let render = RenderConfig::default();
    let sc = StripeScoreConfig::for_render(&render, Pattern::VerticalStripe);
    let img = combine(
        &stripe(&render, Pattern::VerticalStripe, 10.0),
        &render_image(&render, Pattern::Bump, [22.0, 8.0]).unwrap(),
        f64::max,
    );
    let s = score_stripe_image(&img, N, vertical(10.0), &sc).unwrap();
    assert_eq!(s.multiplicity(), 1, "{s:?}");
    assert!(s.residual > 0.9, "{s:?}");
    assert_eq!(s.failure, StripeFailure::Malformed);
}

#[test]
fn broken_stripes_are_not_correct() {
    // A vertical stripe drawn on only some rows: on a quarter it shows in no median profile, on
    // three quarters it does but leaves a residual in the missing rows.
    let render = RenderConfig::default();
    let sc = StripeScoreConfig::for_render(&render, Pattern::VerticalStripe);
    let full = stripe(&render, Pattern::VerticalStripe, 16.0);
    for (rows, class) in [(8, StripeFailure::NoStripe), (24, StripeFailure::Malformed)] {
        let img: Vec<f32> = full
            .iter()
            .enumerate()
            .map(|(i, &v)| if i / N < rows { v } else { 1.0 })
            .collect();
        let s = score_stripe_image(&img, N, vertical(16.0), &sc).unwrap();
        assert_eq!(s.failure, class, "{rows} rows: {s:?}");
    }
}

#[test]
fn wrong_width_and_faint_stripes_are_malformed() {
    let sc = StripeScoreConfig::for_render(&RenderConfig::default(), Pattern::VerticalStripe);
    // σ = 4 against the expected 1 (outside (0.5, 2)·σ).
    let wide = stripe(
        &RenderConfig::default().with_sigma(4.0),
        Pattern::VerticalStripe,
        16.0,
    );
    let s = score_stripe_image(&wide, N, vertical(16.0), &sc).unwrap();
    assert_eq!(s.failure, StripeFailure::Malformed, "{s:?}");
    // Fitted low (3.6: the wide stripe raises the median background) but far outside (0.5, 2).
    assert!(s.stripe.unwrap().sigma.unwrap() > 3.0, "{s:?}");
    // Height 0.4 of full contrast: above the empty level, below half of the expected 1.
    let faint = stripe(
        &RenderConfig::default().with_range(-0.4, 0.4),
        Pattern::VerticalStripe,
        16.0,
    );
    let mapped: Vec<f32> = faint.iter().map(|v| v + 0.6).collect();
    let s = score_stripe_image(&mapped, N, vertical(16.0), &sc).unwrap();
    assert!((s.stripe.unwrap().amplitude - 0.4).abs() < 0.01, "{s:?}");
    assert_eq!(s.failure, StripeFailure::Malformed);
}

#[test]
fn batch_report_counts_every_class_once() {
    let render = RenderConfig::default();
    let sc = StripeScoreConfig::for_render(&render, Pattern::VerticalStripe);
    let mut images = Vec::new();
    let mut targets = Vec::new();
    let mut push = |img: Vec<f32>, t: StripeTarget| {
        images.extend(img);
        targets.push(t);
    };
    push(stripe(&render, Pattern::VerticalStripe, 5.0), vertical(5.0)); // correct
    push(
        stripe(&render, Pattern::VerticalStripe, 25.5),
        vertical(25.5),
    ); // correct
    push(stripe(&render, Pattern::VerticalStripe, 5.0), vertical(9.0)); // single wrong
    push(
        stripe(&render, Pattern::HorizontalStripe, 5.0),
        vertical(5.0),
    ); // wrong orientation
    push(vec![1.0; N * N], vertical(5.0)); // empty
    push(
        render_image(&render, Pattern::Bump, [5.0, 5.0]).unwrap(),
        vertical(5.0),
    ); // no stripe
    push(
        combine(
            &stripe(&render, Pattern::VerticalStripe, 5.0),
            &stripe(&render, Pattern::VerticalStripe, 20.0),
            f64::max,
        ),
        vertical(5.0),
    ); // multi
    let r: StripeReport = score_stripe_batch(&images, N, &targets, &sc).unwrap();
    assert_eq!(r.count, 7);
    let k = |x: f64| (x * 7.0).round() as usize;
    assert_eq!(k(r.accuracy), 2);
    assert_eq!(k(r.single_wrong_rate), 1);
    assert_eq!(k(r.wrong_orientation_rate), 1);
    assert_eq!(k(r.empty_rate), 1);
    assert_eq!(k(r.no_stripe_rate), 1);
    assert_eq!(k(r.multi_stripe_rate), 1);
    assert_eq!(k(r.malformed_rate), 0);
    assert_eq!(k(r.orientation_accuracy), 3);
    let sum = r.accuracy
        + r.single_wrong_rate
        + r.wrong_orientation_rate
        + r.empty_rate
        + r.no_stripe_rate
        + r.multi_stripe_rate
        + r.malformed_rate;
    assert!((sum - 1.0).abs() < 1e-12);
    // Mean |error| over the three right-orientation single stripes: (0 + 0 + 4)/3.
    assert!(
        (r.mean_abs_error.unwrap() - 4.0 / 3.0).abs() < 0.01,
        "{r:?}"
    );
    assert_eq!(r.per_image.len(), 7);
}

#[test]
fn sos_renders_are_recovered_on_both_axes() {
    for sigma in [0.5, 1.0, 2.0] {
        let render = RenderConfig::default().with_sigma(sigma);
        let sc = StripeScoreConfig::for_render(&render, Pattern::SumOfStripes);
        for (i, &x) in POSITIONS.iter().enumerate() {
            let y = POSITIONS[(i + 3) % POSITIONS.len()];
            let img = render_image(&render, Pattern::SumOfStripes, [x, y]).unwrap();
            let s = score_sos_image(&img, N, [x as f32, y as f32], &sc).unwrap();
            let what = format!("σ {sigma} at ({x}, {y}): {s:?}");
            assert_eq!(s.failure, SosFailure::Correct, "{what}");
            assert_eq!((s.vertical.len(), s.horizontal.len()), (1, 1), "{what}");
            assert!(s.x_ok && s.y_ok && s.correct && s.correct_tight, "{what}");
            let [ex, ey] = s.error;
            assert!(
                ex.unwrap().abs() < 0.01 && ey.unwrap().abs() < 0.01,
                "{what}"
            );
            assert!((s.vertical[0].amplitude - 0.5).abs() < 0.01, "{what}");
            assert!(
                (s.horizontal[0].sigma.unwrap() / sigma - 1.0).abs() < 0.02,
                "{what}"
            );
        }
    }
}

#[test]
fn sos_with_stripes_outside_the_frame_expects_only_the_visible_ones() {
    // Extended canvas (44 → 32, offset 6): a latent label at 2 is image coordinate −4.
    let render = RenderConfig::default();
    let sc = StripeScoreConfig::for_render(&render, Pattern::SumOfStripes);
    let cases = [
        ([12.5, -4.0], [true, false], (1, 0)),  // "1D": vertical only
        ([37.0, 20.25], [false, true], (0, 1)), // "1D": horizontal only
        ([-5.0, 36.0], [false, false], (0, 0)), // "0D": nothing visible
        ([-0.5, 31.5], [true, true], (1, 1)),   // centres just outside, stripes visible
    ];
    for (c, expected, counts) in cases {
        let img = render_image(&render, Pattern::SumOfStripes, c).unwrap();
        let t = [c[0] as f32, c[1] as f32];
        let s = score_sos_image(&img, N, t, &sc).unwrap();
        assert_eq!(s.expected, expected, "{c:?}: {s:?}");
        assert_eq!(
            (s.vertical.len(), s.horizontal.len()),
            counts,
            "{c:?}: {s:?}"
        );
        assert_eq!(s.failure, SosFailure::Correct, "{c:?}: {s:?}");
        // The same image against a fully visible target misses a stripe.
        if counts != (1, 1) {
            let s = score_sos_image(&img, N, [16.0, 16.0], &sc).unwrap();
            assert_ne!(s.failure, SosFailure::Correct, "{c:?}: {s:?}");
        }
    }
}

#[test]
fn sos_failures_are_classified() {
    let render = RenderConfig::default();
    let sc = StripeScoreConfig::for_render(&render, Pattern::SumOfStripes);
    let t = [10.0f32, 20.0];
    // Only the vertical stripe (at SOS height ½): wrong count, x right, y wrong.
    let half_v: Vec<f32> = stripe(&render, Pattern::VerticalStripe, 10.0)
        .iter()
        .map(|&u| 0.5 * u + 0.5)
        .collect();
    let s = score_sos_image(&half_v, N, t, &sc).unwrap();
    assert_eq!(s.failure, SosFailure::WrongCount, "{s:?}");
    assert!(s.x_ok && !s.y_ok && !s.correct);
    // A bump has no stripes.
    let bump = render_image(&render, Pattern::Bump, [10.0, 20.0]).unwrap();
    let s = score_sos_image(&bump, N, t, &sc).unwrap();
    assert_eq!(s.failure, SosFailure::WrongCount, "{s:?}");
    // Blank.
    let s = score_sos_image(&vec![1.0; N * N], N, t, &sc).unwrap();
    assert_eq!(s.failure, SosFailure::Empty);
    // Horizontal stripe 3 px off: misplaced, x still right.
    let img = render_image(&render, Pattern::SumOfStripes, [10.0, 23.0]).unwrap();
    let s = score_sos_image(&img, N, t, &sc).unwrap();
    assert_eq!(s.failure, SosFailure::Misplaced, "{s:?}");
    assert!(s.x_ok && !s.y_ok);
    assert!((s.error[1].unwrap() - 3.0).abs() < 0.01);
    // Two vertical stripes plus a horizontal one: wrong count.
    let extra = combine(
        &img,
        &stripe(&render, Pattern::VerticalStripe, 25.0),
        |a, b| a + 0.5 * b,
    );
    let s = score_sos_image(&extra, N, t, &sc).unwrap();
    assert_eq!(s.vertical.len(), 2, "{s:?}");
    assert_eq!(s.failure, SosFailure::WrongCount);
}

#[test]
fn sos_batch_with_noise_and_rates() {
    let render = RenderConfig::default();
    let sc = StripeScoreConfig::for_render(&render, Pattern::SumOfStripes);
    let noise = Normal::new(0.0, 0.1).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut images = Vec::new();
    let mut targets = Vec::new();
    for k in 0..40 {
        let c = [2.0 + 0.7 * k as f64, 29.0 - 0.6 * k as f64];
        let mut img = render_image(&render, Pattern::SumOfStripes, c).unwrap();
        img.iter_mut()
            .for_each(|v| *v += noise.sample(&mut rng) as f32);
        images.extend(img);
        // Every fourth target is 2 px off in x.
        let dx = if k % 4 == 0 { 2.0 } else { 0.0 };
        targets.push([(c[0] + dx) as f32, c[1] as f32]);
    }
    let r = score_sos_batch(&images, N, &targets, &sc).unwrap();
    assert_eq!(r.count, 40);
    assert!((r.accuracy - 0.75).abs() < 1e-12, "{r:?}");
    assert!((r.misplaced_rate - 0.25).abs() < 1e-12, "{r:?}");
    assert!((r.acc_y - 1.0).abs() < 1e-12);
    assert!((r.acc_x - 0.75).abs() < 1e-12);
    let sum = r.accuracy + r.misplaced_rate + r.malformed_rate + r.wrong_count_rate + r.empty_rate;
    assert!((sum - 1.0).abs() < 1e-12);
    // Mean |dx| ≈ (10 · 2)/40 = 0.5; |dy| small.
    assert!((r.mean_abs_dx.unwrap() - 0.5).abs() < 0.05, "{r:?}");
    assert!(r.mean_abs_dy.unwrap() < 0.05, "{r:?}");
}

#[test]
fn bad_input_is_a_typed_error_naming_the_value() {
    let sc = StripeScoreConfig::default();
    let img = vec![1.0f32; N * N];
    assert!(matches!(
        score_stripe_image(&img[1..], N, vertical(3.0), &sc),
        Err(Error::ShapeMismatch(_))
    ));
    assert!(matches!(
        score_stripe_image(&[], 0, vertical(3.0), &sc),
        Err(Error::ZeroSize)
    ));
    let e = score_stripe_image(&img, N, vertical(f64::NAN), &sc).unwrap_err();
    assert!(e.to_string().contains("NaN"), "{e}");
    assert!(matches!(
        score_sos_image(&img, N, [1.0, f32::INFINITY], &sc),
        Err(Error::NonFiniteCentre { index: 0, .. })
    ));
    assert!(matches!(
        score_sos_batch(&img, N, &[[1.0, 1.0], [2.0, 2.0]], &sc),
        Err(Error::ShapeMismatch(_))
    ));
    for (cfg, key) in [
        (
            StripeScoreConfig {
                tolerance: -1.0,
                ..sc
            },
            "tolerance",
        ),
        (
            StripeScoreConfig {
                stripe_min_amplitude: 0.0,
                ..sc
            },
            "stripe_min_amplitude",
        ),
        (
            StripeScoreConfig {
                fit_floor_fraction: 1.5,
                ..sc
            },
            "fit_floor_fraction",
        ),
        (
            StripeScoreConfig {
                expected_sigma: Some(-2.0),
                ..sc
            },
            "expected_sigma",
        ),
        (
            StripeScoreConfig {
                range: (1.0, 1.0),
                ..sc
            },
            "range",
        ),
    ] {
        let e = score_stripe_image(&img, N, vertical(3.0), &cfg).unwrap_err();
        assert!(e.to_string().contains(key), "{key}: {e}");
    }
    let e = StripeTarget::from_pattern(Pattern::Bump, [1.0, 2.0]).unwrap_err();
    assert!(e.to_string().contains("Bump"), "{e}");
    let t = StripeTarget::from_pattern(Pattern::HorizontalStripe, [1.0, 2.0]).unwrap();
    assert_eq!(t, horizontal(2.0));
}
