//! Scoring generated bump images (our rule; the papers never publish theirs).
//!
//! Steps, each constant in [`ScoreConfig`] (defaults in brackets, all ours):
//! 1. Map pixels to `[0, 1]` (clamped) and apply the polarity so the bump is bright: `w`
//!    (non-finite pixels get `w = 0`, no bump intensity). Subtract the median (background) and
//!    take the amplitude `A = max w`. A full-contrast bump has `A = 1` in these units.
//! 2. If `A < min_amplitude` (0.25) the image is empty (count 0).
//! 3. Count bumps. A bump counts when its peak is `≥ f·A` (`threshold_fraction` f = 0.5, relative
//!    to the strongest) **or** `≥ extra_bump_min_amplitude` (0.25, absolute), so a faint second
//!    bump is counted however strong the first one is. Two counts are reported:
//!    (a, canonical) 8-connected components of `{w ≥ f·A}` with at least `min_area` pixels (1),
//!    where a component holding k ≥ 2 of the peaks of (b) counts k (`split_merged_peaks`, on),
//!    plus one per peak of (b) below `f·A` (those lie outside every component);
//!    (b) local maxima `≥ min(f·A, extra_bump_min_amplitude)` after greedy non-maximum
//!    suppression at `nms_radius` (2 px; 2σ from [`ScoreConfig::for_sigma`]).
//! 4. A single bump's centre and shape: a Levenberg–Marquardt fit of an elliptical Gaussian
//!    `a·exp(−½ dᵀP d) + c` (centre, full 2×2 covariance, amplitude, offset: 7 parameters) on the
//!    (2·`fit_half_window`+1)² window (9×9) around the brightest pixel (`refine`, on). A fit that
//!    fails, or moves the centre more than `fit_max_shift` (1.5 px) from the w-weighted centroid
//!    of the component, is discarded; the fallback is the centroid, the component's w-weighted
//!    covariance divided by the truncation factor `1 − f·ln(1/f)/(1 − f)` (0.307 at f = 0.5: the
//!    covariance of a Gaussian cut at f of its peak is that factor times its own), and `A` as the
//!    amplitude.
//! 5. Shape: the single bump is **malformed** unless its amplitude is `≥ min_amplitude_ratio ·
//!    expected_amplitude` (0.5 · 1) and, when `expected_sigma` (σx, σy) is known (set by
//!    [`ScoreConfig::for_render`] and [`ScoreConfig::for_sigma`]; `None` by default, which skips
//!    the width check), its widths lie in `sigma_ratio_range` (0.5, 2) of the data's: the
//!    marginal widths σ̂x ∈ [0.5σx, 2σx] and σ̂y ∈ [0.5σy, 2σy], and both principal widths in
//!    [0.5·min(σx, σy), 2·max(σx, σy)] (this catches elongated blobs at any angle). Whatever
//!    the configuration, a bump whose component reaches every row or every column of the canvas
//!    (a stripe, or a blob as wide as the canvas) is malformed too: without this rule a vertical
//!    stripe through μx scores as a correct bump under [`ScoreConfig::default`], which knows no
//!    width (the [`stripe`] scorer is the one for stripe images).
//! 6. Correct iff count = 1, not malformed, and `|x̂ − μx| ≤ τ` and `|ŷ − μy| ≤ τ` (`tolerance`,
//!    1 px), compared up to [`TOLERANCE_SLACK`]; also reported at `tight_tolerance` (0.5 px: half
//!    the spacing of the default 1-px training lattice, so the neighbouring training condition
//!    is rejected).
//! 7. [`ScoreReport`] aggregates a batch. The classes empty, multi-bump, malformed, single-wrong
//!    and correct partition the images, so their rates sum to 1.
//!
//! Layout: this module holds the configuration, the per-image and batch reports and the public
//! entry points (the rule's steps in order); `detect` counts bumps (background, components,
//! peaks) and `fit` fits a single bump's centre and shape by Gaussian least squares.

mod detect;
mod fit;
pub mod stripe;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::render::{Polarity, RenderConfig};

use detect::{components, kept_peaks, median, spans_an_axis, Component, Scratch};
use fit::{fit_gaussian, widths};

/// Centre errors are compared with τ up to this slack (pixels), so that a bump exactly one
/// lattice step from the target is within τ = 1 px whatever the float rounding: `f32` targets
/// are off by up to half an ulp (1.9e−6 px near 32) and the fit recovers rendered centres to
/// 5e−6 px (σ = 0.5 at the border; about 1e−7 px for σ ≥ 1). 1e−4 px is above both and far
/// below any distance the rule cares about. Ours.
pub const TOLERANCE_SLACK: f64 = 1e-4;

