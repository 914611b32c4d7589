//! The metric suite in one call.

use crate::dimension::{
    levina_bickel_dim, multiscale_dim, participation_ratio, pca, pca_from_gram, ratio_dim,
};
use crate::factor::{factorization_with_gram, FactorizationMetrics};
use crate::matrix::{check_coords, Activations};
use crate::neighbors::{coord_distances, distances_from_gram, Neighborhood};
use crate::order::{
    check_trust, classical_mds_2d, geodesic_from, overlap_from, procrustes_disparity,
    spearman_from, trust_from,
};
use crate::probe::{knn_r2_from, ridge_cv_r2_multi, ridge_dual};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Settings of [`compute_metrics`] (all ours).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricConfig {
    /// Neighbourhood size for T(k), C(k), k-NN overlap, k-NN R², local ρ and Isomap (10).
    pub k: usize,
    /// Cross-validation folds of the ridge probes (5).
    pub folds: usize,
    /// Ridge penalty relative to the mean kernel diagonal (1e-3).
    pub ridge_alpha: f64,
    /// Principal components for the PC probe (10).
    pub top_pcs: usize,
    /// Ranks n₁ = lo..=hi of the multiscale TwoNN used as `twonn_multiscale_dim` ((3, 6)).
    pub twonn_scales: (usize, usize),
    /// Rank of the difference subspaces for principal angles (3).
    pub factor_rank: usize,
    /// Seed for folds and random rectangles.
    pub seed: u64,
}

impl MetricConfig {
    /// Sets the neighbourhood size k.
    pub fn with_k(mut self, k: usize) -> Self {
        self.k = k;
        self
    }

    /// Sets the cross-validation folds.
    pub fn with_folds(mut self, folds: usize) -> Self {
        self.folds = folds;
        self
    }

    /// Sets the relative ridge penalty.
    pub fn with_ridge_alpha(mut self, alpha: f64) -> Self {
        self.ridge_alpha = alpha;
        self
    }

    /// Sets the number of principal components for the PC probe.
    pub fn with_top_pcs(mut self, top_pcs: usize) -> Self {
        self.top_pcs = top_pcs;
        self
    }

    /// Sets the TwoNN ranks n₁ = lo..=hi averaged into `twonn_multiscale_dim`.
    pub fn with_twonn_scales(mut self, lo: usize, hi: usize) -> Self {
        self.twonn_scales = (lo, hi);
        self
    }

    /// Sets the rank of the difference subspaces for the principal angles.
    pub fn with_factor_rank(mut self, rank: usize) -> Self {
        self.factor_rank = rank;
        self
    }

    /// Sets the seed of the folds and the random rectangles.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks the settings (independent of the data): k ≥ 2 (Levina–Bickel needs two
    /// neighbours), folds ≥ 2, ridge α > 0 and finite, 1 ≤ lo ≤ hi for the TwoNN ranks,
    /// factor rank ≥ 1.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        if self.k < 2 {
            return bad(format!("k must be >= 2, got {}", self.k));
        }
        if self.folds < 2 {
            return bad(format!("folds must be >= 2, got {}", self.folds));
        }
        if !(self.ridge_alpha > 0.0 && self.ridge_alpha.is_finite()) {
            return bad(format!("ridge alpha must be > 0, got {}", self.ridge_alpha));
        }
        let (lo, hi) = self.twonn_scales;
        if lo == 0 || hi < lo {
            return bad(format!("TwoNN ranks need 1 <= lo <= hi, got {lo}..={hi}"));
        }
        if self.factor_rank == 0 {
            return bad("factor rank must be >= 1".into());
        }
        Ok(())
    }
}

impl Default for MetricConfig {
    /// k = 10, 5 folds, ridge α = 1e-3, 10 PCs, TwoNN ranks 3..=6, factor rank 3, seed 0 (all
    /// ours; docs/analysis.md).
    fn default() -> Self {
        Self {
            k: 10,
            folds: 5,
            ridge_alpha: 1e-3,
            top_pcs: 10,
            twonn_scales: (3, 6),
            factor_rank: 3,
            seed: 0,
        }
    }
}

