//! Serializable descriptions, in this crate's vocabulary, of a whole training set
//! ([`DatasetConfig`]) and of an evaluation centre set ([`CentreSet`]).
//!
//! Both read and write pleasantly as TOML or JSON, reject unknown keys, and check every value in
//! `validate`, naming the key as the user writes it (`data.lambda`, `data.mix[1].dx`, …) with the
//! allowed range and the value given.
//!
//! # Grids per pattern
//! A part's centres tile the label square `[0, E)²`, with `E` = [`DatasetConfig::extent`] (the
//! latent side M with an extended canvas, else N):
//! - `bump`, `sum_of_stripes`: the full grid `{i·dx} × {j·dy}` ([`GridSpec`]), y-major.
//! - `vertical_stripe` (ignores μy): `μx = i·dx`, `μy = E/2` fixed, one centre per column value;
//!   `dy` is not used (it is still validated).
//! - `horizontal_stripe` (ignores μx): `μx = E/2` fixed, `μy = j·dy`; `dx` is not used.
//! - `stripe_at` moves a stripe part's fixed coordinate from `E/2` (e.g. out of the visible
//!   frame of an extended canvas, so that stripe labels never coincide with in-frame bumps).
//! - `within` keeps only the grid centres inside a region; then `held_out` removes a region.
//!
//! # Seeds
//! Part `i` (0 = the main part, `i ≥ 1` = `mix[i − 1]`) is λ-subsampled with
//! [`part_seed`]`(seed, i)` = `seed + i·0x9E37_79B9_7F4A_7C15` (wrapping), so the main part uses
//! `seed` itself and parts never share a subsample stream.

use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::{config_error, Error, Result};
use crate::grid::{
    axis_count_from, axis_values, axis_values_from, product, subsample, subsample_size, GridSpec,
    MAX_AXIS_COUNT,
};
use crate::render::{ExtendedCanvas, Pattern, Polarity, RenderConfig, Sigma};
use crate::score::ScoreConfig;
use crate::split::{split, HeldOut};

/// Key prefix of [`DatasetConfig`] in messages (the facade's `data` config section).
pub const DATA_KEY: &str = "data";

/// Key prefix of [`CentreSet`] in messages from [`CentreSet::validate`].
pub const CENTRES_KEY: &str = "centres";

