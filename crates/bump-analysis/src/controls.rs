//! Synthetic controls with known labels, for calibrating and testing the representation rule
//! ([`classify_representation`](crate::classify_representation)).
//!
//! Every control is K = [`CONTROL_SAMPLES`] independent samples of B×D activations for the
//! 16×16 evaluation grid of conditions (x, y ∈ {1, 3, …, 31}, row iy·16 + ix). Sample k of
//! condition i is x_ik = μ(c_i) + ε_ik: a deterministic map μ of the condition (the
//! [`ControlMap`]), centred and scaled so that its variance across conditions (trace) is the
//! control's `signal`, plus noise of total variance 1 − `signal` (the [`NoiseKind`]). The
//! population condition-signal fraction is therefore exactly `signal`.
//!
//! The truth label of a control is a function of how it was built, written down before any
//! threshold was calibrated ([`ControlSpec::truth`]):
//!
//! | map | built as | truth |
//! | --- | --- | --- |
//! | `flat` | x·a + y·b, a, b Gaussian in R^D | C |
//! | `curved` | sin(w_j·(x, y) + φ_j), w_j uniform in ±0.15 rad/px (the acceptance sheet) | C |
//! | `swiss_roll` | one full turn of an Archimedean spiral r = 1 + θ, columns at equal arc length; the two ends face each other 3.6 grid spacings apart; random orthonormal embedding | C |
//! | `sinusoidal` | the UNet's position encoding itself: [sin, cos](2πp/P_k), 16 periods P_k from 4 to 256 px (geometric), for p = x and p = y (D = 64). At the grid's 2-px spacing the 4-px period alternates sign: a sheet folded at high frequency, but a deterministic injective map | C |
//! | `sinusoidal_features` | tanh(1.5·W e/√64 + b) of that encoding, W Gaussian, b ~ N(0, 0.5²): random features, like a random network layer | C |
//! | `permuted(p)` | `curved` with a fraction p of the conditions given each other's places (a derangement) | C for p ≤ 0.1, B for p ≥ 0.25 |
//! | `folded` | `curved` of (\|x − 16\|, y) plus ±δ in one extra direction by the sign of x − 16, δ = ¼ of the median grid-neighbour distance: x and 32 − x meet at the grid's resolution | B |
//! | `tiles` | `curved` with the 16 tiles of 4×4 conditions deranged: ordered within tiles, torn across them | B |
//! | `curve_x` | a smooth random curve of x alone (y ignored) | B |
//! | `curve_snake` | a smooth random curve visiting the conditions in boustrophedon order (injective, 1D) | B |
//! | `cloud(r)` | random Gaussian codes in an r-dimensional subspace (r = D: the full space) | A |
//!
//! and, whatever the map, **A** when `signal` < [`SIGNAL_CUT`] (the condition explains little
//! of the activations).
//!
//! Why these truths:
//! - A deterministic, injective, smooth map of the condition *is* an ordered sheet carrying
//!   the condition, even when it is folded at the grid's resolution (`sinusoidal`): its label
//!   is C-like geometry. At initialisation the real layer 4 is such a map of the encoding
//!   seen through a shared noise image; with K independent noise images per condition the
//!   condition explains only part of layer 4, and the label must come from that fraction.
//! - `permuted(p)`: with a fraction p of conditions misplaced, a fraction (1 − p)² of
//!   neighbour pairs stays between correctly placed conditions; we call the sheet ordered
//!   while at least two thirds do (p ≤ 0.18): p = 0.1 keeps 81 %, p = 0.25 keeps 56 %.
//! - 1D curves carry (part of) the condition on a low-dimensional manifold, but not in the
//!   condition's 2D order; the generation analogue is one bump at the wrong place: B.
//! - The signal cut: below 1/13 of the variance (between the suite's 0.05 and 0.1 levels) the
//!   condition "explains little". This is a convention; the controls test that the estimator
//!   recovers it from K = 4 samples, not the convention itself.

