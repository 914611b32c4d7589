//! Renderer: formula, axis convention, polarity, range, periodic boundary, stripes, canvas.

use approx::assert_abs_diff_eq;
use bump_data::{
    render_image, render_into, Error, ExtendedCanvas, Pattern, Polarity, RenderConfig, Sigma,
};

const N: usize = 32;

#[test]
fn bump_at_x5_y20_lights_column_5_row_20() {
    // Dark-on-bright: the minimum sits at index y*N + x.
    let img = render_image(&RenderConfig::default(), Pattern::Bump, [5.0, 20.0]).unwrap();
    let argmin = (0..img.len())
        .min_by(|&a, &b| img[a].total_cmp(&img[b]))
        .unwrap();
    assert_eq!((argmin % N, argmin / N), (5, 20));
    assert_eq!(img[20 * N + 5], -1.0);
    // Bright-on-dark: the maximum sits there.
    let cfg = RenderConfig::default().with_polarity(Polarity::BrightOnDark);
    let img = render_image(&cfg, Pattern::Bump, [5.0, 20.0]).unwrap();
    let argmax = (0..img.len())
        .max_by(|&a, &b| img[a].total_cmp(&img[b]))
        .unwrap();
    assert_eq!((argmax % N, argmax / N), (5, 20));
    assert_eq!(img[20 * N + 5], 1.0);
    // Column 5 is darker than column 20 in row 20 (not transposed).
    let dark = render_image(&RenderConfig::default(), Pattern::Bump, [5.0, 20.0]).unwrap();
    assert!(dark[20 * N + 5] < dark[5 * N + 20]);
}

#[test]
fn pixel_formula_matches_closed_form() {
    let (mx, my, s) = (10.3, 7.6, 1.5);
    let cfg = RenderConfig::default().with_sigma(s);
    let img = render_image(&cfg, Pattern::Bump, [mx, my]).unwrap();
    for (x, y) in [(10, 7), (0, 0), (12, 9), (31, 31), (9, 8)] {
        let r2 = (x as f64 - mx).powi(2) + (y as f64 - my).powi(2);
        let v = 1.0 - (-r2 / (2.0 * s * s)).exp();
        assert_abs_diff_eq!(img[y * N + x] as f64, 2.0 * v - 1.0, epsilon = 1e-6);
    }
    // k = 4 denominator, range [0, 255], anisotropic widths.
    let cfg = RenderConfig::default()
        .with_sigma_xy(1.0, 3.0)
        .with_exponent_denominator_factor(4.0)
        .with_range(0.0, 255.0);
    let img = render_image(&cfg, Pattern::Bump, [mx, my]).unwrap();
    for (x, y) in [(10, 7), (13, 3), (8, 12)] {
        let e = (x as f64 - mx).powi(2) / 4.0 + (y as f64 - my).powi(2) / 36.0;
        assert_abs_diff_eq!(
            img[y * N + x] as f64,
            255.0 * (1.0 - (-e).exp()),
            epsilon = 1e-3
        );
    }
}

