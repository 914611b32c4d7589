//! Rendering Gaussian bumps and stripes onto an N×N canvas.
//!
//! Convention (see `docs/conventions.md`): x = column, y = row, pixel centres at integer
//! coordinates `0..N-1`, origin top-left, images row-major (`index = y * N + x`).

use serde::{Deserialize, Serialize};

use crate::error::{check_centres, check_sigma, Error, Result};

/// Width of the Gaussian: one σ for both axes, or separate σx (columns) and σy (rows).
///
/// Serialized as a bare number when spherical (`sigma = 1.5`) and as `{ x = .., y = .. }` when
/// anisotropic. Deserialization also accepts the externally tagged forms written by earlier
/// versions (`{"Spherical": 1.5}`, `{"Anisotropic": {"x": 1, "y": 2}}`), so old dataset files load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sigma {
    /// σx = σy = σ.
    Spherical(f64),
    /// Separate widths along x (columns) and y (rows).
    Anisotropic {
        /// Width along x (columns).
        x: f64,
        /// Width along y (rows).
        y: f64,
    },
}

impl Sigma {
    /// (σx, σy).
    pub fn xy(&self) -> (f64, f64) {
        match *self {
            Sigma::Spherical(s) => (s, s),
            Sigma::Anisotropic { x, y } => (x, y),
        }
    }

    /// Checks both widths are finite and > 0.
    pub fn validate(&self) -> Result<()> {
        let (x, y) = self.xy();
        check_sigma(x)?;
        check_sigma(y)
    }
}

impl Serialize for Sigma {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        match *self {
            Sigma::Spherical(v) => s.serialize_f64(v),
            Sigma::Anisotropic { x, y } => {
                let mut st = s.serialize_struct("Sigma", 2)?;
                st.serialize_field("x", &x)?;
                st.serialize_field("y", &y)?;
                st.end()
            }
        }
    }
}

/// The `{x, y}` body of the legacy `{"Anisotropic": {..}}` form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SigmaXy {
    x: f64,
    y: f64,
}

/// Keys a σ table may hold: `x` and `y`, or one legacy tag.
const SIGMA_KEYS: &[&str] = &["x", "y", "Spherical", "Anisotropic"];

struct SigmaVisitor;

