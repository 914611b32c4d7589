//! Scoring generated stripe and sum-of-stripes (SOS) images (our rule; the follow-up paper
//! publishes none).
//!
//! Steps, each constant in [`StripeScoreConfig`] (defaults in brackets, all ours):
//! 1. As the bump scorer: map pixels to `[0, 1]` (clamped), apply the polarity so stripes are
//!    bright (`w`; non-finite pixels get 0), subtract the median (background) and take the
//!    amplitude `A = max w`. Below `min_amplitude` (0.25) the image is empty.
//! 2. Robust profiles: the **column profile** `p_v[x]` is the median over rows of `w[·][x]` and
//!    the **row profile** `p_h[y]` the median over columns of `w[y][·]`. A vertical stripe that
//!    spans more than half of the rows shows in `p_v` at its full height and leaves `p_h` at the
//!    background; a bump (or any blob shorter than half the image) leaves both near 0. So a
//!    stripe must cross at least half of the frame to count.
//! 3. Stripes: each profile less its own median (an SOS's other stripe lifts every value of a
//!    profile by a constant), then its local maxima `≥ stripe_min_amplitude` (0.2, absolute, `[0, 1]`
//!    units; a full stripe has 1 and each stripe of an SOS ½), plateaus giving one peak, then
//!    greedy non-maximum suppression at `nms_radius` (2 px; 2σ from
//!    [`StripeScoreConfig::for_render`]). Count, orientation (vertical, horizontal, none, both)
//!    and multiplicity follow.
//! 4. Each stripe's position, width and height: a weighted least-squares fit of a parabola to
//!    `ln p` (weights `p²`, Caruana's method) over the peak's own slopes (the profile values
//!    within `fit_half_window` (4) px of the peak, up to where the profile rises again towards
//!    a neighbouring stripe) that are `≥ fit_floor_fraction` (0.02) of the peak, and at least
//!    the three largest of them. Exact for a sampled Gaussian on a zero background, including
//!    one cut by the border. (A stripe wider than about N/8 raises the median background and
//!    its fitted width comes out low: σ = 4 on 32 columns is fitted as 3.6.) A fit that is not
//!    a downward parabola or moves the centre more than `fit_max_shift` (1.5 px) from the peak
//!    pixel is discarded; the fallback is the profile centroid over the values `≥ ½` of the peak,
//!    with no width (so a width check, when asked for, fails).
//! 5. Residual: `r[y][x] = w[y][x] − p_v[x] − p_h[y]`, the image minus what the stripes explain.
//!    `max |r| ≥ residual_max` (0.25, the level at which the bump scorer counts an extra bump)
//!    means extra content (a bump beside the stripe, a stripe broken in some rows): the image is
//!    malformed. Pixel noise of standard deviation s puts `max |r|` near 3.3·s on 32×32, so this
//!    rule holds up to s ≈ 0.06 in `[0, 1]` units (0.12 in the model's `[−1, 1]`).
//! 6. Shape: a stripe is well formed when its fitted height is `≥ min_amplitude_ratio ·
//!    expected_amplitude` (0.5 · 1; ½ per stripe for SOS from [`StripeScoreConfig::for_render`])
//!    and, when `expected_sigma` is set, its width lies in `sigma_ratio_range` (0.5, 2) of it.
//! 7. Correct at τ (`tolerance`, 1 px) and at `tight_tolerance` (0.5 px), compared up to
//!    [`TOLERANCE_SLACK`].
//!
//! [`score_stripe_image`] scores one image against a [`StripeTarget`] (orientation and
//! position); its classes ([`StripeFailure`]) partition the images. [`score_sos_image`] scores
//! a sum of stripes against `[μx, μy]`: a vertical stripe at μx and a horizontal one at μy,
//! each expected only when it would be visible in the frame (see [`SosImageScore::expected`]),
//! which makes the extended-canvas "0D, 1D, 2D" images scorable by one rule.

use serde::{Deserialize, Serialize};

use super::detect::median;
use super::TOLERANCE_SLACK;
use crate::error::{Error, Result};
use crate::render::{Pattern, Polarity, RenderConfig};