#[test]
fn periodic_boundary_wraps_with_minimum_image() {
    let cfg = RenderConfig::default().with_periodic(true).with_sigma(2.0);
    let img = render_image(&cfg, Pattern::Bump, [0.4, 31.5]).unwrap();
    // Pixel (x 31, y 0): |Δx| = 30.6 → 1.4 and |Δy| = 31.5 → 0.5 through the wrap.
    let expect = |dx: f64, dy: f64| 2.0 * (1.0 - (-(dx * dx + dy * dy) / 8.0).exp()) - 1.0;
    assert_abs_diff_eq!(img[31] as f64, expect(1.4, 0.5), epsilon = 1e-6);
    // Pixel (x 1, y 0): Δx = 0.6 directly, |Δy| = 31.5 → 0.5 through the wrap.
    assert_abs_diff_eq!(img[1] as f64, expect(0.6, 0.5), epsilon = 1e-6);
    // Pixel (x 1, y 31): no wrap needed.
    assert_abs_diff_eq!(img[31 * N + 1] as f64, expect(0.6, 0.5), epsilon = 1e-6);
    // Without the wrap the first two pixels are background.
    let flat = render_image(&cfg.with_periodic(false), Pattern::Bump, [0.4, 31.5]).unwrap();
    assert!(flat[31] > 0.99 && flat[1] > 0.99);
    assert_eq!(flat[31 * N + 1], img[31 * N + 1]);
    // Translation invariance on the torus: shifting the centre by 7 columns rolls the image.
    let a = render_image(&cfg, Pattern::Bump, [3.25, 17.0]).unwrap();
    let b = render_image(&cfg, Pattern::Bump, [3.25 + 7.0, 17.0]).unwrap();
    for y in 0..N {
        for x in 0..N {
            assert_abs_diff_eq!(a[y * N + x], b[y * N + (x + 7) % N], epsilon = 1e-6);
        }
    }
}

#[test]
fn stripes_and_sums_of_stripes() {
    let cfg = RenderConfig::default()
        .with_polarity(Polarity::BrightOnDark)
        .with_range(0.0, 1.0);
    let v = render_image(&cfg, Pattern::VerticalStripe, [12.0, 3.0]).unwrap();
    let h = render_image(&cfg, Pattern::HorizontalStripe, [12.0, 3.0]).unwrap();
    let sos = render_image(&cfg, Pattern::SumOfStripes, [12.0, 3.0]).unwrap();
    for y in 0..N {
        assert_eq!(v[y * N + 12], 1.0); // vertical stripe: column 12 lit in every row
        assert_eq!(h[3 * N + y], 1.0); // horizontal stripe: row 3 lit in every column
        for x in 0..N {
            assert_eq!(v[y * N + x], v[x]); // constant down each column
            assert_abs_diff_eq!(
                sos[y * N + x],
                0.5 * (v[y * N + x] + h[y * N + x]),
                epsilon = 1e-6
            );
        }
    }
    assert_eq!(sos[3 * N + 12], 1.0);
}

#[test]
fn extended_canvas_label_transform() {
    let canvas = ExtendedCanvas::new(44, 32).unwrap();
    assert_eq!(canvas.offset(), 6.0);
    assert_eq!(canvas.latent_to_image([6.0, 43.0]), [0.0, 37.0]);
    assert_eq!(canvas.image_to_latent([0.0, 37.0]), [6.0, 43.0]);
    assert_eq!(canvas.visible_axes([20.0, 20.0]), 2);
    assert_eq!(canvas.visible_axes([20.0, 2.0]), 1);
    assert_eq!(canvas.visible_axes([1.0, 43.0]), 0);
    assert!(ExtendedCanvas::new(43, 32).is_err());
    assert!(ExtendedCanvas::new(30, 32).is_err());
}

#[test]
fn bad_render_input_is_a_typed_error() {
    let base = RenderConfig::default();
    let mut out = vec![0.0f32; N * N];
    for s in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            render_into(&base.with_sigma(s), Pattern::Bump, [1.0, 1.0], &mut out),
            Err(Error::InvalidSigma(_))
        ));
        assert!(base.with_sigma_xy(1.0, s).validate().is_err());
    }
    assert!(matches!(base.with_n(0).validate(), Err(Error::ZeroSize)));
    assert!(matches!(
        render_into(&base, Pattern::Bump, [f64::NAN, 1.0], &mut out),
        Err(Error::NonFiniteCentre { .. })
    ));
    assert!(render_into(&base, Pattern::Bump, [1.0, 1.0], &mut out[1..]).is_err());
    assert!(base
        .with_exponent_denominator_factor(0.0)
        .validate()
        .is_err());
    assert!(base.with_range(1.0, 1.0).validate().is_err());
    assert_eq!(Sigma::Spherical(2.0).xy(), (2.0, 2.0));
}