/// Everything measured on one representation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepresentationMetrics {
    /// Points N.
    pub n: usize,
    /// Feature dimension D.
    pub d: usize,
    /// Multiscale TwoNN intrinsic dimension (the mean over n₁ = `twonn_scales` of the
    /// r₂ₙ₁/rₙ₁ estimate; see [`twonn_multiscale`](crate::twonn_multiscale)): the dimension the
    /// legacy [`classify`](crate::classify) uses and the facade's records report. Written as
    /// `intrinsic_dim` before it was renamed (issue 17); that name still reads.
    #[serde(
        alias = "intrinsic_dim",
        deserialize_with = "crate::serde_nan::f64_or_nan"
    )]
    pub twonn_multiscale_dim: f64,
    /// Plain TwoNN (r₂/r₁, Facco et al. 2017); unreliable on lattice-sampled points, where it
    /// reads about twice the multiscale value.
    #[serde(deserialize_with = "crate::serde_nan::f64_or_nan")]
    pub twonn_dim: f64,
    /// Levina–Bickel MLE dimension with k neighbours.
    #[serde(deserialize_with = "crate::serde_nan::f64_or_nan")]
    pub mle_dim: f64,
    /// Participation ratio of the PCA spectrum.
    #[serde(deserialize_with = "crate::serde_nan::f64_or_nan")]
    pub participation_ratio: f64,
    /// Explained-variance ratio of the first 10 principal components.
    pub explained_variance_top: Vec<f64>,
    /// Cross-validated ridge-probe R² of x from all features.
    #[serde(deserialize_with = "crate::serde_nan::f64_or_nan")]
    pub r2_x: f64,
    /// Cross-validated ridge-probe R² of y from all features.
    #[serde(deserialize_with = "crate::serde_nan::f64_or_nan")]
    pub r2_y: f64,
    /// Cross-validated ridge-probe R² of x from the top PCs.
    #[serde(deserialize_with = "crate::serde_nan::f64_or_nan")]
    pub r2_x_pcs: f64,
    /// Cross-validated ridge-probe R² of y from the top PCs.
    #[serde(deserialize_with = "crate::serde_nan::f64_or_nan")]
    pub r2_y_pcs: f64,
    /// Leave-one-out k-NN regression R² of x.
    #[serde(deserialize_with = "crate::serde_nan::f64_or_nan")]
    pub knn_r2_x: f64,
    /// Leave-one-out k-NN regression R² of y.
    #[serde(deserialize_with = "crate::serde_nan::f64_or_nan")]
    pub knn_r2_y: f64,
    /// Trustworthiness T(k), true coordinates → activations.
    #[serde(deserialize_with = "crate::serde_nan::f64_or_nan")]
    pub trustworthiness: f64,
    /// Continuity C(k).
    #[serde(deserialize_with = "crate::serde_nan::f64_or_nan")]
    pub continuity: f64,
    /// Mean shared fraction of k nearest neighbours.
    #[serde(deserialize_with = "crate::serde_nan::f64_or_nan")]
    pub knn_overlap: f64,
    /// Spearman ρ of all pairwise Euclidean distances (true centres vs activations). A curved
    /// but ordered sheet saturates well below 1 here. Written as `spearman` before it was
    /// renamed (issue 17: the records' own ρ is the geodesic one); that name still reads.
    #[serde(alias = "spearman", deserialize_with = "crate::serde_nan::f64_or_nan")]
    pub spearman_euclidean: f64,
    /// Spearman ρ between true distances and geodesic distances along the activations' k-NN
    /// graph (NaN if the graph is disconnected): order without requiring flatness. The
    /// classifier uses this one when it is finite.
    #[serde(deserialize_with = "crate::serde_nan::f64_or_nan")]
    pub spearman_geodesic: f64,
    /// Spearman ρ over pairs that are k-neighbours in true space.
    #[serde(deserialize_with = "crate::serde_nan::f64_or_nan")]
    pub spearman_local: f64,
    /// Procrustes disparity between the 2D Isomap embedding and the true coordinates (NaN if
    /// the k-NN graph is disconnected).
    #[serde(deserialize_with = "crate::serde_nan::f64_or_nan")]
    pub procrustes_disparity: f64,
    /// Factorization metrics, when a grid shape was given.
    pub factorization: Option<FactorizationMetrics>,
}