use crate::matrix::Activations;
use crate::phase::{Classification, Phase};
use crate::representation::{
    classify_statistics, decision_statistics, phase_of, ConditionGeometry, RepresentationThresholds,
};
use crate::Result;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::f64::consts::TAU;

/// Samples per condition in every control (the facade's probe default).
pub const CONTROL_SAMPLES: usize = 4;
/// Grid side: 16×16 conditions.
pub const GRID_SIDE: usize = 16;
/// Signal fraction below which a control's truth is A.
pub const SIGNAL_CUT: f64 = 0.075;
/// Largest permuted fraction whose truth is still C.
pub const PERMUTED_CUT: f64 = 0.18;
/// Seeds of the calibration split.
pub const CALIBRATION_SEEDS: [u64; 3] = [0, 1, 2];
/// Seeds of the held-out split.
pub const HELD_OUT_SEEDS: [u64; 3] = [3, 4, 5];

/// The deterministic map μ from condition to activation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlMap {
    /// Linear sheet.
    Flat,
    /// Random low-frequency sinusoids of (x, y).
    Curved,
    /// A rolled sheet (one turn).
    SwissRoll,
    /// The 4-to-256-px sinusoidal position encoding.
    Sinusoidal,
    /// Random tanh features of the sinusoidal encoding.
    SinusoidalFeatures,
    /// `Curved` with a fraction of labels deranged.
    Permuted {
        /// Fraction of conditions moved.
        fraction: f64,
    },
    /// `Curved` folded at x = 16 so that x and 32 − x meet.
    Folded,
    /// `Curved` with 4×4 tiles deranged.
    Tiles,
    /// A 1D curve of x alone.
    CurveX,
    /// A 1D curve through the conditions in boustrophedon order.
    CurveSnake,
    /// Random Gaussian codes in a subspace of this rank (0: the full space).
    Cloud {
        /// Rank of the subspace (0 = D).
        rank: usize,
    },
}

/// The noise added to every sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseKind {
    /// Isotropic Gaussian, independent per condition and sample.
    Iso,
    /// Gaussian with a 1/j spectrum over D random directions, independent per condition and
    /// sample.
    Aniso,
    /// Half the noise variance a shift shared by every condition of a sample (one noise image
    /// for all conditions), half isotropic and independent.
    Shared,
}

/// One control variant: map, signal fraction, noise, feature dimension.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ControlSpec {
    /// The map.
    pub map: ControlMap,
    /// Population condition-signal fraction.
    pub signal: f64,
    /// Noise model.
    pub noise: NoiseKind,
    /// Feature dimension D.
    pub dim: usize,
}

/// One generated control.
#[derive(Debug, Clone)]
pub struct Control {
    /// What was built.
    pub spec: ControlSpec,
    /// Seed.
    pub seed: u64,
    /// K samples of B×D activations.
    pub samples: Vec<Activations>,
    /// True centres.
    pub coords: Vec<[f64; 2]>,
    /// Grid shape (16, 16).
    pub grid: (usize, usize),
}

impl ControlMap {
    /// Short name (the family).
    pub fn family(&self) -> String {
        match self {
            Self::Flat => "flat".into(),
            Self::Curved => "curved".into(),
            Self::SwissRoll => "swiss_roll".into(),
            Self::Sinusoidal => "sinusoidal".into(),
            Self::SinusoidalFeatures => "sinusoidal_features".into(),
            Self::Permuted { fraction } => format!("permuted({fraction})"),
            Self::Folded => "folded".into(),
            Self::Tiles => "tiles".into(),
            Self::CurveX => "curve_x".into(),
            Self::CurveSnake => "curve_snake".into(),
            Self::Cloud { rank: 0 } => "cloud(D)".into(),
            Self::Cloud { rank } => format!("cloud({rank})"),
        }
    }