/// Every constant of the stripe and SOS scoring rules (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StripeScoreConfig {
    /// Polarity the images were rendered with. Default dark on bright.
    pub polarity: Polarity,
    /// Value range of the images; `range.0 → 0`, `range.1 → 1`. Default (−1, 1).
    pub range: (f32, f32),
    /// Tolerance τ on a stripe's position, pixels. Default 1.0.
    pub tolerance: f64,
    /// Second, tighter tolerance also reported. Default 0.5.
    pub tight_tolerance: f64,
    /// Below this amplitude (`[0, 1]` units above the median) the image is empty. Default 0.25.
    pub min_amplitude: f64,
    /// A profile peak counts as a stripe at this height or above (`[0, 1]` units). Default 0.2.
    pub stripe_min_amplitude: f64,
    /// Non-maximum-suppression radius between stripes of one orientation, pixels. Default 2.0.
    pub nms_radius: f64,
    /// Half-width of the profile window used by the fit, pixels. Default 4.
    pub fit_half_window: usize,
    /// Profile values below this fraction of the peak are left out of the fit. Default 0.02.
    pub fit_floor_fraction: f64,
    /// A fit whose centre is further than this from the peak pixel is rejected. Default 1.5.
    pub fit_max_shift: f64,
    /// `max |w − p_v − p_h|` at or above this marks extra content (malformed). Default 0.25.
    pub residual_max: f64,
    /// Width σ of the data's stripes in the `exp(−d²/(2σ²))` convention, or `None` to skip the
    /// width check. Default `None`; [`StripeScoreConfig::for_render`] sets it.
    pub expected_sigma: Option<f64>,
    /// Accepted range `(lo, hi)` of fitted over expected width. Default (0.5, 2.0).
    pub sigma_ratio_range: (f64, f64),
    /// Height of one of the data's stripes, `[0, 1]` units: 1 for a stripe image, ½ for each
    /// stripe of an SOS image. Default 1.0.
    pub expected_amplitude: f64,
    /// A stripe lower than `min_amplitude_ratio · expected_amplitude` is malformed. Default 0.5.
    pub min_amplitude_ratio: f64,
}

impl Default for StripeScoreConfig {
    /// The values on each field (all ours; docs/followup-instruments.md): τ = 1 px and 0.5 px,
    /// amplitude 0.25, stripe height 0.2, NMS 2 px, no expected width
    /// ([`StripeScoreConfig::for_render`] sets it).
    fn default() -> Self {
        Self {
            polarity: Polarity::DarkOnBright,
            range: (-1.0, 1.0),
            tolerance: 1.0,
            tight_tolerance: 0.5,
            min_amplitude: 0.25,
            stripe_min_amplitude: 0.2,
            nms_radius: 2.0,
            fit_half_window: 4,
            fit_floor_fraction: 0.02,
            fit_max_shift: 1.5,
            residual_max: 0.25,
            expected_sigma: None,
            sigma_ratio_range: (0.5, 2.0),
            expected_amplitude: 1.0,
            min_amplitude_ratio: 0.5,
        }
    }
}

impl StripeScoreConfig {
    /// Default config matched to how `pattern` images were rendered: same polarity and range,
    /// NMS radius `2σ'` and expected width `σ' = σ·√(k/2)` (the render's `exp(−d²/(kσ²))` in
    /// the scorer's convention; σx for vertical stripes, σy for horizontal ones, the larger of
    /// the two for SOS), and expected height ½ for [`Pattern::SumOfStripes`] (each stripe is
    /// half of the sum), else 1.
    pub fn for_render(render: &RenderConfig, pattern: Pattern) -> Self {
        let (sx, sy) = render.sigma.xy();
        let scale = (render.exponent_denominator_factor / 2.0).sqrt();
        let sigma = match pattern {
            Pattern::VerticalStripe => sx,
            Pattern::HorizontalStripe => sy,
            Pattern::Bump | Pattern::SumOfStripes => sx.max(sy),
        } * scale;
        Self {
            polarity: render.polarity,
            range: render.range,
            nms_radius: 2.0 * sigma,
            expected_sigma: Some(sigma),
            expected_amplitude: if pattern == Pattern::SumOfStripes {
                0.5
            } else {
                1.0
            },
            ..Self::default()
        }
    }
    /// Sets the polarity.
    pub fn with_polarity(mut self, p: Polarity) -> Self {
        self.polarity = p;
        self
    }
    /// Sets τ.
    pub fn with_tolerance(mut self, t: f64) -> Self {
        self.tolerance = t;
        self
    }
    /// Sets (or clears) the expected width σ.
    pub fn with_expected_sigma(mut self, sigma: Option<f64>) -> Self {
        self.expected_sigma = sigma;
        self
    }
    /// Sets the expected height of one stripe (`[0, 1]` units).
    pub fn with_expected_amplitude(mut self, a: f64) -> Self {
        self.expected_amplitude = a;
        self
    }
    /// Sets the residual level that marks extra content.
    pub fn with_residual_max(mut self, r: f64) -> Self {
        self.residual_max = r;
        self
    }