/// Seed of part `index`'s λ-subsample: `seed + index·0x9E37_79B9_7F4A_7C15` (wrapping; the 64-bit
/// golden-ratio increment of SplitMix64). Part 0 (the main part) gets `seed` unchanged.
pub fn part_seed(seed: u64, index: usize) -> u64 {
    seed.wrapping_add((index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn one() -> f64 {
    1.0
}

/// A whole training set, described in the data crate's own vocabulary.
///
/// The main part (`pattern`, `dx`, `dy`, `lambda`, `held_out`) and every further part of `mix`
/// are rendered with the same settings (`n`, `sigma`, `periodic`, `canvas`, `polarity`,
/// `exponent_denominator_factor`, `range`) and concatenated in that order. Each part: grid (see
/// the [module docs](self) for stripes) → `within` (only centres inside kept) → held-out split
/// (the train side is kept) →
/// λ-subsample ([`part_seed`]) → render.
///
/// Every key may be omitted and then takes its [`Default`] value; unknown keys are rejected.
///
/// ```toml
/// n = 32
/// sigma = 1.0            # or { x = 1.0, y = 2.0 }
/// pattern = "bump"
/// dx = 1.0
/// dy = 1.0
/// lambda = 1.0
/// periodic = false
/// polarity = "dark_on_bright"
/// exponent_denominator_factor = 2.0
/// range = [-1.0, 1.0]
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatasetConfig {
    /// Canvas side N (images are N×N). Default 32.
    pub n: usize,
    /// Width σ: a number, or `{ x, y }` for separate widths along columns and rows. Default 1.
    pub sigma: Sigma,
    /// The main part's pattern. Default `bump`.
    pub pattern: Pattern,
    /// The main part's centre spacing along x (columns). Default 1.
    pub dx: f64,
    /// The main part's centre spacing along y (rows). Default 1.
    pub dy: f64,
    /// Fraction λ ∈ (0, 1] of the main part's (train-side) centres kept. Default 1.
    pub lambda: f64,
    /// Region removed from the main part's centres (label units). Default none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_out: Option<HeldOut>,
    /// Region the main part is restricted to: only its grid centres inside it are kept, before
    /// the held-out split (label units). Default none (the whole grid).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub within: Option<HeldOut>,
    /// Label of a stripe part's ignored axis (μy of vertical, μx of horizontal stripes), in
    /// `[0, E)`. Default none: `E/2`. Only stripe patterns accept it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stripe_at: Option<f64>,
    /// Periodic (torus) boundary of period N. Default false; excludes `canvas`.
    pub periodic: bool,
    /// Extended latent canvas side M > N (M − N even): labels range over `[0, M)²` and images are
    /// the central N×N crop. Default none (labels are image pixels).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canvas: Option<usize>,
    /// Polarity. Default `dark_on_bright`.
    pub polarity: Polarity,
    /// k in the exponent denominator `k·σ²`. Default 2.
    pub exponent_denominator_factor: f64,
    /// Output range of the pixel values. Default `[-1, 1]`.
    pub range: (f32, f32),
    /// Further parts, rendered with the same settings and appended in order. Default none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mix: Vec<DataPart>,
}

/// One further part of a [`DatasetConfig`]'s `mix`. `pattern` is required; the other keys
/// default as in the main part (`dx = dy = 1`, `lambda = 1`, no held-out region).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataPart {
    /// What is drawn at each centre.
    pub pattern: Pattern,
    /// Centre spacing along x (columns). Default 1.
    #[serde(default = "one")]
    pub dx: f64,
    /// Centre spacing along y (rows). Default 1.
    #[serde(default = "one")]
    pub dy: f64,
    /// Fraction λ ∈ (0, 1] of the (train-side) centres kept. Default 1.
    #[serde(default = "one")]
    pub lambda: f64,
    /// Region removed from this part's centres. Default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_out: Option<HeldOut>,
    /// Region this part is restricted to (only grid centres inside it are kept, before the
    /// held-out split). Default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<HeldOut>,
    /// Label of a stripe part's ignored axis, in `[0, E)`. Default none: `E/2`. Only stripe
    /// patterns accept it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stripe_at: Option<f64>,
}

/// A validated part before λ-subsampling.
struct TrainPart {
    pattern: Pattern,
    /// The grid's centres outside the held-out region.
    train: Vec<[f64; 2]>,
    lambda: f64,
}

impl Default for DatasetConfig {
    /// [`RenderConfig::default`]'s rendering (N = 32, σ = 1, dark on bright, k = 2, range
    /// `[−1, 1]`, not periodic) on [`GridSpec::default`]'s full 1-px tiling, pattern `bump`,
    /// λ = 1, no held-out region, no extended canvas, no further parts: the
    /// papers' 1,024-bump dataset (σ = 1 is ours; docs/conventions.md).
    fn default() -> Self {
        let render = RenderConfig::default();
        let grid = GridSpec::default();
        Self {
            n: render.n,
            sigma: render.sigma,
            pattern: Pattern::default(),
            dx: grid.dx,
            dy: grid.dy,
            lambda: 1.0,
            held_out: None,
            within: None,
            stripe_at: None,
            periodic: render.periodic,
            canvas: None,
            polarity: render.polarity,
            exponent_denominator_factor: render.exponent_denominator_factor,
            range: render.range,
            mix: Vec::new(),
        }
    }
}

impl DataPart {
    /// A part drawing `pattern` on a `dx × dy` grid, λ = 1, no held-out region.
    pub fn new(pattern: Pattern, dx: f64, dy: f64) -> Self {
        Self {
            pattern,
            dx,
            dy,
            lambda: 1.0,
            held_out: None,
            within: None,
            stripe_at: None,
        }
    }
    /// Sets λ.
    pub fn with_lambda(mut self, lambda: f64) -> Self {
        self.lambda = lambda;
        self
    }
    /// Sets the held-out region.
    pub fn with_held_out(mut self, held_out: HeldOut) -> Self {
        self.held_out = Some(held_out);
        self
    }

    /// Restricts the part to the grid centres inside `region`.
    pub fn with_within(mut self, region: HeldOut) -> Self {
        self.within = Some(region);
        self
    }

    /// Puts a stripe part's ignored axis at label `at` instead of `E/2`.
    pub fn with_stripe_at(mut self, at: f64) -> Self {
        self.stripe_at = Some(at);
        self
    }

    /// This part's full grid on `[0, extent)²` before the held-out split and λ (see the
    /// [module docs](self) for the stripe rule).
    pub fn grid(&self, extent: usize) -> Result<Vec<[f64; 2]>> {
        let e = extent as f64;
        Ok(match self.pattern {
            Pattern::Bump | Pattern::SumOfStripes => {
                GridSpec::new(extent, self.dx, self.dy).centres()?
            }
            Pattern::VerticalStripe => product(
                &axis_values(e, self.dx)?,
                &[self.stripe_at.unwrap_or(e / 2.0)],
            ),
            Pattern::HorizontalStripe => product(
                &[self.stripe_at.unwrap_or(e / 2.0)],
                &axis_values(e, self.dy)?,
            ),
        })
    }

    /// Checks `dx`, `dy`, `lambda` and `held_out` (keys `{key}.dx`, …) and returns the train side
    /// of the grid on `[0, extent)²`.
    fn train_centres(&self, key: &str, extent: usize) -> Result<Vec<[f64; 2]>> {
        for (axis, d) in [("dx", self.dx), ("dy", self.dy)] {
            check_spacing(&format!("{key}.{axis}"), d, extent, 0.0)?;
        }
        check_fraction(&format!("{key}.lambda"), self.lambda)?;
        if let Some(at) = self.stripe_at {
            let skey = format!("{key}.stripe_at");
            if !matches!(
                self.pattern,
                Pattern::VerticalStripe | Pattern::HorizontalStripe
            ) {
                return Err(config_error(
                    skey,
                    format!(
                        "is only used by vertical_stripe and horizontal_stripe parts, but this \
                         part draws {}; remove it",
                        self.pattern_name()
                    ),
                ));
            }
            if !(at.is_finite() && (0.0..extent as f64).contains(&at)) {
                return Err(config_error(
                    skey,
                    format!("must lie in [0, {extent}) (the label square), got {at}"),
                ));
            }
        }
        let mut grid = self.grid(extent)?;
        if let Some(within) = &self.within {
            let wkey = format!("{key}.within");
            check_held_out(&wkey, within)?;
            let total = grid.len();
            grid = match split(&grid, within) {
                Ok(s) => s.test,
                Err(Error::EmptyTrain) => grid,
                Err(Error::EmptyHeldOut) => {
                    return Err(config_error(
                        wkey,
                        format!(
                            "must hold at least one centre, but covers none of the {total} \
                             centres of the {} grid (dx = {}, dy = {}) on [0, {extent})²",
                            self.pattern_name(),
                            self.dx,
                            self.dy
                        ),
                    ))
                }
                Err(e) => return Err(e),
            };
        }
        let Some(held_out) = &self.held_out else {
            return Ok(grid);
        };
        let hkey = format!("{key}.held_out");
        check_held_out(&hkey, held_out)?;
        let what = || {
            format!(
                "the {} centres of the {} grid (dx = {}, dy = {}) on [0, {extent})²",
                grid.len(),
                self.pattern_name(),
                self.dx,
                self.dy
            )
        };
        match split(&grid, held_out) {
            Ok(s) => Ok(s.train),
            Err(Error::EmptyHeldOut) => Err(config_error(
                hkey,
                format!(
                    "must hold at least one centre, but covers none of {}",
                    what()
                ),
            )),
            Err(Error::EmptyTrain) => Err(config_error(
                hkey,
                format!(
                    "must leave at least one centre for training, but covers all {}",
                    what()
                ),
            )),
            Err(e) => Err(e),
        }
    }

    fn pattern_name(&self) -> &'static str {
        match self.pattern {
            Pattern::Bump => "bump",
            Pattern::VerticalStripe => "vertical_stripe",
            Pattern::HorizontalStripe => "horizontal_stripe",
            Pattern::SumOfStripes => "sum_of_stripes",
        }
    }

    /// e.g. "bumps on a 1×1 grid", "vertical stripes every 2 along x (λ=0.5, held-out region removed)".
    fn describe(&self) -> String {
        let base = match self.pattern {
            Pattern::Bump => format!("bumps on a {}×{} grid", self.dx, self.dy),
            Pattern::SumOfStripes => format!("sums of stripes on a {}×{} grid", self.dx, self.dy),
            Pattern::VerticalStripe => format!("vertical stripes every {} along x", self.dx),
            Pattern::HorizontalStripe => format!("horizontal stripes every {} along y", self.dy),
        };
        let mut notes = Vec::new();
        if self.lambda < 1.0 {
            notes.push(format!("λ={}", self.lambda));
        }
        if self.within.is_some() {
            notes.push("restricted to a region".to_string());
        }
        if self.held_out.is_some() {
            notes.push("held-out region removed".to_string());
        }
        if notes.is_empty() {
            base
        } else {
            format!("{base} ({})", notes.join(", "))
        }
    }
}

impl DatasetConfig {
    /// Sets N.
    pub fn with_n(mut self, n: usize) -> Self {
        self.n = n;
        self
    }
    /// Sets a spherical σ.
    pub fn with_sigma(mut self, sigma: f64) -> Self {
        self.sigma = Sigma::Spherical(sigma);
        self
    }
    /// Sets anisotropic widths σx (columns), σy (rows).
    pub fn with_sigma_xy(mut self, sigma_x: f64, sigma_y: f64) -> Self {
        self.sigma = Sigma::Anisotropic {
            x: sigma_x,
            y: sigma_y,
        };
        self
    }
    /// Sets the main part's pattern.
    pub fn with_pattern(mut self, pattern: Pattern) -> Self {
        self.pattern = pattern;
        self
    }
    /// Sets the main part's spacings dx, dy.
    pub fn with_spacing(mut self, dx: f64, dy: f64) -> Self {
        self.dx = dx;
        self.dy = dy;
        self
    }
    /// Sets the main part's dx.
    pub fn with_dx(mut self, dx: f64) -> Self {
        self.dx = dx;
        self
    }
    /// Sets the main part's dy.
    pub fn with_dy(mut self, dy: f64) -> Self {
        self.dy = dy;
        self
    }
    /// Sets the main part's λ.
    pub fn with_lambda(mut self, lambda: f64) -> Self {
        self.lambda = lambda;
        self
    }
    /// Sets the main part's held-out region.
    pub fn with_held_out(mut self, held_out: HeldOut) -> Self {
        self.held_out = Some(held_out);
        self
    }
    /// Turns the periodic (torus) boundary on or off.
    pub fn with_periodic(mut self, periodic: bool) -> Self {
        self.periodic = periodic;
        self
    }
    /// Sets the extended latent canvas side M.
    pub fn with_canvas(mut self, latent: usize) -> Self {
        self.canvas = Some(latent);
        self
    }
    /// Sets the polarity.
    pub fn with_polarity(mut self, polarity: Polarity) -> Self {
        self.polarity = polarity;
        self
    }
    /// Sets k in the exponent denominator `k·σ²`.
    pub fn with_exponent_denominator_factor(mut self, k: f64) -> Self {
        self.exponent_denominator_factor = k;
        self
    }
    /// Sets the output range.
    pub fn with_range(mut self, lo: f32, hi: f32) -> Self {
        self.range = (lo, hi);
        self
    }
    /// Appends a part to `mix`.
    pub fn with_part(mut self, part: DataPart) -> Self {
        self.mix.push(part);
        self
    }

    /// The main part (`pattern`, `dx`, `dy`, `lambda`, `held_out`) as a [`DataPart`].
    pub fn main_part(&self) -> DataPart {
        DataPart {
            pattern: self.pattern,
            dx: self.dx,
            dy: self.dy,
            lambda: self.lambda,
            held_out: self.held_out,
            within: self.within,
            stripe_at: self.stripe_at,
        }
    }

    /// Every part in build order: the main part, then `mix`.
    pub fn parts(&self) -> Vec<DataPart> {
        std::iter::once(self.main_part())
            .chain(self.mix.iter().copied())
            .collect()
    }

    /// The renderer settings shared by every part.
    pub fn render_config(&self) -> RenderConfig {
        RenderConfig {
            n: self.n,
            sigma: self.sigma,
            polarity: self.polarity,
            exponent_denominator_factor: self.exponent_denominator_factor,
            range: self.range,
            periodic: self.periodic,
        }
    }

    /// The extended canvas (latent M, visible N), when `canvas` is set.
    pub fn canvas(&self) -> Option<ExtendedCanvas> {
        self.canvas.map(|latent| ExtendedCanvas {
            latent,
            visible: self.n,
        })
    }

    /// Side of the label square: M with a canvas, else N.
    pub fn extent(&self) -> usize {
        self.canvas.unwrap_or(self.n)
    }

    /// The scorer settings matched to the rendering: `ScoreConfig::for_render(&self.render_config())`.
    pub fn score_config(&self) -> ScoreConfig {
        ScoreConfig::for_render(&self.render_config())
    }

    /// Checks every value once, naming keys under [`DATA_KEY`] (e.g. "data.lambda must lie in
    /// (0, 1], got 1.5"). See [`DatasetConfig::validate_at`].
    pub fn validate(&self) -> Result<()> {
        self.validate_at(DATA_KEY)
    }

    /// Checks every value once, naming keys under `prefix`: `n` ≥ 1; σ (or σx, σy) finite > 0;
    /// `canvas` > `n` with an even difference and not with `periodic`; k finite > 0; `range`
    /// finite with lo ≠ hi; for each part `dx`, `dy` finite > 0 (at most [`MAX_AXIS_COUNT`]
    /// centres per axis), λ ∈ (0, 1], and a held-out region with valid intervals that holds at
    /// least one centre of the part's grid and leaves at least one. Errors are [`Error::Config`].
    pub fn validate_at(&self, prefix: &str) -> Result<()> {
        self.train_parts(prefix).map(|_| ())
    }

    /// Validates, then returns each part's train side in build order.
    fn train_parts(&self, prefix: &str) -> Result<Vec<TrainPart>> {
        if self.n == 0 {
            return Err(config_error(
                format!("{prefix}.n"),
                "must be an integer >= 1, got 0",
            ));
        }
        match self.sigma {
            Sigma::Spherical(s) => check_positive(&format!("{prefix}.sigma"), s)?,
            Sigma::Anisotropic { x, y } => {
                check_positive(&format!("{prefix}.sigma.x"), x)?;
                check_positive(&format!("{prefix}.sigma.y"), y)?;
            }
        }
        if let Some(m) = self.canvas {
            if m <= self.n || (m - self.n) % 2 != 0 {
                return Err(config_error(
                    format!("{prefix}.canvas"),
                    format!(
                        "must be an integer > {prefix}.n = {n} with an even difference from it \
                         (so the {n}×{n} crop is central), got {m}",
                        n = self.n
                    ),
                ));
            }
            if self.periodic {
                return Err(config_error(
                    format!("{prefix}.periodic"),
                    format!(
                        "must be false when {prefix}.canvas is set (a cropped canvas is not a \
                         torus), got true"
                    ),
                ));
            }
        }
        check_positive(
            &format!("{prefix}.exponent_denominator_factor"),
            self.exponent_denominator_factor,
        )?;
        let (lo, hi) = self.range;
        if !(lo.is_finite() && hi.is_finite()) || lo == hi {
            return Err(config_error(
                format!("{prefix}.range"),
                format!("must be two finite numbers [lo, hi] with lo != hi, got [{lo}, {hi}]"),
            ));
        }
        let extent = self.extent();
        self.parts()
            .iter()
            .enumerate()
            .map(|(i, part)| {
                let key = match i {
                    0 => prefix.to_string(),
                    _ => format!("{prefix}.mix[{}]", i - 1),
                };
                Ok(TrainPart {
                    pattern: part.pattern,
                    train: part.train_centres(&key, extent)?,
                    lambda: part.lambda,
                })
            })
            .collect()
    }

    /// Each part's pattern and final centres (labels), in build order: grid → held-out split
    /// (train side) → λ-subsample with [`part_seed`]`(seed, i)` when λ < 1.
    pub fn centres(&self, seed: u64) -> Result<Vec<(Pattern, Vec<[f64; 2]>)>> {
        self.train_parts(DATA_KEY)?
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let centres = if p.lambda < 1.0 {
                    subsample(&p.train, p.lambda, part_seed(seed, i))?
                } else {
                    p.train
                };
                Ok((p.pattern, centres))
            })
            .collect()
    }

    /// Number of images [`DatasetConfig::build`] renders (independent of the seed).
    pub fn num_images(&self) -> Result<usize> {
        self.train_parts(DATA_KEY)?
            .iter()
            .map(|p| subsample_size(p.train.len(), p.lambda))
            .sum()
    }

    /// Renders every part ([`DatasetConfig::centres`]) and concatenates them in order.
    ///
    /// For a single `bump` part without held-out region or canvas this is exactly
    /// `Dataset::render(&self.render_config(), &c)` with `c = GridSpec::new(n, dx, dy).centres()`,
    /// λ-subsampled by `subsample(&c, λ, seed)` when λ < 1.
    pub fn build(&self, seed: u64) -> Result<Dataset> {
        let render = self.render_config();
        let canvas = self.canvas();
        let parts = self
            .centres(seed)?
            .into_iter()
            .map(|(pattern, centres)| Dataset::render_with(&render, pattern, canvas, &centres))
            .collect::<Result<Vec<_>>>()?;
        match <[Dataset; 1]>::try_from(parts) {
            Ok([one]) => Ok(one),
            Err(parts) => Dataset::concat(&parts),
        }
    }

    /// A short human description, e.g. "bumps on a 1×1 grid, σ=1.5, N=32, 1024 images".
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self.parts().iter().map(DataPart::describe).collect();
        let sigma = match self.sigma {
            Sigma::Spherical(s) => format!("σ={s}"),
            Sigma::Anisotropic { x, y } => format!("σ=({x}, {y})"),
        };
        let mut s = format!("{}, {sigma}, N={}", parts.join(" + "), self.n);
        if let Some(m) = self.canvas {
            s += &format!(", {m}×{m} latent canvas");
        }
        if self.periodic {
            s += ", periodic";
        }
        match self.num_images() {
            Ok(k) => s += &format!(", {k} images"),
            Err(e) => s += &format!(" (invalid: {e})"),
        }
        s
    }
}