/// Every constant of the scoring rule. Fields added after the first release have serde defaults,
/// so configurations written before them still read (and then have no expected σ).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoreConfig {
    /// Polarity the images were rendered with (dark-on-bright is inverted). Default dark on bright.
    pub polarity: Polarity,
    /// Value range of the images; `range.0 → 0`, `range.1 → 1`. Default (−1, 1).
    pub range: (f32, f32),
    /// Per-axis tolerance τ in pixels. Default 1.0.
    pub tolerance: f64,
    /// Second, tighter tolerance also reported. Default 0.5.
    pub tight_tolerance: f64,
    /// Minimum amplitude A (in `[0, 1]` units above the median) for any bump; below it the image
    /// is empty. Default 0.25, the same level as [`ScoreConfig::extra_bump_min_amplitude`], so a
    /// blob counts as a bump by one absolute rule whether it is alone or beside another.
    pub min_amplitude: f64,
    /// Threshold as a fraction f of A for components and peaks. Default 0.5.
    pub threshold_fraction: f64,
    /// Minimum component area in pixels. Default 1 (a σ = 0.5 bump at an integer centre has area 1).
    pub min_area: usize,
    /// Non-maximum-suppression radius in pixels for the peak count (≈ 2σ). Default 2.0.
    pub nms_radius: f64,
    /// A component holding k ≥ 2 of the peaks kept by non-maximum suppression counts as k bumps.
    /// Two bumps 3σ apart merge at half maximum for small σ (their half-maximum discs have radius
    /// 1.18σ), yet keep two separate peaks. Default true; false is the plain component count.
    #[serde(default = "default_true")]
    pub split_merged_peaks: bool,
    /// Refine the centroid with a Gaussian least-squares fit. Default true.
    pub refine: bool,
    /// Half-width r of the (2r+1)² fit window around the brightest pixel. Default 4 (9×9).
    pub fit_half_window: usize,
    /// Maximum Levenberg–Marquardt iterations. Default 50.
    pub fit_max_iterations: usize,
    /// A fit that moves the centre further than this (pixels) from the centroid is rejected and the
    /// centroid kept. Default 1.5.
    pub fit_max_shift: f64,
    /// Score on a torus of period N (for periodic-boundary datasets): components, peaks and the fit
    /// wrap around the edges, and errors use minimum-image differences. Default false.
    pub periodic: bool,
    /// A second (third, …) bump counts when its peak is at least this (`[0, 1]` units above the
    /// median, full contrast = 1), however strong the strongest bump is; a peak `≥ f·A` counts as
    /// before. Default 0.25: a quarter of full contrast is plainly visible, a faint second bump
    /// at 40 % of a full one counts, and it equals [`ScoreConfig::min_amplitude`]. 1 or more turns
    /// the absolute rule off (only the relative `f·A` rule is left).
    #[serde(default = "default_extra_bump_min_amplitude")]
    pub extra_bump_min_amplitude: f64,
    /// Widths (σx, σy) of the data's bumps in the scorer's `exp(−r²/(2σ²))` convention, or `None`
    /// to skip the width check. Default `None`; [`ScoreConfig::for_render`] and
    /// [`ScoreConfig::for_sigma`] set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_sigma: Option<(f64, f64)>,
    /// A single bump whose fitted widths fall outside `(lo·σ, hi·σ)` of `expected_sigma` is
    /// malformed (marginal widths per axis, principal widths against the smaller and larger σ).
    /// Default (0.5, 2.0).
    #[serde(default = "default_sigma_ratio_range")]
    pub sigma_ratio_range: (f64, f64),
    /// Amplitude of the data's bumps in `[0, 1]` units: 1 for a full-contrast bump, which is what
    /// the renderer draws when the scorer's `range` and `polarity` are the render's. Default 1.0.
    #[serde(default = "default_expected_amplitude")]
    pub expected_amplitude: f64,
    /// A single bump whose amplitude is below `min_amplitude_ratio · expected_amplitude` is
    /// malformed. Default 0.5.
    #[serde(default = "default_min_amplitude_ratio")]
    pub min_amplitude_ratio: f64,
}

fn default_extra_bump_min_amplitude() -> f64 {
    0.25
}

fn default_sigma_ratio_range() -> (f64, f64) {
    (0.5, 2.0)
}