    /// The label of the map's geometry (ignoring the signal fraction).
    pub fn geometry_truth(&self) -> Phase {
        match self {
            Self::Flat
            | Self::Curved
            | Self::SwissRoll
            | Self::Sinusoidal
            | Self::SinusoidalFeatures => Phase::C,
            Self::Permuted { fraction } if *fraction <= PERMUTED_CUT => Phase::C,
            Self::Permuted { .. }
            | Self::Folded
            | Self::Tiles
            | Self::CurveX
            | Self::CurveSnake => Phase::B,
            Self::Cloud { .. } => Phase::A,
        }
    }
}

impl ControlSpec {
    const fn new(map: ControlMap, signal: f64, noise: NoiseKind, dim: usize) -> Self {
        Self {
            map,
            signal,
            noise,
            dim,
        }
    }

    /// The truth label: A below [`SIGNAL_CUT`], else the map's geometry.
    pub fn truth(&self) -> Phase {
        if self.signal < SIGNAL_CUT {
            Phase::A
        } else {
            self.map.geometry_truth()
        }
    }

    /// `family@signal/noise`, e.g. `curved@0.10/aniso`.
    pub fn name(&self) -> String {
        let noise = match self.noise {
            NoiseKind::Iso => "iso",
            NoiseKind::Aniso => "aniso",
            NoiseKind::Shared => "shared",
        };
        format!("{}@{:.2}/{noise}", self.map.family(), self.signal)
    }

    /// The whole suite of variants (each generated with every seed of both splits): 48
    /// variants, 19 of truth C, 14 of B and 15 of A.
    pub fn suite() -> Vec<ControlSpec> {
        use ControlMap::*;
        use NoiseKind::*;
        let mut v = Vec::new();
        // Geometry, nearly noise-free (95 % signal).
        for map in [
            Flat,
            Curved,
            SwissRoll,
            SinusoidalFeatures,
            Permuted { fraction: 0.1 },
            Permuted { fraction: 0.25 },
            Permuted { fraction: 0.5 },
            Permuted { fraction: 1.0 },
            Folded,
            Tiles,
            CurveX,
            CurveSnake,
            Cloud { rank: 3 },
            Cloud { rank: 8 },
            Cloud { rank: 0 },
        ] {
            let dim = if map == SinusoidalFeatures { 256 } else { 128 };
            v.push(Self::new(map, 0.95, Iso, dim));
        }
        // The encoding itself, deterministic (what one shared noise image gives).
        v.push(Self::new(Sinusoidal, 1.0, Iso, 64));
        // The same geometries under noise: 30 % signal.
        for map in [
            SwissRoll,
            Sinusoidal,
            SinusoidalFeatures,
            Permuted { fraction: 0.1 },
            Permuted { fraction: 1.0 },
            Folded,
            Tiles,
            CurveX,
            CurveSnake,
            Cloud { rank: 3 },
            Cloud { rank: 0 },
        ] {
            let dim = match map {
                Sinusoidal => 64,
                SinusoidalFeatures => 256,
                _ => 128,
            };
            v.push(Self::new(map, 0.3, Iso, dim));
        }
        for map in [Permuted { fraction: 1.0 }, Cloud { rank: 0 }] {
            v.push(Self::new(map, 0.3, Aniso, 256));
            v.push(Self::new(map, 0.15, Iso, 256));
        }
        // The initialisation artefact seen through independent noise images: little signal.
        v.push(Self::new(SinusoidalFeatures, 0.05, Iso, 256));
        // Noise-dominated mixtures of an ordered sheet.
        v.push(Self::new(Curved, 0.0, Iso, 256));
        for noise in [Iso, Aniso, Shared] {
            for signal in [0.02, 0.05, 0.1, 0.2, 0.5] {
                v.push(Self::new(Curved, signal, noise, 256));
            }
        }
        v
    }