impl<'de> serde::de::Visitor<'de> for SigmaVisitor {
    type Value = Sigma;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a number σ or a table { x = σx, y = σy }")
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<Sigma, E> {
        Ok(Sigma::Spherical(v))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Sigma, E> {
        Ok(Sigma::Spherical(v as f64))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Sigma, E> {
        Ok(Sigma::Spherical(v as f64))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Sigma, A::Error> {
        use serde::de::Error as _;
        let (mut x, mut y) = (None, None);
        let mut tagged = None;
        while let Some(key) = map.next_key::<String>()? {
            if tagged.is_some() {
                return Err(A::Error::custom(format!(
                    "a tagged σ holds one key, found `{key}` as well"
                )));
            }
            let slot = match key.as_str() {
                "x" => &mut x,
                "y" => &mut y,
                "Spherical" if x.is_none() && y.is_none() => {
                    tagged = Some(Sigma::Spherical(map.next_value()?));
                    continue;
                }
                "Anisotropic" if x.is_none() && y.is_none() => {
                    let SigmaXy { x, y } = map.next_value()?;
                    tagged = Some(Sigma::Anisotropic { x, y });
                    continue;
                }
                _ => return Err(A::Error::unknown_field(&key, SIGMA_KEYS)),
            };
            if slot.is_some() {
                return Err(A::Error::custom(format!("duplicate σ key `{key}`")));
            }
            *slot = Some(map.next_value::<f64>()?);
        }
        if let Some(s) = tagged {
            return Ok(s);
        }
        match (x, y) {
            (Some(x), Some(y)) => Ok(Sigma::Anisotropic { x, y }),
            (None, _) => Err(A::Error::missing_field("x")),
            (_, None) => Err(A::Error::missing_field("y")),
        }
    }
}

impl<'de> Deserialize<'de> for Sigma {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(SigmaVisitor)
    }
}

/// Which way the bump is drawn. Serialized snake_case (`"dark_on_bright"`); the PascalCase
/// names of earlier versions are accepted too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Polarity {
    /// Dark bump on a bright background, `v = 1 − g` (the authors' code; our default).
    #[default]
    #[serde(alias = "DarkOnBright")]
    DarkOnBright,
    /// Bright bump on a dark background, `v = g`.
    #[serde(alias = "BrightOnDark")]
    BrightOnDark,
}

impl Polarity {
    /// Maps bump intensity `g ∈ [0, 1]` (1 at the bump centre) to the pixel value `v ∈ [0, 1]`.
    pub fn apply(self, g: f64) -> f64 {
        match self {
            Polarity::DarkOnBright => 1.0 - g,
            Polarity::BrightOnDark => g,
        }
    }
}

/// What is drawn at a centre (μx, μy). Serialized snake_case (`"bump"`, `"vertical_stripe"`,
/// `"horizontal_stripe"`, `"sum_of_stripes"`); the PascalCase names of earlier versions are
/// accepted too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    /// 2D Gaussian bump `g = exp(−(x−μx)²/(kσx²) − (y−μy)²/(kσy²))`.
    #[default]
    #[serde(alias = "Bump")]
    Bump,
    /// Vertical 1D stripe at column μx, `g = exp(−(x−μx)²/(kσx²))`; μy is ignored.
    #[serde(alias = "VerticalStripe")]
    VerticalStripe,
    /// Horizontal 1D stripe at row μy, `g = exp(−(y−μy)²/(kσy²))`; μx is ignored.
    #[serde(alias = "HorizontalStripe")]
    HorizontalStripe,
    /// Sum of stripes (SOS): `g = ½[exp(−(x−μx)²/(kσx²)) + exp(−(y−μy)²/(kσy²))]`.
    #[serde(alias = "SumOfStripes")]
    SumOfStripes,
}

impl Pattern {
    /// Stable code used in dataset files.
    pub fn code(self) -> u8 {
        match self {
            Pattern::Bump => 0,
            Pattern::VerticalStripe => 1,
            Pattern::HorizontalStripe => 2,
            Pattern::SumOfStripes => 3,
        }
    }

    /// Inverse of [`Pattern::code`].
    pub fn from_code(code: u8) -> Result<Self> {
        match code {
            0 => Ok(Pattern::Bump),
            1 => Ok(Pattern::VerticalStripe),
            2 => Ok(Pattern::HorizontalStripe),
            3 => Ok(Pattern::SumOfStripes),
            c => Err(Error::InvalidArgument(format!("unknown pattern code {c}"))),
        }
    }
}

/// How images are rendered. Pub fields; call [`RenderConfig::validate`] (the renderers do).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RenderConfig {
    /// Canvas side N (image is N×N). Default 32.
    pub n: usize,
    /// Width σ. Default `Spherical(1.0)`.
    pub sigma: Sigma,
    /// Polarity. Default dark bump on bright background.
    pub polarity: Polarity,
    /// k in the exponent denominator `k·σ²`. Default 2.0.
    pub exponent_denominator_factor: f64,
    /// Output range: `v ∈ [0, 1]` maps linearly to `[range.0, range.1]`. Default (−1, 1), i.e. `u = 2v − 1`.
    pub range: (f32, f32),
    /// Periodic (torus) boundary with minimum-image distances over a period of N. Default false.
    pub periodic: bool,
}

impl Default for RenderConfig {
    /// N = 32 (paper), σ = 1 (ours: the papers' σ is not recovered), dark bump on a bright
    /// background and exponent `2σ²` (paper), range `[−1, 1]` (ours: standard DDPM scaling),
    /// not periodic. docs/conventions.md gives each one's source.
    fn default() -> Self {
        Self {
            n: 32,
            sigma: Sigma::Spherical(1.0),
            polarity: Polarity::DarkOnBright,
            exponent_denominator_factor: 2.0,
            range: (-1.0, 1.0),
            periodic: false,
        }
    }
}