fn default_expected_amplitude() -> f64 {
    1.0
}

fn default_min_amplitude_ratio() -> f64 {
    0.5
}

fn default_true() -> bool {
    true
}

impl Default for ScoreConfig {
    /// Every constant of the rule at the value the [module docs](self) give (all ours): dark on
    /// bright in `[−1, 1]`, τ = 1 px and 0.5 px, amplitude 0.25, threshold fraction 0.5, NMS 2 px,
    /// Gaussian fit on 9 × 9, no expected width (use [`ScoreConfig::for_render`] to check
    /// widths against the data's σ).
    fn default() -> Self {
        Self {
            polarity: Polarity::DarkOnBright,
            range: (-1.0, 1.0),
            tolerance: 1.0,
            tight_tolerance: 0.5,
            min_amplitude: 0.25,
            threshold_fraction: 0.5,
            min_area: 1,
            nms_radius: 2.0,
            split_merged_peaks: true,
            refine: true,
            fit_half_window: 4,
            fit_max_iterations: 50,
            fit_max_shift: 1.5,
            periodic: false,
            extra_bump_min_amplitude: default_extra_bump_min_amplitude(),
            expected_sigma: None,
            sigma_ratio_range: default_sigma_ratio_range(),
            expected_amplitude: default_expected_amplitude(),
            min_amplitude_ratio: default_min_amplitude_ratio(),
        }
    }
}

impl ScoreConfig {
    /// Default config for bumps of width σ (`exp(−r²/(2σ²))`): NMS radius 2σ and expected
    /// σ (σ, σ).
    pub fn for_sigma(sigma: f64) -> Self {
        Self::default()
            .with_nms_radius(2.0 * sigma)
            .with_expected_sigma(Some((sigma, sigma)))
    }
    /// Default config matched to how images were rendered: same polarity, range and periodic
    /// boundary, NMS radius 2·max(σx, σy), and the expected shape of a rendered bump: widths
    /// σ·√(k/2) per axis (the render's `exp(−d²/(kσ²))` written as `exp(−d²/(2σ'²))`, so σ' = σ
    /// for the default k = 2) and amplitude 1 (the renderer spans the full `range`, which is
    /// copied).
    pub fn for_render(render: &RenderConfig) -> Self {
        let (sx, sy) = render.sigma.xy();
        let scale = (render.exponent_denominator_factor / 2.0).sqrt();
        Self {
            polarity: render.polarity,
            range: render.range,
            periodic: render.periodic,
            nms_radius: 2.0 * sx.max(sy),
            expected_sigma: Some((sx * scale, sy * scale)),
            expected_amplitude: 1.0,
            ..Self::default()
        }
    }
    /// Sets the polarity.
    pub fn with_polarity(mut self, p: Polarity) -> Self {
        self.polarity = p;
        self
    }
    /// Sets the value range.
    pub fn with_range(mut self, lo: f32, hi: f32) -> Self {
        self.range = (lo, hi);
        self
    }
    /// Sets τ.
    pub fn with_tolerance(mut self, t: f64) -> Self {
        self.tolerance = t;
        self
    }
    /// Sets the tight tolerance.
    pub fn with_tight_tolerance(mut self, t: f64) -> Self {
        self.tight_tolerance = t;
        self
    }
    /// Sets the minimum amplitude.
    pub fn with_min_amplitude(mut self, a: f64) -> Self {
        self.min_amplitude = a;
        self
    }
    /// Sets the threshold fraction.
    pub fn with_threshold_fraction(mut self, f: f64) -> Self {
        self.threshold_fraction = f;
        self
    }
    /// Sets the minimum component area.
    pub fn with_min_area(mut self, a: usize) -> Self {
        self.min_area = a;
        self
    }
    /// Sets the NMS radius.
    pub fn with_nms_radius(mut self, r: f64) -> Self {
        self.nms_radius = r;
        self
    }
    /// Sets [`ScoreConfig::split_merged_peaks`].
    pub fn with_split_merged_peaks(mut self, split: bool) -> Self {
        self.split_merged_peaks = split;
        self
    }
    /// Turns the Gaussian refinement on or off.
    pub fn with_refine(mut self, refine: bool) -> Self {
        self.refine = refine;
        self
    }
    /// Turns periodic (torus) scoring on or off.
    pub fn with_periodic(mut self, periodic: bool) -> Self {
        self.periodic = periodic;
        self
    }
    /// Sets the fit window half-width.
    pub fn with_fit_half_window(mut self, r: usize) -> Self {
        self.fit_half_window = r;
        self
    }
    /// Sets [`ScoreConfig::extra_bump_min_amplitude`].
    pub fn with_extra_bump_min_amplitude(mut self, a: f64) -> Self {
        self.extra_bump_min_amplitude = a;
        self
    }
    /// Sets (or clears) the expected widths (σx, σy).
    pub fn with_expected_sigma(mut self, sigma: Option<(f64, f64)>) -> Self {
        self.expected_sigma = sigma;
        self
    }
    /// Sets the accepted range `(lo, hi)` of fitted over expected width.
    pub fn with_sigma_ratio_range(mut self, lo: f64, hi: f64) -> Self {
        self.sigma_ratio_range = (lo, hi);
        self
    }
    /// Sets the expected amplitude of a bump (`[0, 1]` units).
    pub fn with_expected_amplitude(mut self, a: f64) -> Self {
        self.expected_amplitude = a;
        self
    }
    /// Sets the minimum amplitude of a well-formed bump as a fraction of the expected amplitude.
    pub fn with_min_amplitude_ratio(mut self, r: f64) -> Self {
        self.min_amplitude_ratio = r;
        self
    }

