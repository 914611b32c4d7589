//! The paper's own instrument: a 3D UMAP of layer-4 activations and the ordinary-least-squares
//! R² from the UMAP coordinates to the true x and to the true y.
//!
//! # Why an implementation of our own
//!
//! The Rust crates that offer UMAP do not fit a per-checkpoint, reproducible measurement:
//! `umap-rs` 0.4.5 and `annembed` 0.1.6 draw their negative samples from `rand::rng()` (a
//! thread-local generator seeded by the operating system), so no seed reproduces a run; `umap-rs`
//! also leaves the k-NN graph and the initialisation to the caller and runs Hogwild-parallel f32
//! SGD; `annembed` uses an approximate HNSW graph and its own loss; `fast-umap` trains through
//! `burn` on a GPU by default; `petal-decomposition` has PCA/ICA but no UMAP. The algorithm itself
//! is small, so it is written here, following McInnes, Healy & Melville (2018) and the choices of
//! umap-learn 0.5.7 (the authors' version), with every step sequential and seeded: the same seed
//! gives the same bits on every run, whatever the thread count (faer is called with `Par::Seq`).
//!
//! # The pipeline ([`umap`])
//!
//! 1. **Exact k-NN** (umap-learn also uses exact distances below 4,096 points): Euclidean
//!    distances from the centred Gram matrix; each point's list is itself (distance 0) followed
//!    by its `n_neighbors − 1` nearest others, ties broken by index.
//! 2. **Fuzzy simplicial set**: ρᵢ the distance to the first non-zero neighbour (interpolated
//!    for a fractional `local_connectivity`), σᵢ by a 64-step bisection so that
//!    Σⱼ exp(−(dᵢⱼ − ρᵢ)/σᵢ) = log₂ k (tolerance 1e-5, floor 1e-3 × the mean k-NN distance),
//!    memberships wᵢⱼ = exp(−(dᵢⱼ − ρᵢ)/σᵢ), symmetrised by the fuzzy union w + wᵀ − w∘wᵀ.
//!    Edges below max(w)/n_epochs are dropped, as umap-learn does.
//! 3. **Spectral initialisation**, umap-learn's default: the eigenvectors 2…(n_components + 1) of
//!    the normalised graph Laplacian I − D^{−1/2} W D^{−1/2}, from a dense symmetric
//!    eigendecomposition (exact, where umap-learn runs ARPACK to 1e-4). It is the
//!    initialisation the authors' pictures came from, and it needs no randomness. A disconnected
//!    graph has no single spectral layout (umap-learn then lays out each component and places
//!    them on the corners of a simplex); here it falls back to the top principal components of
//!    the activations (umap-learn's `init="pca"`). Coordinates are scaled to a largest
//!    magnitude of 10, jittered by ±1e-4 (umap-learn: normal noise with σ = 1e-4) and each axis
//!    is rescaled to [0, 10].
//! 4. **Curve**: a, b of 1/(1 + a d^{2b}) fitted by least squares to the offset exponential
//!    (1 below `min_dist`, exp(−(d − min_dist)/spread) above) on 300 points of [0, 3·spread].
//! 5. **SGD** over `n_epochs` (default 500 below 10,001 points, else 200): each edge is sampled
//!    every max(w)/w epochs, attracts its ends with gradient −2ab d^{2(b−1)}/(1 + a d^{2b}) and
//!    pushes its head away from `negative_sample_rate` uniformly drawn points with
//!    2γb/((0.001 + d²)(1 + a d^{2b})); every gradient component is clipped to ±4, and the
//!    learning rate falls linearly from `learning_rate` to 0.
//!
//! Differences from umap-learn (none changes the verdicts, see docs/analysis.md): f64 instead of
//! f32; one ChaCha8 stream for the jitter and the negative samples (umap-learn: a Tausworthe
//! state per vertex); uniform instead of normal jitter; an exact instead of an iterative
//! eigensolver; the PCA fallback for disconnected graphs.

mod graph;
mod init;
mod layout;
mod ols;

use crate::matrix::{check_coords, Activations};
use crate::{Error, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use ols::ols_r2;

/// Settings of [`umap`]. `Default` is the protocol of the paper spec's \[D\]: 15 neighbours,
/// `min_dist` 0.1, Euclidean metric (the only one), 3 components; the rest are umap-learn
/// 0.5.7's defaults, and the seed is ours.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UmapConfig {
    /// Neighbourhood size k, the point itself included (15). 2 ≤ k < N.
    pub n_neighbors: usize,
    /// Smallest distance between embedded points (0.1). 0 ≤ `min_dist` ≤ `spread`.
    pub min_dist: f64,
    /// Scale of the embedded points (1.0). Finite and > 0.
    pub spread: f64,
    /// Embedding dimension (3). 1 ≤ `n_components` < N.
    pub n_components: usize,
    /// SGD epochs; `None` picks umap-learn's 500 for N ≤ 10,000 and 200 above. ≥ 1 when set.
    pub n_epochs: Option<usize>,
    /// Initial SGD learning rate α (1.0), decayed linearly to 0. Finite and > 0.
    pub learning_rate: f64,
    /// Negative samples per positive sample (5).
    pub negative_sample_rate: usize,
    /// Weight γ of the negative samples (1.0). Finite and ≥ 0.
    pub repulsion_strength: f64,
    /// Neighbours assumed connected at full strength (1.0). 0 ≤ value ≤ `n_neighbors` − 1.
    pub local_connectivity: f64,
    /// Seed of the initial jitter and of the negative sampling (0).
    pub seed: u64,
}

