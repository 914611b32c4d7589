//! The bump scorer never rates a stripe as a bump (issue 17), and the seeded noise helper leaves
//! a clean bump correct.

use bump_data::{
    add_gaussian_noise, render_image, score_batch, score_image, FailureClass, Pattern,
    RenderConfig, ScoreConfig,
};

/// The configurations a user meets: the default (no expected width) and one matched to the
/// render (expected width known), each also periodic.
fn configs(render: &RenderConfig) -> Vec<(&'static str, ScoreConfig)> {
    vec![
        ("default", ScoreConfig::default()),
        ("for_render", ScoreConfig::for_render(render)),
        (
            "default, periodic",
            ScoreConfig::default().with_periodic(true),
        ),
    ]
}

#[test]
fn stripes_through_the_target_are_malformed_not_correct() {
    for sigma in [0.5, 1.0, 2.0] {
        let render = RenderConfig::default().with_sigma(sigma);
        for (pattern, centre) in [
            (Pattern::VerticalStripe, [10.0, 16.0]),
            (Pattern::VerticalStripe, [3.5, 0.0]),
            (Pattern::HorizontalStripe, [16.0, 21.0]),
            (Pattern::HorizontalStripe, [0.0, 30.25]),
        ] {
            let img = render_image(&render, pattern, centre).unwrap();
            // Every μ along the stripe: wherever the scorer puts the centre, it must not pass.
            for along in [0.0f32, 8.0, 16.0, 31.0] {
                let target = match pattern {
                    Pattern::VerticalStripe => [centre[0] as f32, along],
                    _ => [along, centre[1] as f32],
                };
                for (name, cfg) in configs(&render) {
                    let s = score_image(&img, 32, target, &cfg).unwrap();
                    assert_eq!(
                        s.failure,
                        FailureClass::Malformed,
                        "σ {sigma} {pattern:?} at {centre:?}, target {target:?}, {name}: {s:?}"
                    );
                    assert!(!(s.correct || s.x_ok || s.y_ok), "{name}: {s:?}");
                }
            }
        }
    }
}

#[test]
fn bumps_at_the_same_places_stay_correct() {
    // The control: the same targets drawn as bumps are correct under the same configurations,
    // at the border too (a bump reaching one edge spans neither axis).
    for sigma in [0.5, 1.0, 2.0] {
        let render = RenderConfig::default().with_sigma(sigma);
        for centre in [[10.0, 16.0], [3.5, 0.0], [0.0, 30.25], [31.0, 31.0]] {
            let img = render_image(&render, Pattern::Bump, centre).unwrap();
            let target = [centre[0] as f32, centre[1] as f32];
            for (name, cfg) in configs(&render) {
                let s = score_image(&img, 32, target, &cfg).unwrap();
                assert_eq!(
                    s.failure,
                    FailureClass::Correct,
                    "σ {sigma} {centre:?} {name}: {s:?}"
                );
            }
        }
    }
}

#[test]
fn a_stripe_in_a_batch_counts_as_malformed_in_the_report() {
    let render = RenderConfig::default();
    let mut images = render_image(&render, Pattern::Bump, [12.0, 9.0]).unwrap();
    images.extend(render_image(&render, Pattern::VerticalStripe, [20.0, 16.0]).unwrap());
    let targets = [[12.0f32, 9.0], [20.0, 16.0]];
    let r = score_batch(&images, 32, &targets, &ScoreConfig::default()).unwrap();
    assert_eq!((r.accuracy, r.malformed_rate), (0.5, 0.5), "{r:?}");
}

#[test]
fn seeded_noise_keeps_clean_bumps_correct_and_is_reproducible() {
    let render = RenderConfig::default().with_sigma(1.5);
    let centres = [[5.0, 7.0], [16.5, 16.0], [27.25, 3.0]];
    let mut clean = Vec::new();
    for c in centres {
        clean.extend(render_image(&render, Pattern::Bump, c).unwrap());
    }
    let targets: Vec<[f32; 2]> = centres.iter().map(|c| [c[0] as f32, c[1] as f32]).collect();
    let cfg = ScoreConfig::for_render(&render);
    let noisy = add_gaussian_noise(&clean, 0.05, 42).unwrap();
    assert_eq!(noisy, add_gaussian_noise(&clean, 0.05, 42).unwrap());
    assert_ne!(noisy, clean);
    let r = score_batch(&noisy, 32, &targets, &cfg).unwrap();
    assert_eq!(r.accuracy, 1.0, "{r:?}");
    // Strong noise (std 1 on a [-1, 1] range) is never scored correct.
    let wild = add_gaussian_noise(&clean, 1.0, 42).unwrap();
    let r = score_batch(&wild, 32, &targets, &cfg).unwrap();
    assert_eq!(r.accuracy, 0.0, "{r:?}");
}