    /// Checks every constant.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        check_range("score range", self.range)?;
        check_non_negative(&[
            ("tolerance", self.tolerance),
            ("tight_tolerance", self.tight_tolerance),
            ("nms_radius", self.nms_radius),
            ("fit_max_shift", self.fit_max_shift),
        ])?;
        if !(self.min_amplitude.is_finite() && self.min_amplitude >= 0.0) {
            return bad(format!(
                "min_amplitude must be finite and >= 0, got {}",
                self.min_amplitude
            ));
        }
        if !(self.threshold_fraction > 0.0 && self.threshold_fraction <= 1.0) {
            return bad(format!(
                "threshold_fraction must lie in (0, 1], got {}",
                self.threshold_fraction
            ));
        }
        if self.min_area == 0 {
            return bad("min_area must be >= 1".into());
        }
        if self.refine && self.fit_half_window == 0 {
            return bad("fit_half_window must be >= 1".into());
        }
        let e = self.extra_bump_min_amplitude;
        if !(e.is_finite() && e > 0.0) {
            return bad(format!(
                "extra_bump_min_amplitude must be finite and > 0, got {e}"
            ));
        }
        if let Some((sx, sy)) = self.expected_sigma {
            if !(sx.is_finite() && sx > 0.0 && sy.is_finite() && sy > 0.0) {
                return bad(format!(
                    "expected_sigma must be finite and > 0 on both axes, got ({sx}, {sy})"
                ));
            }
        }
        check_sigma_ratio_range(self.sigma_ratio_range)?;
        let a = self.expected_amplitude;
        if !(a.is_finite() && a > 0.0) {
            return bad(format!(
                "expected_amplitude must be finite and > 0, got {a}"
            ));
        }
        check_min_amplitude_ratio(self.min_amplitude_ratio)?;
        Ok(())
    }
}

/// Outcome class of one image. The classes partition the images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailureClass {
    /// No bump (count 0).
    Empty,
    /// More than one bump (count ≥ 2).
    MultiBump,
    /// One bump that does not look like the data's bumps (too faint, width outside
    /// `sigma_ratio_range` of the expected σ, or spanning every row or column of the canvas,
    /// i.e. a stripe), wherever it is.
    Malformed,
    /// One well-formed bump, outside the tolerance on at least one axis.
    SingleWrong,
    /// One well-formed bump within the tolerance on both axes.
    Correct,
}