impl Default for UmapConfig {
    /// 15 neighbours, `min_dist` 0.1, 3 components (the paper spec's protocol \[D\]); spread 1,
    /// epochs by N, learning rate 1, 5 negative samples, repulsion 1, local connectivity 1
    /// (umap-learn 0.5.7's defaults); seed 0 (ours).
    fn default() -> Self {
        Self {
            n_neighbors: 15,
            min_dist: 0.1,
            spread: 1.0,
            n_components: 3,
            n_epochs: None,
            learning_rate: 1.0,
            negative_sample_rate: 5,
            repulsion_strength: 1.0,
            local_connectivity: 1.0,
            seed: 0,
        }
    }
}

/// An [`Error::InvalidArgument`] that names the field, its value and the allowed range.
fn out_of_range(field: &str, value: impl std::fmt::Display, allowed: &str) -> Error {
    Error::InvalidArgument(format!(
        "UmapConfig.{field} = {value} is out of range: allowed {allowed}"
    ))
}

impl UmapConfig {
    /// Sets `n_neighbors`.
    pub fn with_n_neighbors(mut self, v: usize) -> Self {
        self.n_neighbors = v;
        self
    }
    /// Sets `min_dist`.
    pub fn with_min_dist(mut self, v: f64) -> Self {
        self.min_dist = v;
        self
    }
    /// Sets `spread`.
    pub fn with_spread(mut self, v: f64) -> Self {
        self.spread = v;
        self
    }
    /// Sets `n_components`.
    pub fn with_n_components(mut self, v: usize) -> Self {
        self.n_components = v;
        self
    }
    /// Sets `n_epochs` (`None`: umap-learn's default for the data size).
    pub fn with_n_epochs(mut self, v: Option<usize>) -> Self {
        self.n_epochs = v;
        self
    }
    /// Sets `learning_rate`.
    pub fn with_learning_rate(mut self, v: f64) -> Self {
        self.learning_rate = v;
        self
    }
    /// Sets `negative_sample_rate`.
    pub fn with_negative_sample_rate(mut self, v: usize) -> Self {
        self.negative_sample_rate = v;
        self
    }
    /// Sets `repulsion_strength`.
    pub fn with_repulsion_strength(mut self, v: f64) -> Self {
        self.repulsion_strength = v;
        self
    }
    /// Sets `local_connectivity`.
    pub fn with_local_connectivity(mut self, v: f64) -> Self {
        self.local_connectivity = v;
        self
    }
    /// Sets `seed`.
    pub fn with_seed(mut self, v: u64) -> Self {
        self.seed = v;
        self
    }

    /// Checks every field that does not depend on the data; the error names the field, its
    /// value and the allowed range ([`Error::InvalidArgument`]).
    pub fn validate(&self) -> Result<()> {
        if self.n_neighbors < 2 {
            return Err(out_of_range(
                "n_neighbors",
                self.n_neighbors,
                "2 ≤ n_neighbors < N",
            ));
        }
        if !(self.spread.is_finite() && self.spread > 0.0) {
            return Err(out_of_range("spread", self.spread, "finite and > 0"));
        }
        if !(self.min_dist.is_finite() && self.min_dist >= 0.0 && self.min_dist <= self.spread) {
            return Err(out_of_range(
                "min_dist",
                self.min_dist,
                &format!("0 ≤ min_dist ≤ spread = {}", self.spread),
            ));
        }
        if self.n_components < 1 {
            return Err(out_of_range(
                "n_components",
                self.n_components,
                "1 ≤ n_components < N",
            ));
        }
        if self.n_epochs == Some(0) {
            return Err(out_of_range("n_epochs", 0, "≥ 1, or None for the default"));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(out_of_range(
                "learning_rate",
                self.learning_rate,
                "finite and > 0",
            ));
        }
        if !(self.repulsion_strength.is_finite() && self.repulsion_strength >= 0.0) {
            return Err(out_of_range(
                "repulsion_strength",
                self.repulsion_strength,
                "finite and ≥ 0",
            ));
        }
        let max_lc = (self.n_neighbors - 1) as f64;
        if !(self.local_connectivity.is_finite()
            && (0.0..=max_lc).contains(&self.local_connectivity))
        {
            return Err(out_of_range(
                "local_connectivity",
                self.local_connectivity,
                &format!("0 ≤ local_connectivity ≤ n_neighbors − 1 = {max_lc}"),
            ));
        }
        Ok(())
    }