    /// Checks every constant; the message names the field and the value.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        super::check_range("stripe score range", self.range)?;
        super::check_non_negative(&[
            ("tolerance", self.tolerance),
            ("tight_tolerance", self.tight_tolerance),
            ("min_amplitude", self.min_amplitude),
            ("nms_radius", self.nms_radius),
            ("fit_max_shift", self.fit_max_shift),
        ])?;
        for (name, v) in [
            ("stripe_min_amplitude", self.stripe_min_amplitude),
            ("residual_max", self.residual_max),
            ("expected_amplitude", self.expected_amplitude),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(format!("{name} must be finite and > 0, got {v}"));
            }
        }
        if self.fit_half_window == 0 {
            return bad("fit_half_window must be >= 1, got 0".into());
        }
        let f = self.fit_floor_fraction;
        if !(f > 0.0 && f < 1.0) {
            return bad(format!("fit_floor_fraction must lie in (0, 1), got {f}"));
        }
        if let Some(s) = self.expected_sigma {
            if !(s.is_finite() && s > 0.0) {
                return bad(format!("expected_sigma must be finite and > 0, got {s}"));
            }
        }
        super::check_sigma_ratio_range(self.sigma_ratio_range)?;
        super::check_min_amplitude_ratio(self.min_amplitude_ratio)?;
        Ok(())
    }
}

/// Orientation of a stripe: vertical (constant column, position μx) or horizontal (constant
/// row, position μy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Orientation {
    /// A vertical stripe at column μx.
    Vertical,
    /// A horizontal stripe at row μy.
    Horizontal,
}

/// What orientation an image shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectedOrientation {
    /// No stripe.
    None,
    /// Only vertical stripes (one or more).
    Vertical,
    /// Only horizontal stripes (one or more).
    Horizontal,
    /// Stripes of both orientations: ambiguous for a single-stripe target.
    Both,
}

/// The stripe an image should show.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StripeTarget {
    /// Its orientation.
    pub orientation: Orientation,
    /// Its position in image pixels: μx for a vertical stripe, μy for a horizontal one.
    pub position: f32,
}

impl StripeTarget {
    /// The target of a stripe rendered as `pattern` at `centre = [μx, μy]` (image pixels).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a pattern that is not a single stripe.
    pub fn from_pattern(pattern: Pattern, centre: [f32; 2]) -> Result<Self> {
        match pattern {
            Pattern::VerticalStripe => Ok(Self {
                orientation: Orientation::Vertical,
                position: centre[0],
            }),
            Pattern::HorizontalStripe => Ok(Self {
                orientation: Orientation::Horizontal,
                position: centre[1],
            }),
            p => Err(Error::InvalidArgument(format!(
                "a stripe target needs a vertical_stripe or horizontal_stripe pattern, got {p:?}"
            ))),
        }
    }
}

/// One detected stripe.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StripeFit {
    /// Position, pixels (sub-pixel): the column of a vertical stripe, the row of a horizontal one.
    pub position: f64,
    /// Width σ̂ (`exp(−d²/(2σ̂²))` convention), pixels, when the fit was accepted.
    pub sigma: Option<f64>,
    /// Height above the background, `[0, 1]` units: the fitted one, else the profile peak.
    pub amplitude: f64,
    /// Whether position and width come from the accepted fit (else the centroid).
    pub refined: bool,
}

/// Outcome class of one image under the stripe rule. The classes partition the images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StripeFailure {
    /// No content (amplitude below `min_amplitude`).
    Empty,
    /// Content, but no stripe (e.g. a bump or a short blob).
    NoStripe,
    /// Two or more stripes, of any orientations.
    MultiStripe,
    /// One stripe, of the other orientation.
    WrongOrientation,
    /// One stripe of the right orientation that is too faint, of the wrong width, or beside
    /// extra content (residual).
    Malformed,
    /// One well-formed stripe of the right orientation, outside τ.
    SingleWrong,
    /// One well-formed stripe of the right orientation within τ.
    Correct,
}

/// Score of one image against a [`StripeTarget`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StripeImageScore {
    /// Amplitude A above the median background, `[0, 1]` units.
    pub amplitude: f64,
    /// Detected orientation.
    pub orientation: DetectedOrientation,
    /// Vertical stripes found, strongest first.
    pub vertical: Vec<StripeFit>,
    /// Horizontal stripes found, strongest first.
    pub horizontal: Vec<StripeFit>,
    /// `max |w − p_v − p_h|`: what the stripes leave unexplained, `[0, 1]` units.
    pub residual: f64,
    /// The single stripe, when exactly one was found (any orientation).
    pub stripe: Option<StripeFit>,
    /// Signed error `position − target` of the single stripe when its orientation is right.
    pub error: Option<f64>,
    /// Correct at τ.
    pub correct: bool,
    /// Correct at the tight tolerance.
    pub correct_tight: bool,
    /// Outcome class.
    pub failure: StripeFailure,
}