    /// Generates the control with `seed` (deterministic).
    pub fn generate(&self, seed: u64) -> Result<Control> {
        let mut rng = ChaCha8Rng::seed_from_u64(stable_seed(&self.name(), seed));
        let coords = grid_coords();
        let b = coords.len();
        let d = self.dim;
        let mut mu = map_rows(&self.map, &coords, d, &mut rng);
        normalise(&mut mu, b, d, self.signal);
        let noise_var = (1.0 - self.signal).max(0.0);
        let aniso = (self.noise == NoiseKind::Aniso).then(|| aniso_basis(d, noise_var, &mut rng));
        let mut samples = Vec::with_capacity(CONTROL_SAMPLES);
        for _ in 0..CONTROL_SAMPLES {
            let shift: Vec<f64> = match self.noise {
                NoiseKind::Shared => (0..d)
                    .map(|_| gauss(&mut rng) * (noise_var / (2 * d) as f64).sqrt())
                    .collect(),
                _ => vec![0.0; d],
            };
            let iso_sd = match self.noise {
                NoiseKind::Iso => (noise_var / d as f64).sqrt(),
                NoiseKind::Shared => (noise_var / (2 * d) as f64).sqrt(),
                NoiseKind::Aniso => 0.0,
            };
            let mut x = mu.clone();
            for i in 0..b {
                let row = &mut x[i * d..(i + 1) * d];
                for (r, s) in row.iter_mut().zip(&shift) {
                    *r += s + iso_sd * gauss(&mut rng);
                }
                if let Some((scales, dirs)) = &aniso {
                    for (j, s) in scales.iter().enumerate() {
                        let z = s * gauss(&mut rng);
                        for (r, u) in row.iter_mut().zip(&dirs[j * d..(j + 1) * d]) {
                            *r += z * u;
                        }
                    }
                }
            }
            samples.push(Activations::from_f64(&x, b, d)?);
        }
        Ok(Control {
            spec: *self,
            seed,
            samples,
            coords,
            grid: (GRID_SIDE, GRID_SIDE),
        })
    }
}