/// Which centres of a [`CentreSet`]'s grid to keep: those inside a region, or those outside it.
///
/// Serialized snake_case, e.g. `region = { inside = { rect = { x = { lo = 12.0, hi = 20.0 },
/// y = { lo = 12.0, hi = 20.0 } } } }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RegionFilter {
    /// Keep the centres inside the region (e.g. a training set's held-out test region).
    Inside(HeldOut),
    /// Keep the centres outside the region.
    Outside(HeldOut),
}

impl RegionFilter {
    /// Whether the filter keeps `c`.
    pub fn keeps(&self, c: [f64; 2]) -> bool {
        match self {
            RegionFilter::Inside(h) => h.contains(c),
            RegionFilter::Outside(h) => !h.contains(c),
        }
    }

    fn parts(&self) -> (&'static str, &HeldOut) {
        match self {
            RegionFilter::Inside(h) => ("inside", h),
            RegionFilter::Outside(h) => ("outside", h),
        }
    }
}

/// A set of evaluation centres on `[0, E)²`: the grid `{ox + i·dx} × {oy + j·dy}` ∩ `[0, E)²`
/// (y-major: index = j·nx + i), optionally filtered by a region.
///
/// ```toml
/// dx = 2.0
/// dy = 2.0
/// offset = [1.0, 1.0]
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CentreSet {
    /// Spacing along x (columns).
    pub dx: f64,
    /// Spacing along y (rows).
    pub dy: f64,
    /// First centre `[ox, oy]`, each in `[0, E)`. Default `[0, 0]` when omitted.
    #[serde(default)]
    pub offset: [f64; 2],
    /// Keep only the centres inside (or outside) a region. Default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<RegionFilter>,
}