impl StripeImageScore {
    /// Number of stripes found (multiplicity), both orientations.
    pub fn multiplicity(&self) -> usize {
        self.vertical.len() + self.horizontal.len()
    }
}

/// Aggregate of stripe scores over a batch. Rates are fractions of all images and the class
/// rates sum to 1 for a non-empty batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StripeReport {
    /// Images scored.
    pub count: usize,
    /// Correct / all.
    pub accuracy: f64,
    /// Correct at the tight tolerance / all.
    pub accuracy_tight: f64,
    /// Exactly one stripe, of the right orientation (any position or shape) / all.
    pub orientation_accuracy: f64,
    /// Empty / all.
    pub empty_rate: f64,
    /// No stripe / all.
    pub no_stripe_rate: f64,
    /// Two or more stripes / all.
    pub multi_stripe_rate: f64,
    /// One stripe of the wrong orientation / all.
    pub wrong_orientation_rate: f64,
    /// One malformed stripe of the right orientation / all.
    pub malformed_rate: f64,
    /// One well-formed stripe of the right orientation outside τ / all.
    pub single_wrong_rate: f64,
    /// Mean |position − target| over images with one stripe of the right orientation.
    pub mean_abs_error: Option<f64>,
    /// Per-image scores, in input order.
    pub per_image: Vec<StripeImageScore>,
}

impl StripeReport {
    /// Aggregates per-image scores.
    pub fn from_scores(per_image: Vec<StripeImageScore>) -> Self {
        let count = per_image.len();
        let frac = |k: usize| {
            if count == 0 {
                0.0
            } else {
                k as f64 / count as f64
            }
        };
        let n_if =
            |f: &dyn Fn(&StripeImageScore) -> bool| per_image.iter().filter(|s| f(s)).count();
        let class = |c: StripeFailure| frac(n_if(&|s| s.failure == c));
        let errors: Vec<f64> = per_image.iter().filter_map(|s| s.error).collect();
        Self {
            count,
            accuracy: frac(n_if(&|s| s.correct)),
            accuracy_tight: frac(n_if(&|s| s.correct_tight)),
            orientation_accuracy: frac(errors.len()),
            empty_rate: class(StripeFailure::Empty),
            no_stripe_rate: class(StripeFailure::NoStripe),
            multi_stripe_rate: class(StripeFailure::MultiStripe),
            wrong_orientation_rate: class(StripeFailure::WrongOrientation),
            malformed_rate: class(StripeFailure::Malformed),
            single_wrong_rate: class(StripeFailure::SingleWrong),
            mean_abs_error: (!errors.is_empty())
                .then(|| errors.iter().map(|e| e.abs()).sum::<f64>() / errors.len() as f64),
            per_image,
        }
    }
}

/// Outcome class of one image under the SOS rule. The classes partition the images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SosFailure {
    /// No content while at least one stripe was expected.
    Empty,
    /// The number of vertical or of horizontal stripes differs from the expected one (0 or 1).
    WrongCount,
    /// The right counts, but a stripe is too faint or of the wrong width, or extra content is
    /// left (residual).
    Malformed,
    /// The right counts, well formed, but a stripe is outside τ.
    Misplaced,
    /// The right counts, well formed, every expected stripe within τ.
    Correct,
}

/// Score of one image against an SOS target `[μx, μy]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SosImageScore {
    /// Amplitude A above the median background, `[0, 1]` units.
    pub amplitude: f64,
    /// Whether a vertical (index 0, at μx) and a horizontal (index 1, at μy) stripe are
    /// expected: the target lies in the frame `[0, N − 1]`, or (when `expected_sigma` is set)
    /// its stripe would still show in the frame at `≥ stripe_min_amplitude`, i.e. the distance
    /// d to the frame satisfies `expected_amplitude · exp(−d²/(2σ²)) ≥ stripe_min_amplitude`.
    pub expected: [bool; 2],
    /// Vertical stripes found, strongest first.
    pub vertical: Vec<StripeFit>,
    /// Horizontal stripes found, strongest first.
    pub horizontal: Vec<StripeFit>,
    /// `max |w − p_v − p_h|`, `[0, 1]` units.
    pub residual: f64,
    /// Signed errors `[x̂ − μx, ŷ − μy]` of the stripes found where one is expected and one found.
    pub error: [Option<f64>; 2],
    /// The vertical axis is right: no stripe where none is expected, or one well-formed stripe
    /// within τ of μx.
    pub x_ok: bool,
    /// The horizontal axis is right (as `x_ok`, at μy).
    pub y_ok: bool,
    /// Both axes right and no extra content.
    pub correct: bool,
    /// Correct at the tight tolerance.
    pub correct_tight: bool,
    /// Outcome class.
    pub failure: SosFailure,
}