/// FNV-1a of the name, mixed with the seed: every variant and seed gets its own stream.
fn stable_seed(name: &str, seed: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        h ^= byte as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Standard normal by Box–Muller.
fn gauss(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
}

/// The 16×16 grid of centres x, y ∈ {1, 3, …, 31}, row iy·16 + ix.
pub fn grid_coords() -> Vec<[f64; 2]> {
    (0..GRID_SIDE * GRID_SIDE)
        .map(|i| {
            [
                1.0 + 2.0 * (i % GRID_SIDE) as f64,
                1.0 + 2.0 * (i / GRID_SIDE) as f64,
            ]
        })
        .collect()
}

/// Centres the rows across conditions and scales their total variance (divisor B − 1) to
/// `signal`.
fn normalise(mu: &mut [f64], b: usize, d: usize, signal: f64) {
    let mut mean = vec![0.0; d];
    for i in 0..b {
        for (m, v) in mean.iter_mut().zip(&mu[i * d..(i + 1) * d]) {
            *m += v / b as f64;
        }
    }
    let mut var = 0.0;
    for i in 0..b {
        for (v, m) in mu[i * d..(i + 1) * d].iter_mut().zip(&mean) {
            *v -= m;
            var += *v * *v;
        }
    }
    var /= (b - 1) as f64;
    let s = if var > 0.0 {
        (signal / var).sqrt()
    } else {
        0.0
    };
    mu.iter_mut().for_each(|v| *v *= s);
}

/// Unit directions (D×D, row j) and standard deviations of a 1/j spectrum with trace `total`.
fn aniso_basis(d: usize, total: f64, rng: &mut ChaCha8Rng) -> (Vec<f64>, Vec<f64>) {
    let h: f64 = (1..=d).map(|j| 1.0 / j as f64).sum();
    let scales = (1..=d).map(|j| (total / (j as f64 * h)).sqrt()).collect();
    let mut dirs = Vec::with_capacity(d * d);
    for _ in 0..d {
        let v: Vec<f64> = (0..d).map(|_| gauss(rng)).collect();
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        dirs.extend(v.iter().map(|x| x / norm));
    }
    (scales, dirs)
}

/// `r` orthonormal vectors in R^d (Gram–Schmidt of Gaussian vectors), row-major r×d.
fn orthonormal(r: usize, d: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<f64>> {
    let mut out: Vec<Vec<f64>> = Vec::with_capacity(r);
    while out.len() < r {
        let mut v: Vec<f64> = (0..d).map(|_| gauss(rng)).collect();
        for u in &out {
            let p: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
            v.iter_mut().zip(u).for_each(|(a, b)| *a -= p * b);
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 1e-8 {
            out.push(v.iter().map(|x| x / norm).collect());
        }
    }
    out
}

/// Random low-frequency sinusoid features of (x, y): the `curved` sheet.
struct Sinusoids {
    w: Vec<[f64; 3]>,
}

impl Sinusoids {
    fn new(d: usize, max_freq: f64, rng: &mut ChaCha8Rng) -> Self {
        let w = (0..d)
            .map(|_| {
                [
                    rng.random_range(-max_freq..max_freq),
                    rng.random_range(-max_freq..max_freq),
                    rng.random_range(0.0..TAU),
                ]
            })
            .collect();
        Self { w }
    }

    fn row(&self, x: f64, y: f64) -> impl Iterator<Item = f64> + '_ {
        self.w
            .iter()
            .map(move |c| (c[0] * x + c[1] * y + c[2]).sin())
    }
}

/// The position encoding of the quick preset: 16 periods from 4 to 256 px, [sin…, cos…].
fn encoding(p: f64) -> Vec<f64> {
    let periods: Vec<f64> = (0..16).map(|k| 4.0 * 64f64.powf(k as f64 / 15.0)).collect();
    let mut out: Vec<f64> = periods.iter().map(|t| (TAU * p / t).sin()).collect();
    out.extend(periods.iter().map(|t| (TAU * p / t).cos()));
    out
}

/// A derangement of a random subset of `round(fraction·n)` indices (identity elsewhere).
fn partial_derangement(n: usize, fraction: f64, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let m = ((fraction * n as f64).round() as usize).min(n);
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(rng);
    let chosen = &idx[..m];
    let mut perm: Vec<usize> = (0..n).collect();
    if m >= 2 {
        // A cyclic shift of a random order moves every chosen index.
        for (t, &i) in chosen.iter().enumerate() {
            perm[i] = chosen[(t + 1) % m];
        }
    }
    perm
}

fn map_rows(map: &ControlMap, coords: &[[f64; 2]], d: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let b = coords.len();
    let side = GRID_SIDE;
    let mut out = Vec::with_capacity(b * d);
    match *map {
        ControlMap::Flat => {
            let a: Vec<f64> = (0..d).map(|_| gauss(rng)).collect();
            let bb: Vec<f64> = (0..d).map(|_| gauss(rng)).collect();
            for c in coords {
                out.extend((0..d).map(|j| c[0] * a[j] + c[1] * bb[j]));
            }
        }
        ControlMap::Curved => {
            let s = Sinusoids::new(d, 0.15, rng);
            for c in coords {
                out.extend(s.row(c[0], c[1]));
            }
        }
        ControlMap::SwissRoll => {
            // Archimedean spiral r = 1 + θ, θ ∈ [0, 2π]; arc length s(θ) = θ + θ²/2.
            let total = TAU + TAU * TAU / 2.0;
            let ds = total / (side - 1) as f64;
            let basis = orthonormal(3, d, rng);
            for c in coords {
                let (ix, iy) = ((c[0] - 1.0) / 2.0, (c[1] - 1.0) / 2.0);
                let s = ix * ds;
                let theta = -1.0 + (1.0 + 2.0 * s).sqrt();
                let r = 1.0 + theta;
                let p = [r * theta.cos(), r * theta.sin(), iy * ds];
                out.extend((0..d).map(|j| (0..3).map(|t| p[t] * basis[t][j]).sum::<f64>()));
            }
        }
        ControlMap::Sinusoidal => {
            for c in coords {
                let mut row = encoding(c[0]);
                row.extend(encoding(c[1]));
                row.resize(d, 0.0);
                out.extend(row);
            }
        }
        ControlMap::SinusoidalFeatures => {
            let w: Vec<f64> = (0..d * 64).map(|_| gauss(rng)).collect();
            let bias: Vec<f64> = (0..d).map(|_| 0.5 * gauss(rng)).collect();
            for c in coords {
                let mut e = encoding(c[0]);
                e.extend(encoding(c[1]));
                out.extend((0..d).map(|j| {
                    let z: f64 = w[j * 64..(j + 1) * 64]
                        .iter()
                        .zip(&e)
                        .map(|(a, b)| a * b)
                        .sum();
                    (1.5 * z / 8.0 + bias[j]).tanh()
                }));
            }
        }
        ControlMap::Permuted { fraction } => {
            let s = Sinusoids::new(d, 0.15, rng);
            let perm = partial_derangement(b, fraction, rng);
            for &p in &perm {
                out.extend(s.row(coords[p][0], coords[p][1]));
            }
        }
        ControlMap::Folded => {
            let s = Sinusoids::new(d - 1, 0.15, rng);
            let rows: Vec<Vec<f64>> = coords
                .iter()
                .map(|c| s.row((c[0] - 16.0).abs(), c[1]).collect())
                .collect();
            // Median distance between grid neighbours along x on one half.
            let mut nd: Vec<f64> = (0..b)
                .filter(|&i| i % side + 1 < side && coords[i][0] > 16.0)
                .map(|i| {
                    rows[i]
                        .iter()
                        .zip(&rows[i + 1])
                        .map(|(a, b)| (a - b).powi(2))
                        .sum::<f64>()
                        .sqrt()
                })
                .collect();
            nd.sort_by(f64::total_cmp);
            let delta = 0.25 * nd[nd.len() / 2];
            for (c, row) in coords.iter().zip(rows) {
                out.extend(row);
                out.push(if c[0] > 16.0 { delta } else { -delta });
            }
        }
        ControlMap::Tiles => {
            let s = Sinusoids::new(d, 0.15, rng);
            let tiles = side / 4;
            let perm = partial_derangement(tiles * tiles, 1.0, rng);
            for c in coords {
                let (ix, iy) = (((c[0] - 1.0) / 2.0) as usize, ((c[1] - 1.0) / 2.0) as usize);
                let t = perm[(iy / 4) * tiles + ix / 4];
                let (px, py) = ((t % tiles) * 4 + ix % 4, (t / tiles) * 4 + iy % 4);
                out.extend(s.row(1.0 + 2.0 * px as f64, 1.0 + 2.0 * py as f64));
            }
        }
        ControlMap::CurveX => {
            let s = Sinusoids::new(d, 0.3, rng);
            for c in coords {
                out.extend(s.row(c[0], 0.0));
            }
        }
        ControlMap::CurveSnake => {
            let w: Vec<[f64; 2]> = (0..d)
                .map(|_| {
                    [
                        rng.random_range(-TAU * 6.0..TAU * 6.0),
                        rng.random_range(0.0..TAU),
                    ]
                })
                .collect();
            for c in coords {
                let (ix, iy) = (((c[0] - 1.0) / 2.0) as usize, ((c[1] - 1.0) / 2.0) as usize);
                let along = if iy % 2 == 0 { ix } else { side - 1 - ix };
                let s = (iy * side + along) as f64 / (b - 1) as f64;
                out.extend(w.iter().map(|p| (p[0] * s + p[1]).sin()));
            }
        }
        ControlMap::Cloud { rank } => {
            if rank == 0 || rank >= d {
                out.extend((0..b * d).map(|_| gauss(rng)));
            } else {
                let basis = orthonormal(rank, d, rng);
                for _ in 0..b {
                    let z: Vec<f64> = (0..rank).map(|_| gauss(rng)).collect();
                    out.extend((0..d).map(|j| (0..rank).map(|t| z[t] * basis[t][j]).sum::<f64>()));
                }
            }
        }
    }
    out
}

/// The decision statistics of one control and its truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlResult {
    /// What was built.
    pub spec: ControlSpec,
    /// Seed.
    pub seed: u64,
    /// Truth label.
    pub truth: Phase,
    /// Measured condition-signal fraction.
    pub condition_signal: f64,
    /// Measured geometry.
    pub geometry: ConditionGeometry,
}

impl ControlResult {
    /// The rule's label with thresholds `t`.
    pub fn classify(&self, t: &RepresentationThresholds) -> Classification {
        classify_statistics(self.condition_signal, &self.geometry, t)
    }
}

/// Generates and measures every variant of [`ControlSpec::suite`] for each seed (the statistics
/// [`analyze_probe`](crate::analyze_probe) computes before its two full metric suites).
pub fn run_suite(seeds: &[u64]) -> Result<Vec<ControlResult>> {
    let mut out = Vec::new();
    for spec in ControlSpec::suite() {
        for &seed in seeds {
            let c = spec.generate(seed)?;
            let (condition_signal, _, _, geometry, _) = decision_statistics(&c.samples, &c.coords)?;
            out.push(ControlResult {
                spec,
                seed,
                truth: spec.truth(),
                condition_signal,
                geometry,
            });
        }
    }
    Ok(out)
}

/// The candidate values of each threshold in [`calibrate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationGrid {
    /// `signal_min` candidates.
    pub signal_min: Vec<f64>,
    /// `order_min` candidates.
    pub order_min: Vec<f64>,
    /// `sheet_dim_max` candidates.
    pub sheet_dim_max: Vec<f64>,
    /// `resolved_share_min` candidates.
    pub resolved_share_min: Vec<f64>,
}