impl Default for CentreSet {
    /// The cell centres of a 2×2 lattice: dx = dy = 2, offset [1, 1] (on N = 32: the 16×16
    /// centres 1, 3, …, 31, the facade's evaluation default).
    fn default() -> Self {
        Self {
            dx: 2.0,
            dy: 2.0,
            offset: [1.0, 1.0],
            region: None,
        }
    }
}

impl CentreSet {
    /// A `dx × dy` grid from `[0, 0]`, no region.
    pub fn new(dx: f64, dy: f64) -> Self {
        Self {
            dx,
            dy,
            offset: [0.0, 0.0],
            region: None,
        }
    }
    /// Sets the offset of the first centre.
    pub fn with_offset(mut self, ox: f64, oy: f64) -> Self {
        self.offset = [ox, oy];
        self
    }
    /// Sets the region filter.
    pub fn with_region(mut self, region: RegionFilter) -> Self {
        self.region = Some(region);
        self
    }

    /// Checks every value for a label square of side `extent`, naming keys under
    /// [`CENTRES_KEY`]. See [`CentreSet::validate_at`].
    pub fn validate(&self, extent: usize) -> Result<()> {
        self.validate_at(CENTRES_KEY, extent)
    }

    /// Checks, naming keys under `prefix`: `dx`, `dy` finite > 0 (at most [`MAX_AXIS_COUNT`]
    /// centres per axis), each offset finite in `[0, extent)`, the region's intervals, and that
    /// the region keeps at least one centre. `extent == 0` is [`Error::ZeroSize`].
    pub fn validate_at(&self, prefix: &str, extent: usize) -> Result<()> {
        self.checked_centres(prefix, extent).map(|_| ())
    }