/// Aggregate of SOS scores over a batch. Class rates sum to 1 for a non-empty batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SosReport {
    /// Images scored.
    pub count: usize,
    /// Correct / all.
    pub accuracy: f64,
    /// `x_ok` / all.
    pub acc_x: f64,
    /// `y_ok` / all.
    pub acc_y: f64,
    /// Correct at the tight tolerance / all.
    pub accuracy_tight: f64,
    /// Empty / all.
    pub empty_rate: f64,
    /// Wrong count / all.
    pub wrong_count_rate: f64,
    /// Malformed / all.
    pub malformed_rate: f64,
    /// Misplaced / all.
    pub misplaced_rate: f64,
    /// Mean |x̂ − μx| over images with an error on x.
    pub mean_abs_dx: Option<f64>,
    /// Mean |ŷ − μy| over images with an error on y.
    pub mean_abs_dy: Option<f64>,
    /// Per-image scores, in input order.
    pub per_image: Vec<SosImageScore>,
}

impl SosReport {
    /// Aggregates per-image scores.
    pub fn from_scores(per_image: Vec<SosImageScore>) -> Self {
        let count = per_image.len();
        let frac = |k: usize| {
            if count == 0 {
                0.0
            } else {
                k as f64 / count as f64
            }
        };
        let n_if = |f: &dyn Fn(&SosImageScore) -> bool| per_image.iter().filter(|s| f(s)).count();
        let class = |c: SosFailure| frac(n_if(&|s| s.failure == c));
        let mean = |a: usize| {
            let e: Vec<f64> = per_image.iter().filter_map(|s| s.error[a]).collect();
            (!e.is_empty()).then(|| e.iter().map(|v| v.abs()).sum::<f64>() / e.len() as f64)
        };
        Self {
            count,
            accuracy: frac(n_if(&|s| s.correct)),
            acc_x: frac(n_if(&|s| s.x_ok)),
            acc_y: frac(n_if(&|s| s.y_ok)),
            accuracy_tight: frac(n_if(&|s| s.correct_tight)),
            empty_rate: class(SosFailure::Empty),
            wrong_count_rate: class(SosFailure::WrongCount),
            malformed_rate: class(SosFailure::Malformed),
            misplaced_rate: class(SosFailure::Misplaced),
            mean_abs_dx: mean(0),
            mean_abs_dy: mean(1),
            per_image,
        }
    }
}

/// Scores one image against the stripe it should show.
///
/// # Shapes
/// `img`: `[N, N]` row-major.
///
/// # Errors
/// An invalid config, a buffer that is not N², N = 0, or a non-finite target position.
pub fn score_stripe_image(
    img: &[f32],
    n: usize,
    target: StripeTarget,
    cfg: &StripeScoreConfig,
) -> Result<StripeImageScore> {
    cfg.validate()?;
    check_shape(img.len(), n, 1)?;
    check_stripe_targets(&[target])?;
    Ok(stripe_one(&analyse(img, n, cfg), target, cfg))
}

/// Scores a batch of stripe images and aggregates.
///
/// # Shapes
/// `images`: `[B, N, N]` row-major; `targets`: `[B]`.
///
/// # Errors
/// As [`score_stripe_image`], and a target count that differs from B.
pub fn score_stripe_batch(
    images: &[f32],
    n: usize,
    targets: &[StripeTarget],
    cfg: &StripeScoreConfig,
) -> Result<StripeReport> {
    cfg.validate()?;
    check_shape(images.len(), n, targets.len())?;
    check_stripe_targets(targets)?;
    let per_image = images
        .chunks_exact(n * n)
        .zip(targets)
        .map(|(img, &t)| stripe_one(&analyse(img, n, cfg), t, cfg))
        .collect();
    Ok(StripeReport::from_scores(per_image))
}

/// Scores one image against an SOS target `[μx, μy]` (image pixels; with an extended canvas,
/// the latent label minus the offset, which may lie outside the frame).
///
/// # Shapes
/// `img`: `[N, N]` row-major.
///
/// # Errors
/// An invalid config, a buffer that is not N², N = 0, or a non-finite target.
pub fn score_sos_image(
    img: &[f32],
    n: usize,
    target: [f32; 2],
    cfg: &StripeScoreConfig,
) -> Result<SosImageScore> {
    cfg.validate()?;
    check_shape(img.len(), n, 1)?;
    check_sos_targets(&[target])?;
    Ok(sos_one(&analyse(img, n, cfg), n, target, cfg))
}