    /// [`validate`](Self::validate), plus the bounds that depend on the number of points `n`:
    /// `n_neighbors < n` and `n_components < n`.
    pub fn validate_for(&self, n: usize) -> Result<()> {
        self.validate()?;
        if self.n_neighbors >= n {
            return Err(out_of_range(
                "n_neighbors",
                self.n_neighbors,
                &format!("2 ≤ n_neighbors < N = {n} points"),
            ));
        }
        if self.n_components >= n {
            return Err(out_of_range(
                "n_components",
                self.n_components,
                &format!("1 ≤ n_components < N = {n} points"),
            ));
        }
        Ok(())
    }

    /// The curve parameters (a, b) of 1/(1 + a d^{2b}) fitted to `min_dist` and `spread`
    /// (umap-learn's `find_ab_params`; (1.577, 0.895) for the defaults).
    pub fn ab_params(&self) -> Result<(f64, f64)> {
        self.validate()?;
        layout::fit_ab(self.min_dist, self.spread)
    }
}

/// UMAP of the rows of `a`: N × `n_components` coordinates, one `Vec` per point.
///
/// Deterministic: the same activations and configuration give the same bits on every run and
/// at any thread count (everything runs sequentially; the seed drives the jitter and the
/// negative sampling). See the module documentation for the steps and the differences from
/// umap-learn.
///
/// # Shapes
/// `a`: N×D → N rows of `cfg.n_components`.
///
/// # Errors
/// [`Error::InvalidArgument`] for a configuration out of range (including `n_neighbors ≥ N`),
/// [`Error::LinearAlgebra`] if the eigendecomposition fails.
pub fn umap(a: &Activations, cfg: &UmapConfig) -> Result<Vec<Vec<f64>>> {
    let n = a.n();
    cfg.validate_for(n)?;
    let (a_par, b_par) = layout::fit_ab(cfg.min_dist, cfg.spread)?;
    let default_epochs = if n <= 10_000 { 500 } else { 200 };
    let n_epochs = cfg.n_epochs.unwrap_or(default_epochs);

    let gram = graph::centred_gram(a);
    let knn = graph::exact_knn(a, &gram, cfg.n_neighbors);
    let (sigmas, rhos) = graph::smooth_knn(&knn, cfg.local_connectivity);
    let mut edges = graph::fuzzy_union(&knn, &sigmas, &rhos);
    // umap-learn prunes with the default epochs when asked for 10 or fewer.
    let prune_epochs = if n_epochs > 10 {
        n_epochs
    } else {
        default_epochs
    };
    graph::prune(&mut edges, prune_epochs);

    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let init = init::initial_layout(n, &edges, &gram, cfg.n_components)?;
    let mut emb = init::scale_and_jitter(init, n, cfg.n_components, &mut rng);
    layout::optimize(
        &mut emb,
        n,
        cfg.n_components,
        &edges,
        &layout::Sgd {
            a: a_par,
            b: b_par,
            gamma: cfg.repulsion_strength,
            alpha: cfg.learning_rate,
            negative_sample_rate: cfg.negative_sample_rate,
            n_epochs,
        },
        &mut rng,
    );
    Ok(emb
        .chunks_exact(cfg.n_components)
        .map(<[f64]>::to_vec)
        .collect())
}

/// A UMAP embedding and the in-sample OLS R² from all its coordinates to true x and true y.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UmapReport {
    /// N × `n_components` coordinates.
    pub embedding: Vec<Vec<f64>>,
    /// R² of the linear regression (with intercept) from the embedding to true x.
    pub r2_x: f64,
    /// R² of the linear regression (with intercept) from the embedding to true y.
    pub r2_y: f64,
}

/// The paper's measurement: [`umap`] of `a`, then [`ols_r2`] from the embedding to the first and
/// to the second true coordinate.
///
/// # Shapes
/// `a`: N×D, `coords`: N → `embedding`: N × `cfg.n_components`.
///
/// # Errors
/// Those of [`umap`] and [`ols_r2`]; [`Error::LengthMismatch`] / [`Error::NonFinite`] for bad
/// `coords`.
pub fn umap_r2(a: &Activations, coords: &[[f64; 2]], cfg: &UmapConfig) -> Result<UmapReport> {
    check_coords(coords, a.n())?;
    let embedding = umap(a, cfg)?;
    let x: Vec<f64> = coords.iter().map(|c| c[0]).collect();
    let y: Vec<f64> = coords.iter().map(|c| c[1]).collect();
    let r2_x = ols_r2(&embedding, &x)?;
    let r2_y = ols_r2(&embedding, &y)?;
    Ok(UmapReport {
        embedding,
        r2_x,
        r2_y,
    })
}