    /// The centres, y-major, after the region filter.
    pub fn centres(&self, extent: usize) -> Result<Vec<[f64; 2]>> {
        self.checked_centres(CENTRES_KEY, extent)
    }

    /// `Some((nx, ny))` when there is no region filter (the centres form a full nx × ny grid),
    /// `None` with a region filter.
    pub fn grid_shape(&self, extent: usize) -> Result<Option<(usize, usize)>> {
        self.validate(extent)?;
        if self.region.is_some() {
            return Ok(None);
        }
        let (xs, ys) = self.axes(CENTRES_KEY, extent)?;
        Ok(Some((xs.len(), ys.len())))
    }

    fn axes(&self, prefix: &str, extent: usize) -> Result<(Vec<f64>, Vec<f64>)> {
        if extent == 0 {
            return Err(Error::ZeroSize);
        }
        let e = extent as f64;
        let [ox, oy] = self.offset;
        if !(ox.is_finite() && oy.is_finite() && (0.0..e).contains(&ox) && (0.0..e).contains(&oy)) {
            return Err(config_error(
                format!("{prefix}.offset"),
                format!("must hold two finite numbers in [0, {extent}), got [{ox}, {oy}]"),
            ));
        }
        check_spacing(&format!("{prefix}.dx"), self.dx, extent, ox)?;
        check_spacing(&format!("{prefix}.dy"), self.dy, extent, oy)?;
        Ok((
            axis_values_from(e, self.dx, ox)?,
            axis_values_from(e, self.dy, oy)?,
        ))
    }