/// Scores a batch of SOS images and aggregates.
///
/// # Shapes
/// `images`: `[B, N, N]` row-major; `targets`: `[B]` of `[μx, μy]`.
///
/// # Errors
/// As [`score_sos_image`], and a target count that differs from B.
pub fn score_sos_batch(
    images: &[f32],
    n: usize,
    targets: &[[f32; 2]],
    cfg: &StripeScoreConfig,
) -> Result<SosReport> {
    cfg.validate()?;
    check_shape(images.len(), n, targets.len())?;
    check_sos_targets(targets)?;
    let per_image = images
        .chunks_exact(n * n)
        .zip(targets)
        .map(|(img, &t)| sos_one(&analyse(img, n, cfg), n, t, cfg))
        .collect();
    Ok(SosReport::from_scores(per_image))
}

fn check_shape(values: usize, n: usize, count: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::ZeroSize);
    }
    if values != count * n * n {
        return Err(Error::ShapeMismatch(format!(
            "{values} image values for {count} images of {n}×{n}"
        )));
    }
    Ok(())
}

fn check_stripe_targets(targets: &[StripeTarget]) -> Result<()> {
    match targets.iter().position(|t| !t.position.is_finite()) {
        Some(i) => Err(Error::InvalidArgument(format!(
            "stripe target {i} has a non-finite position {}",
            targets[i].position
        ))),
        None => Ok(()),
    }
}

fn check_sos_targets(targets: &[[f32; 2]]) -> Result<()> {
    match targets
        .iter()
        .position(|t| !(t[0].is_finite() && t[1].is_finite()))
    {
        Some(index) => Err(Error::NonFiniteCentre {
            index,
            x: targets[index][0] as f64,
            y: targets[index][1] as f64,
        }),
        None => Ok(()),
    }
}

/// Steps 1–5 for one image: amplitude, stripes of each orientation, residual.
struct Analysis {
    amplitude: f64,
    vertical: Vec<StripeFit>,
    horizontal: Vec<StripeFit>,
    residual: f64,
}

fn analyse(img: &[f32], n: usize, cfg: &StripeScoreConfig) -> Analysis {
    // Step 1.
    let (lo, hi) = (cfg.range.0 as f64, cfg.range.1 as f64);
    let mut w: Vec<f64> = img
        .iter()
        .map(|&u| {
            if !u.is_finite() {
                return 0.0;
            }
            let v = ((u as f64 - lo) / (hi - lo)).clamp(0.0, 1.0);
            match cfg.polarity {
                Polarity::DarkOnBright => 1.0 - v,
                Polarity::BrightOnDark => v,
            }
        })
        .collect();
    let mut buf = Vec::with_capacity(n * n);
    let background = median(&w, &mut buf);
    w.iter_mut().for_each(|v| *v -= background);
    let amplitude = w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut out = Analysis {
        amplitude,
        vertical: Vec::new(),
        horizontal: Vec::new(),
        residual: 0.0,
    };
    if amplitude.is_nan() || amplitude < cfg.min_amplitude || amplitude <= 0.0 {
        return out;
    }
    // Step 2: median profiles.
    let mut line = Vec::with_capacity(n);
    let p_v: Vec<f64> = (0..n)
        .map(|x| {
            line.clear();
            line.extend((0..n).map(|y| w[y * n + x]));
            median(&line, &mut buf)
        })
        .collect();
    let p_h: Vec<f64> = (0..n)
        .map(|y| median(&w[y * n..(y + 1) * n], &mut buf))
        .collect();
    // Steps 3–4, on each profile less its own median: the other orientation's stripe adds a
    // constant to every value of a profile (half its median in an SOS).
    let level = |p: &[f64], buf: &mut Vec<f64>| {
        let m = median(p, buf);
        p.iter().map(|v| v - m).collect::<Vec<f64>>()
    };
    out.vertical = stripes(&level(&p_v, &mut buf), cfg);
    out.horizontal = stripes(&level(&p_h, &mut buf), cfg);
    // Step 5.
    out.residual = (0..n * n)
        .map(|i| (w[i] - p_v[i % n] - p_h[i / n]).abs())
        .fold(0.0, f64::max);
    out
}

/// Stripes in one profile: peaks ≥ `stripe_min_amplitude`, NMS, then the fit of each.
fn stripes(p: &[f64], cfg: &StripeScoreConfig) -> Vec<StripeFit> {
    let n = p.len();
    let mut peaks: Vec<usize> = (0..n)
        .filter(|&i| {
            p[i] >= cfg.stripe_min_amplitude
                // Earlier neighbour strictly lower, later one not higher: a plateau gives one peak.
                && (i == 0 || p[i - 1] < p[i])
                && (i + 1 == n || p[i + 1] <= p[i])
        })
        .collect();
    peaks.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
    let mut kept: Vec<usize> = Vec::new();
    for i in peaks {
        if kept
            .iter()
            .all(|&k| (k as f64 - i as f64).abs() >= cfg.nms_radius)
        {
            kept.push(i);
        }
    }
    kept.into_iter().map(|i| fit_profile(p, i, cfg)).collect()
}

