//! Scoring generated bump images (our rule; the papers never publish theirs).
//!
//! Steps, each constant in [`ScoreConfig`]:
//! 1. Map pixels to `[0, 1]` (clamped) and apply the polarity so the bump is bright: `w`
//!    (non-finite pixels get `w = 0`, no bump intensity). Subtract the median (background) and take the amplitude `A = max w`.
//! 2. If `A < min_amplitude` the count is 0.
//! 3. Count bumps two ways: (a, canonical) 8-connected components of `{w ≥ f·A}` with at least
//!    `min_area` pixels, where a component holding k ≥ 2 of the peaks of (b) counts k
//!    (`split_merged_peaks`, default on); (b) local maxima `≥ f·A` after non-maximum suppression
//!    at `nms_radius`.
//! 4. Centre: intensity-weighted centroid of `w` over the single component, optionally refined by a
//!    5-parameter Gaussian least-squares fit (μx, μy, σ, amplitude, offset) on a small window.
//! 5. Correct iff count = 1 and `|x̂ − μx| ≤ τ` and `|ŷ − μy| ≤ τ` (also reported at `tight_tolerance`).
//! 6. [`ScoreReport`] aggregates a batch.
//!
//! Layout: this module holds the configuration, the per-image and batch reports and the public
//! entry points (the rule's steps in order); `detect` counts bumps (background, components,
//! peaks) and `fit` refines a single bump's centre by a Gaussian least-squares fit.

mod detect;
mod fit;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::render::{Polarity, RenderConfig};

use detect::{components, kept_peaks, median, Scratch};
use fit::fit_gaussian;

/// Every constant of the scoring rule.
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
    /// Minimum amplitude A (in `[0, 1]` units above the median) for any bump. Default 0.3.
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
}

fn default_true() -> bool {
    true
}

impl Default for ScoreConfig {
    fn default() -> Self {
        Self {
            polarity: Polarity::DarkOnBright,
            range: (-1.0, 1.0),
            tolerance: 1.0,
            tight_tolerance: 0.5,
            min_amplitude: 0.3,
            threshold_fraction: 0.5,
            min_area: 1,
            nms_radius: 2.0,
            split_merged_peaks: true,
            refine: true,
            fit_half_window: 4,
            fit_max_iterations: 50,
            fit_max_shift: 1.5,
            periodic: false,
        }
    }
}

impl ScoreConfig {
    /// Default config with the NMS radius set to 2σ for bumps of width σ.
    pub fn for_sigma(sigma: f64) -> Self {
        Self::default().with_nms_radius(2.0 * sigma)
    }
    /// Default config matched to how images were rendered: same polarity, range and periodic
    /// boundary, NMS radius 2·max(σx, σy).
    pub fn for_render(render: &RenderConfig) -> Self {
        let (sx, sy) = render.sigma.xy();
        Self {
            polarity: render.polarity,
            range: render.range,
            periodic: render.periodic,
            nms_radius: 2.0 * sx.max(sy),
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

    /// Checks every constant.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        let (lo, hi) = self.range;
        if !(lo.is_finite() && hi.is_finite()) || lo == hi {
            return bad(format!(
                "score range must be finite with lo != hi, got ({lo}, {hi})"
            ));
        }
        for (name, v) in [
            ("tolerance", self.tolerance),
            ("tight_tolerance", self.tight_tolerance),
            ("nms_radius", self.nms_radius),
            ("fit_max_shift", self.fit_max_shift),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(format!("{name} must be finite and >= 0, got {v}"));
            }
        }
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
        Ok(())
    }
}

/// Outcome class of one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailureClass {
    /// No bump (count 0).
    Empty,
    /// More than one bump (count ≥ 2).
    MultiBump,
    /// One bump, outside the tolerance on at least one axis.
    SingleWrong,
    /// One bump within the tolerance on both axes.
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
    /// Whether the centre comes from an accepted Gaussian fit (else the centroid).
    pub refined: bool,
    /// Signed errors `[x̂ − μx, ŷ − μy]` when `count == 1`.
    pub error: Option<[f64; 2]>,
    /// Correct at τ.
    pub correct: bool,
    /// Correct at the tight tolerance.
    pub correct_tight: bool,
    /// `count == 1` and `|x̂ − μx| ≤ τ`.
    pub x_ok: bool,
    /// `count == 1` and `|ŷ − μy| ≤ τ`.
    pub y_ok: bool,
    /// Outcome class.
    pub failure: FailureClass,
}

/// Aggregate over a batch. Rates are fractions in `[0, 1]`; `*_single` fields are over single-bump
/// images and `None` when there are none; mean errors are over single-bump images.
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
    /// Correct at the tight tolerance / all.
    pub accuracy_tight: f64,
    /// Multi-bump / all.
    pub multi_bump_rate: f64,
    /// Empty / all.
    pub empty_rate: f64,
    /// Single-but-wrong / all.
    pub single_wrong_rate: f64,
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
            multi_bump_rate: frac(n_if(&|s| s.failure == FailureClass::MultiBump), count),
            empty_rate: frac(n_if(&|s| s.failure == FailureClass::Empty), count),
            single_wrong_rate: frac(n_if(&|s| s.failure == FailureClass::SingleWrong), count),
            mean_abs_dx: mean(0),
            mean_abs_dy: mean(1),
            per_image,
        }
    }
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
        error: None,
        correct: false,
        correct_tight: false,
        x_ok: false,
        y_ok: false,
        failure: FailureClass::Empty,
    };
    // Step 2.
    if amplitude.is_nan() || amplitude < cfg.min_amplitude || amplitude <= 0.0 {
        return score;
    }
    let thr = cfg.threshold_fraction * amplitude;

    // Step 3a: components; 3b: peaks.
    let comps = components(&s.w, n, thr, cfg, &mut s.label, &mut s.stack);
    let peaks = kept_peaks(&s.w, n, thr, cfg.nms_radius, cfg.periodic);
    score.count_peaks = peaks.len();
    score.count = if cfg.split_merged_peaks {
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
    // Step 4: centroid, optional refinement.
    let c = comps[0];
    let centroid = [c.sum_wx / c.sum_w, c.sum_wy / c.sum_w];
    let mut centre = centroid;
    if cfg.refine {
        let sigma0 = (c.area as f64 / (2.0 * std::f64::consts::PI * std::f64::consts::LN_2))
            .sqrt()
            .max(0.3);
        if let Some(fit) = fit_gaussian(&s.w, n, c.peak, centroid, sigma0, amplitude, cfg) {
            let d = [
                axis_diff(fit[0], centroid[0], n, cfg.periodic),
                axis_diff(fit[1], centroid[1], n, cfg.periodic),
            ];
            let shift = (d[0] * d[0] + d[1] * d[1]).sqrt();
            if shift <= cfg.fit_max_shift {
                centre = fit;
                score.refined = true;
            }
        }
    }
    // Step 5.
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
    score.centre = Some(centre);
    score.error = Some(err);
    score.x_ok = err[0].abs() <= cfg.tolerance;
    score.y_ok = err[1].abs() <= cfg.tolerance;
    score.correct = score.x_ok && score.y_ok;
    score.correct_tight =
        err[0].abs() <= cfg.tight_tolerance && err[1].abs() <= cfg.tight_tolerance;
    score.failure = if score.correct {
        FailureClass::Correct
    } else {
        FailureClass::SingleWrong
    };
    score
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