/// Score of one image.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ImageScore {
    /// Canonical count: connected components (rule 3a).
    pub count: usize,
    /// Peak count after non-maximum suppression (rule 3b).
    pub count_peaks: usize,
    /// Amplitude A above the median background, in `[0, 1]` units.
    pub amplitude: f64,
    /// Estimated centre `[x̂, ŷ]` (pixels) when `count == 1`.
    pub centre: Option<[f64; 2]>,
    /// Whether the centre and shape come from an accepted Gaussian fit (else the centroid and
    /// the component's truncation-corrected moments).
    pub refined: bool,
    /// Marginal widths `[σ̂x, σ̂y]` (pixels) of the single bump when `count == 1` and they could
    /// be estimated.
    #[serde(default)]
    pub sigma: Option<[f64; 2]>,
    /// Principal widths `[smaller, larger]` (pixels) of the single bump, as `sigma`.
    #[serde(default)]
    pub sigma_principal: Option<[f64; 2]>,
    /// Peak height of the single bump (`[0, 1]` units) when `count == 1`: the fitted amplitude,
    /// or `amplitude` when the fit was not used.
    #[serde(default)]
    pub bump_amplitude: Option<f64>,
    /// Signed errors `[x̂ − μx, ŷ − μy]` when `count == 1` (malformed bumps included).
    pub error: Option<[f64; 2]>,
    /// Correct at τ.
    pub correct: bool,
    /// Correct at the tight tolerance.
    pub correct_tight: bool,
    /// One well-formed bump and `|x̂ − μx| ≤ τ`.
    pub x_ok: bool,
    /// One well-formed bump and `|ŷ − μy| ≤ τ`.
    pub y_ok: bool,
    /// One well-formed bump and `|x̂ − μx| ≤` the tight tolerance.
    #[serde(default)]
    pub x_ok_tight: bool,
    /// One well-formed bump and `|ŷ − μy| ≤` the tight tolerance.
    #[serde(default)]
    pub y_ok_tight: bool,
    /// Outcome class.
    pub failure: FailureClass,
}

/// Aggregate over a batch. Rates are fractions in `[0, 1]`; `*_single` fields are over single-bump
/// images (count = 1, malformed ones included) and `None` when there are none; mean errors are
/// over single-bump images. `accuracy + single_wrong_rate + malformed_rate + multi_bump_rate +
/// empty_rate = 1` (up to float rounding) for a non-empty batch: every image is in exactly one
/// class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreReport {
    /// Images scored.
    pub count: usize,
    /// Images with exactly one bump.
    pub single_count: usize,
    /// Correct / all.
    pub accuracy: f64,
    /// x_ok / all.
    pub acc_x: f64,
    /// y_ok / all.
    pub acc_y: f64,
    /// Correct / single-bump.
    pub accuracy_single: Option<f64>,
    /// x_ok / single-bump.
    pub acc_x_single: Option<f64>,
    /// y_ok / single-bump.
    pub acc_y_single: Option<f64>,
    /// Correct at the tight tolerance / all. The tight tolerance (0.5 px by default) is half the
    /// spacing of the default 1-px training lattice, so a bump at the neighbouring training
    /// condition is rejected (τ = 1 accepts it).
    pub accuracy_tight: f64,
    /// x_ok_tight / all.
    #[serde(default)]
    pub acc_x_tight: f64,
    /// y_ok_tight / all.
    #[serde(default)]
    pub acc_y_tight: f64,
    /// Multi-bump / all.
    pub multi_bump_rate: f64,
    /// Empty / all.
    pub empty_rate: f64,
    /// Single, well-formed but wrong / all.
    pub single_wrong_rate: f64,
    /// Single but malformed (too faint or the wrong width) / all.
    #[serde(default)]
    pub malformed_rate: f64,
    /// Mean |x̂ − μx| over single-bump images.
    pub mean_abs_dx: Option<f64>,
    /// Mean |ŷ − μy| over single-bump images.
    pub mean_abs_dy: Option<f64>,
    /// Per-image scores, in input order.
    pub per_image: Vec<ImageScore>,
}

impl ScoreReport {
    /// Aggregates per-image scores.
    pub fn from_scores(per_image: Vec<ImageScore>) -> Self {
        let count = per_image.len();
        let frac = |k: usize, d: usize| if d == 0 { 0.0 } else { k as f64 / d as f64 };
        let opt = |k: usize, d: usize| (d > 0).then(|| k as f64 / d as f64);
        let n_if = |f: &dyn Fn(&ImageScore) -> bool| per_image.iter().filter(|s| f(s)).count();
        let single = n_if(&|s| s.count == 1);
        let correct = n_if(&|s| s.correct);
        let xo = n_if(&|s| s.x_ok);
        let yo = n_if(&|s| s.y_ok);
        let errs: Vec<[f64; 2]> = per_image.iter().filter_map(|s| s.error).collect();
        let mean = |a: usize| {
            (!errs.is_empty())
                .then(|| errs.iter().map(|e| e[a].abs()).sum::<f64>() / errs.len() as f64)
        };
        Self {
            count,
            single_count: single,
            accuracy: frac(correct, count),
            acc_x: frac(xo, count),
            acc_y: frac(yo, count),
            accuracy_single: opt(correct, single),
            acc_x_single: opt(xo, single),
            acc_y_single: opt(yo, single),
            accuracy_tight: frac(n_if(&|s| s.correct_tight), count),
            acc_x_tight: frac(n_if(&|s| s.x_ok_tight), count),
            acc_y_tight: frac(n_if(&|s| s.y_ok_tight), count),
            multi_bump_rate: frac(n_if(&|s| s.failure == FailureClass::MultiBump), count),
            empty_rate: frac(n_if(&|s| s.failure == FailureClass::Empty), count),
            single_wrong_rate: frac(n_if(&|s| s.failure == FailureClass::SingleWrong), count),
            malformed_rate: frac(n_if(&|s| s.failure == FailureClass::Malformed), count),
            mean_abs_dx: mean(0),
            mean_abs_dy: mean(1),
            per_image,
        }
    }
}