/// Caruana's weighted log-parabola fit around peak `i`, else the centroid (step 4).
fn fit_profile(p: &[f64], i: usize, cfg: &StripeScoreConfig) -> StripeFit {
    let n = p.len();
    let peak = p[i];
    // The peak's own slopes: within the window, while the profile keeps falling.
    let mut lo = i;
    while lo > 0 && i - lo < cfg.fit_half_window && p[lo - 1] < p[lo] {
        lo -= 1;
    }
    let mut hi = i;
    while hi + 1 < n && hi - i < cfg.fit_half_window && p[hi + 1] < p[hi] {
        hi += 1;
    }
    // Positive values ≥ the floor, and at least the three largest (a narrow stripe cut by the
    // border has only two values above the floor).
    let mut points: Vec<usize> = (lo..=hi).filter(|&x| p[x] > 0.0).collect();
    points.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let keep = points
        .iter()
        .take_while(|&&x| p[x] >= cfg.fit_floor_fraction * peak)
        .count()
        .max(3);
    points.truncate(keep);
    // Normal equations of Σ p²(ln p − a − b·u − c·u²)², u = x − i.
    let mut m = [[0.0f64; 3]; 3];
    let mut rhs = [0.0f64; 3];
    let used = points.len();
    for &x in &points {
        let v = p[x];
        let u = x as f64 - i as f64;
        let basis = [1.0, u, u * u];
        let wt = v * v;
        let l = v.ln();
        for r in 0..3 {
            rhs[r] += wt * l * basis[r];
            for c in 0..3 {
                m[r][c] += wt * basis[r] * basis[c];
            }
        }
    }
    if used >= 3 {
        if let Some([a, b, c]) = solve3(m, rhs) {
            let shift = -b / (2.0 * c);
            let sigma = (-1.0 / (2.0 * c)).sqrt();
            let amplitude = (a - b * b / (4.0 * c)).exp();
            if c < 0.0
                && shift.abs() <= cfg.fit_max_shift
                && sigma.is_finite()
                && amplitude.is_finite()
            {
                return StripeFit {
                    position: i as f64 + shift,
                    sigma: Some(sigma),
                    amplitude,
                    refined: true,
                };
            }
        }
    }
    // Fallback: centroid of the contiguous run ≥ half of the peak.
    let half = 0.5 * peak;
    let mut a = i;
    while a > 0 && p[a - 1] >= half {
        a -= 1;
    }
    let mut b = i;
    while b + 1 < n && p[b + 1] >= half {
        b += 1;
    }
    let (sw, swx) = (a..=b).fold((0.0, 0.0), |(s, sx), x| (s + p[x], sx + p[x] * x as f64));
    StripeFit {
        position: swx / sw,
        sigma: None,
        amplitude: peak,
        refined: false,
    }
}