impl RenderConfig {
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
    /// Turns the periodic (torus) boundary on or off.
    pub fn with_periodic(mut self, periodic: bool) -> Self {
        self.periodic = periodic;
        self
    }

    /// Checks every field: N > 0, σ finite > 0, k finite > 0, range finite with lo ≠ hi.
    pub fn validate(&self) -> Result<()> {
        if self.n == 0 {
            return Err(Error::ZeroSize);
        }
        self.sigma.validate()?;
        let k = self.exponent_denominator_factor;
        if !(k.is_finite() && k > 0.0) {
            return Err(Error::InvalidArgument(format!(
                "exponent denominator factor must be finite and > 0, got {k}"
            )));
        }
        let (lo, hi) = self.range;
        if !(lo.is_finite() && hi.is_finite()) || lo == hi {
            return Err(Error::InvalidArgument(format!(
                "output range must be finite with lo != hi, got ({lo}, {hi})"
            )));
        }
        Ok(())
    }

    /// Pixels per image, N².
    pub fn pixels(&self) -> usize {
        self.n * self.n
    }

    /// Maps `v ∈ [0, 1]` to the output range.
    pub fn to_output(&self, v: f64) -> f32 {
        let (lo, hi) = self.range;
        (lo as f64 + (hi as f64 - lo as f64) * v) as f32
    }
}

/// 1D profile `exp(−d²/(kσ²))` at pixel centres `0..n`, with minimum-image `d` when periodic.
fn profile(n: usize, mu: f64, sigma: f64, k: f64, periodic: bool, out: &mut [f64]) {
    let denom = k * sigma * sigma;
    let period = n as f64;
    for (i, o) in out.iter_mut().enumerate().take(n) {
        let mut d = (i as f64 - mu).abs();
        if periodic {
            d = d.rem_euclid(period);
            d = d.min(period - d);
        }
        *o = (-(d * d) / denom).exp();
    }
}

/// Renders one image of `pattern` centred at `centre = [μx, μy]` (image pixel units) into `out` (len N²).
///
/// # Shapes
/// `out`: `[N, N]` row-major (`out[y * N + x]`).
pub fn render_into(
    cfg: &RenderConfig,
    pattern: Pattern,
    centre: [f64; 2],
    out: &mut [f32],
) -> Result<()> {
    cfg.validate()?;
    check_centres(&[centre])?;
    if out.len() != cfg.pixels() {
        return Err(Error::ShapeMismatch(format!(
            "output buffer has {} values, expected N² = {}",
            out.len(),
            cfg.pixels()
        )));
    }
    let mut gx = vec![0.0; cfg.n];
    let mut gy = vec![0.0; cfg.n];
    render_unchecked(cfg, pattern, centre, &mut gx, &mut gy, out);
    Ok(())
}

/// Core renderer; `cfg`, `centre` and buffer sizes are already validated.
pub(crate) fn render_unchecked(
    cfg: &RenderConfig,
    pattern: Pattern,
    centre: [f64; 2],
    gx: &mut [f64],
    gy: &mut [f64],
    out: &mut [f32],
) {
    let n = cfg.n;
    let (sx, sy) = cfg.sigma.xy();
    let k = cfg.exponent_denominator_factor;
    // The Gaussian is separable, so two 1D profiles give every pixel.
    profile(n, centre[0], sx, k, cfg.periodic, gx);
    profile(n, centre[1], sy, k, cfg.periodic, gy);
    for (y, row) in out.chunks_exact_mut(n).enumerate() {
        for (x, o) in row.iter_mut().enumerate() {
            let g = match pattern {
                Pattern::Bump => gx[x] * gy[y],
                Pattern::VerticalStripe => gx[x],
                Pattern::HorizontalStripe => gy[y],
                Pattern::SumOfStripes => 0.5 * (gx[x] + gy[y]),
            };
            *o = cfg.to_output(cfg.polarity.apply(g));
        }
    }
}