/// Runs the whole suite. `grid` = (nx, ny) enables the factorization metrics (point (ix, iy)
/// is row iy·nx + ix); grids smaller than 3×3 skip them.
///
/// The D-dimensional data are touched once, for the centred N×N Gram matrix; distances, PCA,
/// the kernel ridge probes and the principal angles all derive from it, and every point's
/// neighbours are sorted once per space.
///
/// # Shapes
/// `a`: N×D, `coords`: N.
pub fn compute_metrics(
    a: &Activations,
    coords: &[[f64; 2]],
    grid: Option<(usize, usize)>,
    cfg: &MetricConfig,
) -> Result<RepresentationMetrics> {
    cfg.validate()?;
    let n = a.n();
    check_coords(coords, n)?;
    let need = cfg.k.max(2 * cfg.twonn_scales.1).max(2 * cfg.folds - 1);
    if n <= need {
        return Err(Error::TooFewPoints { n, k: need });
    }
    check_trust(n, cfg.k)?;
    if let Some(g) = grid {
        if g.0 * g.1 != n {
            return Err(Error::GridMismatch {
                nx: g.0,
                ny: g.1,
                n,
            });
        }
    }
    let gram = a.gram();
    let acts = Neighborhood::new(distances_from_gram(&gram), n);
    let truth = Neighborhood::new(coord_distances(coords), n);
    let p = if a.d() > n {
        pca_from_gram(&gram, a.d(), cfg.top_pcs)?
    } else {
        pca(a, cfg.top_pcs)?
    };
    let xs: Vec<f64> = coords.iter().map(|c| c[0]).collect();
    let ys: Vec<f64> = coords.iter().map(|c| c[1]).collect();
    let r2 = ridge_dual(&gram, &[&xs, &ys], cfg.folds, cfg.ridge_alpha, cfg.seed)?;
    let r2_pcs = if p.k > 0 {
        let pcs = Activations::from_f64(&p.projections, n, p.k)?;
        ridge_cv_r2_multi(&pcs, &[&xs, &ys], cfg.folds, cfg.ridge_alpha, cfg.seed)?
    } else {
        vec![0.0, 0.0]
    };
    let (spearman, spearman_local) = spearman_from(&truth, &acts.dist, cfg.k);
    let (procrustes, spearman_geodesic) = match geodesic_from(&acts, cfg.k) {
        Ok(geo) => {
            let emb = classical_mds_2d(&geo, n)?;
            (
                procrustes_disparity(coords, &emb)?,
                spearman_from(&truth, &geo, cfg.k).0,
            )
        }
        Err(Error::Disconnected { .. }) => (f64::NAN, f64::NAN),
        Err(e) => return Err(e),
    };
    let factorization = match grid {
        Some(g) if g.0 >= 3 && g.1 >= 3 => Some(factorization_with_gram(
            a,
            &gram,
            g,
            cfg.factor_rank,
            cfg.seed,
        )?),
        _ => None,
    };
    Ok(RepresentationMetrics {
        n,
        d: a.d(),
        twonn_multiscale_dim: multiscale_dim(&acts, cfg.twonn_scales.0, cfg.twonn_scales.1),
        twonn_dim: ratio_dim(&acts, 1),
        mle_dim: levina_bickel_dim(&acts, cfg.k),
        participation_ratio: participation_ratio(&p.spectrum),
        explained_variance_top: p
            .explained_variance_ratio
            .iter()
            .take(10)
            .copied()
            .collect(),
        r2_x: r2[0],
        r2_y: r2[1],
        r2_x_pcs: r2_pcs[0],
        r2_y_pcs: r2_pcs[1],
        knn_r2_x: knn_r2_from(&acts, &xs, cfg.k),
        knn_r2_y: knn_r2_from(&acts, &ys, cfg.k),
        trustworthiness: trust_from(&truth, &acts, cfg.k),
        continuity: trust_from(&acts, &truth, cfg.k),
        knn_overlap: overlap_from(&truth, &acts, cfg.k),
        spearman_euclidean: spearman,
        spearman_geodesic,
        spearman_local,
        procrustes_disparity: procrustes,
        factorization,
    })
}