/// Solves a 3×3 system by Gaussian elimination with partial pivoting; `None` when singular.
fn solve3(mut m: [[f64; 3]; 3], mut r: [f64; 3]) -> Option<[f64; 3]> {
    for col in 0..3 {
        let piv = (col..3).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[piv][col].abs() < 1e-300 {
            return None;
        }
        m.swap(col, piv);
        r.swap(col, piv);
        let pivot_row = m[col];
        for row in col + 1..3 {
            let f = m[row][col] / pivot_row[col];
            for (a, b) in m[row].iter_mut().zip(pivot_row).skip(col) {
                *a -= f * b;
            }
            r[row] -= f * r[col];
        }
    }
    let mut x = [0.0; 3];
    for row in (0..3).rev() {
        let s: f64 = (row + 1..3).map(|k| m[row][k] * x[k]).sum();
        x[row] = (r[row] - s) / m[row][row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Whether one stripe looks like the data's (step 6).
fn well_formed(s: &StripeFit, cfg: &StripeScoreConfig) -> bool {
    let amplitude_ok = s.amplitude >= cfg.min_amplitude_ratio * cfg.expected_amplitude;
    let width_ok = match cfg.expected_sigma {
        None => true,
        Some(e) => s
            .sigma
            .is_some_and(|v| v >= cfg.sigma_ratio_range.0 * e && v <= cfg.sigma_ratio_range.1 * e),
    };
    amplitude_ok && width_ok
}

fn stripe_one(a: &Analysis, target: StripeTarget, cfg: &StripeScoreConfig) -> StripeImageScore {
    let orientation = match (a.vertical.is_empty(), a.horizontal.is_empty()) {
        (true, true) => DetectedOrientation::None,
        (false, true) => DetectedOrientation::Vertical,
        (true, false) => DetectedOrientation::Horizontal,
        (false, false) => DetectedOrientation::Both,
    };
    let mut score = StripeImageScore {
        amplitude: a.amplitude,
        orientation,
        vertical: a.vertical.clone(),
        horizontal: a.horizontal.clone(),
        residual: a.residual,
        stripe: None,
        error: None,
        correct: false,
        correct_tight: false,
        failure: StripeFailure::Empty,
    };
    if a.amplitude.is_nan() || a.amplitude < cfg.min_amplitude || a.amplitude <= 0.0 {
        return score;
    }
    let multiplicity = score.multiplicity();
    if multiplicity == 0 {
        score.failure = StripeFailure::NoStripe;
        return score;
    }
    if multiplicity > 1 {
        score.failure = StripeFailure::MultiStripe;
        return score;
    }
    // Exactly one stripe: the vertical one, else the horizontal one.
    let (found, right) = match a.vertical.first() {
        Some(v) => (*v, target.orientation == Orientation::Vertical),
        None => (
            a.horizontal[0],
            target.orientation == Orientation::Horizontal,
        ),
    };
    score.stripe = Some(found);
    if !right {
        score.failure = StripeFailure::WrongOrientation;
        return score;
    }
    let err = found.position - target.position as f64;
    score.error = Some(err);
    let ok = well_formed(&found, cfg) && a.residual < cfg.residual_max;
    score.correct = ok && err.abs() <= cfg.tolerance + TOLERANCE_SLACK;
    score.correct_tight = ok && err.abs() <= cfg.tight_tolerance + TOLERANCE_SLACK;
    score.failure = if !ok {
        StripeFailure::Malformed
    } else if score.correct {
        StripeFailure::Correct
    } else {
        StripeFailure::SingleWrong
    };
    score
}

/// Whether a stripe at `mu` would show in the frame `[0, N − 1]` (see [`SosImageScore::expected`]).
fn expected_visible(mu: f64, n: usize, cfg: &StripeScoreConfig) -> bool {
    let d = if mu < 0.0 {
        -mu
    } else if mu > (n - 1) as f64 {
        mu - (n - 1) as f64
    } else {
        return true;
    };
    match cfg.expected_sigma {
        None => false,
        Some(s) => {
            cfg.expected_amplitude * (-d * d / (2.0 * s * s)).exp() >= cfg.stripe_min_amplitude
        }
    }
}

fn sos_one(a: &Analysis, n: usize, target: [f32; 2], cfg: &StripeScoreConfig) -> SosImageScore {
    let expected = [
        expected_visible(target[0] as f64, n, cfg),
        expected_visible(target[1] as f64, n, cfg),
    ];
    let mut score = SosImageScore {
        amplitude: a.amplitude,
        expected,
        vertical: a.vertical.clone(),
        horizontal: a.horizontal.clone(),
        residual: a.residual,
        error: [None, None],
        x_ok: false,
        y_ok: false,
        correct: false,
        correct_tight: false,
        failure: SosFailure::Empty,
    };
    let empty = a.amplitude.is_nan() || a.amplitude < cfg.min_amplitude || a.amplitude <= 0.0;
    let found = [&a.vertical, &a.horizontal];
    // Per axis: (count right, well formed, |error| ≤ τ, |error| ≤ tight).
    let mut axes = [(false, false, false, false); 2];
    for axis in 0..2 {
        let stripes = found[axis];
        if !expected[axis] {
            axes[axis] = (stripes.is_empty(), true, true, true);
            continue;
        }
        if stripes.len() != 1 {
            continue;
        }
        let s = stripes[0];
        let err = s.position - target[axis] as f64;
        score.error[axis] = Some(err);
        axes[axis] = (
            true,
            well_formed(&s, cfg),
            err.abs() <= cfg.tolerance + TOLERANCE_SLACK,
            err.abs() <= cfg.tight_tolerance + TOLERANCE_SLACK,
        );
    }
    let clean = a.residual < cfg.residual_max;
    let axis_ok = |t: (bool, bool, bool, bool)| t.0 && t.1 && t.2 && clean;
    score.x_ok = axis_ok(axes[0]);
    score.y_ok = axis_ok(axes[1]);
    score.correct = score.x_ok && score.y_ok;
    score.correct_tight = score.correct && axes[0].3 && axes[1].3;
    let counts_ok = axes[0].0 && axes[1].0;
    score.failure = if empty && (expected[0] || expected[1]) {
        SosFailure::Empty
    } else if !counts_ok {
        SosFailure::WrongCount
    } else if !(axes[0].1 && axes[1].1 && clean) {
        SosFailure::Malformed
    } else if !(axes[0].2 && axes[1].2) {
        SosFailure::Misplaced
    } else {
        SosFailure::Correct
    };
    score
}