/// Renders one image of `pattern` at `centre` and returns it (len N²).
pub fn render_image(cfg: &RenderConfig, pattern: Pattern, centre: [f64; 2]) -> Result<Vec<f32>> {
    let mut out = vec![0.0; cfg.pixels()];
    render_into(cfg, pattern, centre, &mut out)?;
    Ok(out)
}

/// Renders several bumps into one image; overlapping bumps combine by their maximum intensity
/// (`g = max_i g_i`), so each bump keeps its own shape. Meant for scorer tests and fixtures.
///
/// # Shapes
/// returns `[N, N]` row-major.
pub fn render_bumps_max(cfg: &RenderConfig, centres: &[[f64; 2]]) -> Result<Vec<f32>> {
    cfg.validate()?;
    check_centres(centres)?;
    let n = cfg.n;
    let (sx, sy) = cfg.sigma.xy();
    let k = cfg.exponent_denominator_factor;
    let mut g = vec![0.0f64; n * n];
    let mut gx = vec![0.0; n];
    let mut gy = vec![0.0; n];
    for c in centres {
        profile(n, c[0], sx, k, cfg.periodic, &mut gx);
        profile(n, c[1], sy, k, cfg.periodic, &mut gy);
        for y in 0..n {
            for x in 0..n {
                let v = gx[x] * gy[y];
                if v > g[y * n + x] {
                    g[y * n + x] = v;
                }
            }
        }
    }
    Ok(g.iter()
        .map(|&gi| cfg.to_output(cfg.polarity.apply(gi)))
        .collect())
}

/// An extended ("latent") canvas: labels range over an M×M latent square while the image is its
/// central N×N crop (the follow-up paper's 44 → 32 embedding).
///
/// Label transform: image coordinate = latent coordinate − offset, with offset = (M − N)/2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendedCanvas {
    /// Latent side M (e.g. 44).
    pub latent: usize,
    /// Visible side N (e.g. 32); must equal the render config's N.
    pub visible: usize,
}

impl Default for ExtendedCanvas {
    /// The follow-up paper's 44 → 32 embedding (Fig. 9): latent M = 44, visible N = 32.
    fn default() -> Self {
        Self {
            latent: 44,
            visible: 32,
        }
    }
}

impl ExtendedCanvas {
    /// Builds and validates: N > 0, M ≥ N, M − N even (so the crop is central on the pixel grid).
    pub fn new(latent: usize, visible: usize) -> Result<Self> {
        let c = Self { latent, visible };
        c.validate()?;
        Ok(c)
    }

    /// Checks N > 0, M ≥ N and M − N even.
    pub fn validate(&self) -> Result<()> {
        if self.visible == 0 || self.latent == 0 {
            return Err(Error::ZeroSize);
        }
        if self.latent < self.visible || (self.latent - self.visible) % 2 != 0 {
            return Err(Error::InvalidArgument(format!(
                "latent canvas {} must be >= visible {} with an even difference",
                self.latent, self.visible
            )));
        }
        Ok(())
    }

    /// Offset (M − N)/2 between latent and image coordinates.
    pub fn offset(&self) -> f64 {
        (self.latent - self.visible) as f64 / 2.0
    }

    /// Latent label → image pixel coordinates.
    pub fn latent_to_image(&self, c: [f64; 2]) -> [f64; 2] {
        let o = self.offset();
        [c[0] - o, c[1] - o]
    }

    /// Image pixel coordinates → latent label.
    pub fn image_to_latent(&self, c: [f64; 2]) -> [f64; 2] {
        let o = self.offset();
        [c[0] + o, c[1] + o]
    }

    /// How many of the two stripe centres of a latent label fall inside the visible frame
    /// (image coordinate in `[0, N)`): 0, 1 or 2 ("0D, 1D, 2D" SOS images).
    pub fn visible_axes(&self, latent: [f64; 2]) -> usize {
        let c = self.latent_to_image(latent);
        let n = self.visible as f64;
        c.iter().filter(|&&v| (0.0..n).contains(&v)).count()
    }
}