    fn checked_centres(&self, prefix: &str, extent: usize) -> Result<Vec<[f64; 2]>> {
        let (xs, ys) = self.axes(prefix, extent)?;
        let grid = product(&xs, &ys);
        let Some(region) = &self.region else {
            return Ok(grid);
        };
        let key = region_key(prefix, region);
        check_held_out(&key, region.parts().1)?;
        let kept: Vec<[f64; 2]> = grid.iter().copied().filter(|&c| region.keeps(c)).collect();
        if kept.is_empty() {
            return Err(config_error(
                format!("{prefix}.region"),
                format!(
                    "must keep at least one centre, but keeps none of the {}×{} grid on [0, {extent})²",
                    xs.len(),
                    ys.len()
                ),
            ));
        }
        Ok(kept)
    }
}

fn region_key(prefix: &str, region: &RegionFilter) -> String {
    format!("{prefix}.region.{}", region.parts().0)
}

/// `key` must be a finite number > 0.
fn check_positive(key: &str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(config_error(
            key,
            format!("must be a finite number > 0, got {v}"),
        ))
    }
}

/// `key` must be a spacing > 0 giving at most [`MAX_AXIS_COUNT`] values on `[offset, extent)`.
fn check_spacing(key: &str, d: f64, extent: usize, offset: f64) -> Result<()> {
    check_positive(key, d)?;
    axis_count_from(extent as f64, d, offset)
        .map(|_| ())
        .map_err(|_| {
            config_error(
                key,
                format!(
                    "must be large enough for at most {MAX_AXIS_COUNT} centres along an axis of \
                 length {extent}, got {d}"
                ),
            )
        })
}

/// `key` must lie in (0, 1].
fn check_fraction(key: &str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 && v <= 1.0 {
        Ok(())
    } else {
        Err(config_error(key, format!("must lie in (0, 1], got {v}")))
    }
}

/// Every interval of `h` must be finite with lo < hi; keys `{key}.rect.x`, `{key}.cross.y`, ….
fn check_held_out(key: &str, h: &HeldOut) -> Result<()> {
    let (variant, intervals) = match *h {
        HeldOut::Rect { x, y } => ("rect", vec![("x", x), ("y", y)]),
        HeldOut::VerticalBand { x } => ("vertical_band", vec![("x", x)]),
        HeldOut::HorizontalBand { y } => ("horizontal_band", vec![("y", y)]),
        HeldOut::Cross { x, y } => ("cross", vec![("x", x), ("y", y)]),
    };
    for (axis, i) in intervals {
        if i.validate().is_err() {
            return Err(config_error(
                format!("{key}.{variant}.{axis}"),
                format!(
                    "must be an interval {{ lo, hi }} of finite numbers with lo < hi, got [{}, {})",
                    i.lo, i.hi
                ),
            ));
        }
    }
    Ok(())
}