/// `lo/denom, (lo + 1)/denom, …, hi/denom`: exact decimal grid points.
fn steps(lo: u32, hi: u32, denom: u32) -> Vec<f64> {
    (lo..=hi).map(|i| i as f64 / denom as f64).collect()
}

impl Default for CalibrationGrid {
    /// signal 0.005…0.300 by 0.005, order 0.50…1.00 by 0.01, sheet dimension 0.50…6.00 by
    /// 0.05, resolved share 0.00…1.00 by 0.05.
    fn default() -> Self {
        Self {
            signal_min: steps(1, 60, 200),
            order_min: steps(50, 100, 100),
            sheet_dim_max: steps(10, 120, 20),
            resolved_share_min: steps(0, 20, 20),
        }
    }
}

/// The outcome of [`calibrate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// The chosen thresholds.
    pub thresholds: RepresentationThresholds,
    /// Their accuracy on the controls given.
    pub accuracy: f64,
    /// Number of grid points reaching that accuracy.
    pub optimal_points: usize,
    /// For each threshold (signal, order, sheet dimension, share), the smallest and largest
    /// value over the optimal grid points.
    pub optimal_ranges: [(f64, f64); 4],
}

/// Grid search: every combination of the grid's candidates is scored by its accuracy on
/// `results`; among the combinations of maximal accuracy each threshold is set to the middle
/// of its range over them (snapped to the grid). If that point is not itself optimal, the
/// optimal point nearest to it (in grid steps) is taken.
pub fn calibrate(results: &[ControlResult], grid: &CalibrationGrid) -> Calibration {
    let g = [
        &grid.signal_min,
        &grid.order_min,
        &grid.sheet_dim_max,
        &grid.resolved_share_min,
    ];
    let score = |t: &RepresentationThresholds| {
        results
            .iter()
            .filter(|r| phase_of(r.condition_signal, &r.geometry, t) == r.truth)
            .count()
    };
    let thresholds = |idx: [usize; 4]| RepresentationThresholds {
        signal_min: g[0][idx[0]],
        order_min: g[1][idx[1]],
        sheet_dim_max: g[2][idx[2]],
        resolved_share_min: g[3][idx[3]],
    };
    let mut best = 0usize;
    let mut optimal: Vec<[usize; 4]> = Vec::new();
    for a in 0..g[0].len() {
        for b in 0..g[1].len() {
            for c in 0..g[2].len() {
                for d in 0..g[3].len() {
                    let idx = [a, b, c, d];
                    let s = score(&thresholds(idx));
                    if s > best {
                        best = s;
                        optimal.clear();
                    }
                    if s == best {
                        optimal.push(idx);
                    }
                }
            }
        }
    }
    let mut ranges = [(0usize, 0usize); 4];
    for (t, r) in ranges.iter_mut().enumerate() {
        r.0 = optimal.iter().map(|o| o[t]).min().unwrap_or(0);
        r.1 = optimal.iter().map(|o| o[t]).max().unwrap_or(0);
    }
    let mid: [usize; 4] = std::array::from_fn(|t| (ranges[t].0 + ranges[t].1) / 2);
    let chosen = if optimal.contains(&mid) {
        mid
    } else {
        *optimal
            .iter()
            .min_by_key(|o| (0..4).map(|t| o[t].abs_diff(mid[t]).pow(2)).sum::<usize>())
            .unwrap_or(&mid)
    };
    Calibration {
        thresholds: thresholds(chosen),
        accuracy: best as f64 / results.len().max(1) as f64,
        optimal_points: optimal.len(),
        optimal_ranges: std::array::from_fn(|t| (g[t][ranges[t].0], g[t][ranges[t].1])),
    }
}