impl ScoreReport {
    /// Per-axis accuracy at per-axis tolerances `[τx, τy]` (pixels): the fraction of all images
    /// with one well-formed bump (correct or single-wrong) whose error along that axis is at
    /// most τ (up to [`TOLERANCE_SLACK`]). With `τx = τy = tolerance` this is `[acc_x, acc_y]`;
    /// the imbalance experiment uses half of each axis's training spacing.
    ///
    /// # Errors
    /// A tolerance that is not finite and ≥ 0.
    pub fn axis_accuracy(&self, tau: [f64; 2]) -> Result<[f64; 2]> {
        for (axis, t) in ["x", "y"].iter().zip(tau) {
            if !(t.is_finite() && t >= 0.0) {
                return Err(Error::InvalidArgument(format!(
                    "tolerance along {axis} must be finite and >= 0, got {t}"
                )));
            }
        }
        if self.count == 0 {
            return Ok([0.0, 0.0]);
        }
        let mut hits = [0usize; 2];
        for s in &self.per_image {
            let well_formed =
                matches!(s.failure, FailureClass::Correct | FailureClass::SingleWrong);
            if let (true, Some(err)) = (well_formed, s.error) {
                for a in 0..2 {
                    if err[a].abs() <= tau[a] + TOLERANCE_SLACK {
                        hits[a] += 1;
                    }
                }
            }
        }
        Ok(hits.map(|h| h as f64 / self.count as f64))
    }
}

/// `what` (a value range) must be finite with `lo != hi` (shared by the scorers' checks).
fn check_range(what: &str, (lo, hi): (f32, f32)) -> Result<()> {
    if !(lo.is_finite() && hi.is_finite()) || lo == hi {
        return Err(Error::InvalidArgument(format!(
            "{what} must be finite with lo != hi, got ({lo}, {hi})"
        )));
    }
    Ok(())
}

/// Every named value must be finite and ≥ 0.
fn check_non_negative(values: &[(&str, f64)]) -> Result<()> {
    for &(name, v) in values {
        if !(v.is_finite() && v >= 0.0) {
            return Err(Error::InvalidArgument(format!(
                "{name} must be finite and >= 0, got {v}"
            )));
        }
    }
    Ok(())
}

/// The width ratio range of a well-formed bump or stripe: `0 < lo <= 1 <= hi < inf`.
fn check_sigma_ratio_range((lo, hi): (f64, f64)) -> Result<()> {
    if !(lo > 0.0 && lo <= 1.0 && hi >= 1.0 && hi.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "sigma_ratio_range must satisfy 0 < lo <= 1 <= hi < inf, got ({lo}, {hi})"
        )));
    }
    Ok(())
}

/// The minimum amplitude of a well-formed bump or stripe, as a fraction: `[0, 1]`.
fn check_min_amplitude_ratio(r: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&r) {
        return Err(Error::InvalidArgument(format!(
            "min_amplitude_ratio must lie in [0, 1], got {r}"
        )));
    }
    Ok(())
}

/// Scores one image against its target centre `[μx, μy]` (image pixel coordinates).
///
/// # Shapes
/// `img`: `[N, N]` row-major.
pub fn score_image(
    img: &[f32],
    n: usize,
    target: [f32; 2],
    cfg: &ScoreConfig,
) -> Result<ImageScore> {
    cfg.validate()?;
    check_image_args(img.len(), n, 1)?;
    check_targets(&[target])?;
    Ok(score_one(img, n, target, cfg, &mut Scratch::default()))
}