#[cfg(test)]
mod tests {
    //! The pieces against umap-learn 0.5.7's own functions (tests/fixtures/umap.json, written by
    //! scripts/make_umap_fixtures.py): the fitted curve, and σ, ρ and the symmetrised graph on
    //! exact distances.
    use super::*;
    use serde_json::Value;

    fn fixture() -> Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/umap.json");
        let text = std::fs::read_to_string(path).expect("tests/fixtures/umap.json");
        serde_json::from_str(&text).expect("valid JSON")
    }

    fn floats(v: &Value) -> Vec<f64> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|x| x.as_f64().expect("number"))
            .collect()
    }

    fn activations(f: &Value, key: &str) -> Activations {
        let n = f["n"].as_u64().expect("n") as usize;
        let d = f["d"].as_u64().expect("d") as usize;
        Activations::from_f64(&floats(&f["activations"][key]), n, d).expect("activations")
    }

    #[test]
    fn curve_matches_find_ab_params() {
        // scipy's curve_fit stops at xtol = 1.5e-8 of its scaled step; the two minima agree to
        // 2.4e-6 relative at worst (min_dist 0.99).
        let f = fixture();
        for case in f["ab"].as_array().expect("ab") {
            let (md, sp) = (
                case["min_dist"].as_f64().unwrap(),
                case["spread"].as_f64().unwrap(),
            );
            let (a, b) = layout::fit_ab(md, sp).unwrap();
            let (wa, wb) = (case["a"].as_f64().unwrap(), case["b"].as_f64().unwrap());
            assert!(
                (a - wa).abs() < 1e-5 * wa && (b - wb).abs() < 1e-5 * wb,
                "min_dist {md}, spread {sp}: ours ({a}, {b}), umap-learn ({wa}, {wb})"
            );
        }
    }

    #[test]
    fn sigma_rho_and_graph_match_fuzzy_simplicial_set() {
        let f = fixture();
        for case in f["fuzzy"].as_array().expect("fuzzy") {
            let key = case["activations"].as_str().unwrap();
            let a = activations(&f, key);
            let gram = graph::centred_gram(&a);
            let knn = graph::exact_knn(&a, &gram, 15);
            let (sigmas, rhos) = graph::smooth_knn(&knn, 1.0);
            let edges = graph::fuzzy_union(&knn, &sigmas, &rhos);
            // umap-learn keeps σ, ρ and the memberships in f32 and stops the σ bisection when
            // the kernel sum is within 1e-5 of log₂ k, so σ agrees to about 1e-5 relative.
            let close = |x: f64, y: f64, what: &str, i: usize| {
                assert!(
                    (x - y).abs() <= 1e-4 * y.abs(),
                    "{key} {what}[{i}]: {x} vs {y}"
                );
            };
            for (i, w) in floats(&case["rhos"]).into_iter().enumerate() {
                close(rhos[i], w, "rho", i);
            }
            for (i, w) in floats(&case["sigmas"]).into_iter().enumerate() {
                close(sigmas[i], w, "sigma", i);
            }
            let mut sums = vec![0.0; a.n()];
            for (&h, &w) in edges.head.iter().zip(&edges.weight) {
                sums[h] += w;
            }
            for (i, w) in floats(&case["row_sums"]).into_iter().enumerate() {
                close(sums[i], w, "row sum", i);
            }
            assert_eq!(
                edges.weight.len() as u64,
                case["edges"].as_u64().unwrap(),
                "{key}"
            );
        }
    }

    #[test]
    fn spectral_layout_is_used_on_a_connected_graph_and_pca_otherwise() {
        // Two far-apart blobs with 5 neighbours: no edge joins them, so the PCA fallback lays
        // them out, and the blobs stay apart.
        let mut rows = Vec::new();
        for i in 0..40 {
            let t = i as f64 * 0.37;
            let off = if i < 20 { 0.0 } else { 100.0 };
            rows.push(vec![off + t.sin(), t.cos(), (2.0 * t).sin()]);
        }
        let a = Activations::from_rows(&rows).unwrap();
        let gram = graph::centred_gram(&a);
        let knn = graph::exact_knn(&a, &gram, 5);
        let (s, r) = graph::smooth_knn(&knn, 1.0);
        let edges = graph::fuzzy_union(&knn, &s, &r);
        assert!(!init::connected_for_test(40, &edges));
        let init = init::initial_layout(40, &edges, &gram, 2).unwrap();
        // PC 1 is the blob axis: its sign separates the blobs.
        assert!((0..20).all(|i| init[i * 2] * init[39 * 2] < 0.0));
    }
}