/// A confusion matrix, truth (rows) × predicted (columns), both in the order A, B, C.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    /// Counts.
    pub counts: [[usize; 3]; 3],
}

fn phase_index(p: Phase) -> usize {
    match p {
        Phase::A => 0,
        Phase::B => 1,
        Phase::C => 2,
    }
}

impl Confusion {
    /// Tallies `(truth, predicted)` pairs.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (Phase, Phase)>) -> Self {
        let mut counts = [[0; 3]; 3];
        for (t, p) in pairs {
            counts[phase_index(t)][phase_index(p)] += 1;
        }
        Self { counts }
    }

    /// The rule's confusion matrix on `results` with thresholds `t`.
    pub fn of(results: &[ControlResult], t: &RepresentationThresholds) -> Self {
        Self::from_pairs(results.iter().map(|r| (r.truth, r.classify(t).phase)))
    }

    /// Fraction on the diagonal.
    pub fn accuracy(&self) -> f64 {
        let total: usize = self.counts.iter().flatten().sum();
        let right: usize = (0..3).map(|i| self.counts[i][i]).sum();
        right as f64 / total.max(1) as f64
    }

    /// As a Markdown table.
    pub fn markdown(&self) -> String {
        let mut s = String::from("| truth \\ predicted | A | B | C |\n| --- | --- | --- | --- |\n");
        for (i, name) in ["A", "B", "C"].iter().enumerate() {
            let c = self.counts[i];
            s += &format!("| {name} | {} | {} | {} |\n", c[0], c[1], c[2]);
        }
        s
    }
}

/// Per family (map and signal level, noise kinds pooled): correct and total counts, in suite
/// order.
pub fn family_accuracy(
    results: &[ControlResult],
    t: &RepresentationThresholds,
) -> Vec<(String, Phase, usize, usize)> {
    let mut out: Vec<(String, Phase, usize, usize)> = Vec::new();
    for r in results {
        let name = r.spec.name();
        let right = usize::from(r.classify(t).phase == r.truth);
        match out.iter_mut().find(|e| e.0 == name) {
            Some(e) => {
                e.2 += right;
                e.3 += 1;
            }
            None => out.push((name, r.truth, right, 1)),
        }
    }
    out
}