/// Scores a batch of images against their targets and aggregates.
///
/// # Shapes
/// `images`: `[B, N, N]` row-major; `targets`: `[B]` of `[μx, μy]`.
pub fn score_batch(
    images: &[f32],
    n: usize,
    targets: &[[f32; 2]],
    cfg: &ScoreConfig,
) -> Result<ScoreReport> {
    cfg.validate()?;
    check_image_args(images.len(), n, targets.len())?;
    check_targets(targets)?;
    let mut scratch = Scratch::default();
    let per_image = images
        .chunks_exact(n * n)
        .zip(targets)
        .map(|(img, &t)| score_one(img, n, t, cfg, &mut scratch))
        .collect();
    Ok(ScoreReport::from_scores(per_image))
}

fn check_image_args(values: usize, n: usize, count: usize) -> Result<()> {
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

fn check_targets(targets: &[[f32; 2]]) -> Result<()> {
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

fn score_one(
    img: &[f32],
    n: usize,
    target: [f32; 2],
    cfg: &ScoreConfig,
    s: &mut Scratch,
) -> ImageScore {
    // Step 1: [0, 1], polarity, background, amplitude.
    let (lo, hi) = (cfg.range.0 as f64, cfg.range.1 as f64);
    s.w.clear();
    s.w.extend(img.iter().map(|&u| {
        if !u.is_finite() {
            // Non-finite pixels carry no bump intensity.
            return 0.0;
        }
        let v = ((u as f64 - lo) / (hi - lo)).clamp(0.0, 1.0);
        match cfg.polarity {
            Polarity::DarkOnBright => 1.0 - v,
            Polarity::BrightOnDark => v,
        }
    }));
    let background = median(&s.w, &mut s.sorted);
    s.w.iter_mut().for_each(|v| *v -= background);
    let amplitude = s.w.iter().copied().fold(f64::NEG_INFINITY, f64::max);

    let mut score = ImageScore {
        count: 0,
        count_peaks: 0,
        amplitude,
        centre: None,
        refined: false,
        sigma: None,
        sigma_principal: None,
        bump_amplitude: None,
        error: None,
        correct: false,
        correct_tight: false,
        x_ok: false,
        y_ok: false,
        x_ok_tight: false,
        y_ok_tight: false,
        failure: FailureClass::Empty,
    };
    // Step 2.
    if amplitude.is_nan() || amplitude < cfg.min_amplitude || amplitude <= 0.0 {
        return score;
    }
    let thr = cfg.threshold_fraction * amplitude;

    // Step 3a: components; 3b: peaks, counted from the lower of the relative and absolute levels.
    let comps = components(&s.w, n, thr, cfg, &mut s.label, &mut s.stack);
    let peaks = kept_peaks(
        &s.w,
        n,
        thr.min(cfg.extra_bump_min_amplitude),
        cfg.nms_radius,
        cfg.periodic,
    );
    score.count_peaks = peaks.len();
    // Peaks below f·A lie in no component; each is one more bump.
    let faint = peaks.iter().filter(|&&p| s.w[p] < thr).count();
    score.count = faint
        + if cfg.split_merged_peaks {
            // Each component counts max(1, number of kept peaks inside it).
            comps
                .iter()
                .map(|c| {
                    let inside = peaks.iter().filter(|&&p| s.label[p] == c.label).count();
                    inside.max(1)
                })
                .sum()
        } else {
            comps.len()
        };

    score.failure = match score.count {
        0 => FailureClass::Empty,
        1 => FailureClass::SingleWrong,
        _ => FailureClass::MultiBump,
    };
    if score.count != 1 {
        return score;
    }
    let Some(&c) = comps.first() else {
        // The one counted bump is a faint peak whose brighter component was dropped by
        // `min_area`: nothing to measure, so it cannot pass as a bump.
        score.failure = FailureClass::Malformed;
        return score;
    };
    // Step 4: centre and shape from the fit, else centroid and moments.
    let centroid = [c.sum_wx / c.sum_w, c.sum_wy / c.sum_w];
    let mut centre = centroid;
    let mut shape = moment_shape(&c, cfg.threshold_fraction).map(|(m, p)| (m, p, amplitude));
    if cfg.refine {
        let sigma0 = (c.area as f64 / (2.0 * std::f64::consts::PI * std::f64::consts::LN_2))
            .sqrt()
            .max(0.3);
        if let Some(fit) = fit_gaussian(&s.w, n, c.peak, centroid, sigma0, amplitude, cfg) {
            let d = [
                axis_diff(fit.centre[0], centroid[0], n, cfg.periodic),
                axis_diff(fit.centre[1], centroid[1], n, cfg.periodic),
            ];
            let shift = (d[0] * d[0] + d[1] * d[1]).sqrt();
            if shift <= cfg.fit_max_shift {
                centre = fit.centre;
                shape = Some((fit.sigma, fit.principal, fit.amplitude));
                score.refined = true;
            }
        }
    }
    score.sigma = shape.map(|t| t.0);
    score.sigma_principal = shape.map(|t| t.1);
    // Without any width estimate the amplitude is still the component's peak.
    let bump_amplitude = shape.map_or(amplitude, |t| t.2);
    score.bump_amplitude = Some(bump_amplitude);
    // Step 5: does it look like the data's bumps?
    let amplitude_ok = bump_amplitude >= cfg.min_amplitude_ratio * cfg.expected_amplitude;
    let width_ok = match cfg.expected_sigma {
        None => true,
        Some(expected) => shape.is_some_and(|(m, p, _)| widths_ok(m, p, expected, cfg)),
    };
    // A stripe (or canvas-wide blob) is never a bump, whatever widths were configured.
    let stripe = spans_an_axis(&s.label, n, c.label);
    let well_formed = amplitude_ok && width_ok && !stripe;
    // Step 6.
    if cfg.periodic {
        // Report the centre inside [0, N).
        let p = n as f64;
        // rem_euclid of a tiny negative value rounds to p itself; fold that back to 0.
        centre = centre.map(|v| {
            let r = v.rem_euclid(p);
            if r >= p {
                0.0
            } else {
                r
            }
        });
    }
    let err = [
        axis_diff(centre[0], target[0] as f64, n, cfg.periodic),
        axis_diff(centre[1], target[1] as f64, n, cfg.periodic),
    ];
    let within = |e: f64, tol: f64| well_formed && e.abs() <= tol + TOLERANCE_SLACK;
    score.centre = Some(centre);
    score.error = Some(err);
    score.x_ok = within(err[0], cfg.tolerance);
    score.y_ok = within(err[1], cfg.tolerance);
    score.x_ok_tight = within(err[0], cfg.tight_tolerance);
    score.y_ok_tight = within(err[1], cfg.tight_tolerance);
    score.correct = score.x_ok && score.y_ok;
    score.correct_tight = score.x_ok_tight && score.y_ok_tight;
    score.failure = if !well_formed {
        FailureClass::Malformed
    } else if score.correct {
        FailureClass::Correct
    } else {
        FailureClass::SingleWrong
    };
    score
}

/// Fallback shape of a single component: marginal and principal widths from its w-weighted
/// covariance divided by the truncation factor `1 − f·ln(1/f)/(1 − f)` (the w-weighted
/// covariance of a Gaussian cut at the fraction f of its peak is that factor times its own).
/// `None` when the covariance is degenerate (e.g. a one-pixel-wide component) or f ≥ 1.
fn moment_shape(c: &Component, f: f64) -> Option<([f64; 2], [f64; 2])> {
    let factor = 1.0 - f * (1.0 / f).ln() / (1.0 - f);
    if !(factor.is_finite() && factor > 1e-9) {
        return None;
    }
    let (mx, my) = (c.sum_wx / c.sum_w, c.sum_wy / c.sum_w);
    let cxx = c.sum_wxx / c.sum_w - mx * mx;
    let cxy = c.sum_wxy / c.sum_w - mx * my;
    let cyy = c.sum_wyy / c.sum_w - my * my;
    widths(cxx / factor, cxy / factor, cyy / factor)
}

/// Whether marginal widths `m` and principal widths `p` (smaller, larger) lie within
/// `sigma_ratio_range` of the expected (σx, σy).
fn widths_ok(m: [f64; 2], p: [f64; 2], expected: (f64, f64), cfg: &ScoreConfig) -> bool {
    let (lo, hi) = cfg.sigma_ratio_range;
    let (sx, sy) = expected;
    let inside = |v: f64, s_lo: f64, s_hi: f64| v >= lo * s_lo && v <= hi * s_hi;
    inside(m[0], sx, sx)
        && inside(m[1], sy, sy)
        && inside(p[0], sx.min(sy), sx.max(sy))
        && inside(p[1], sx.min(sy), sx.max(sy))
}

/// `a − b`, as the minimum-image difference on a torus of period `n` when `periodic`.
fn axis_diff(a: f64, b: f64, n: usize, periodic: bool) -> f64 {
    let d = a - b;
    if periodic {
        let p = n as f64;
        d - p * (d / p).round()
    } else {
        d
    }
}
