//! The metric suite in one call.

use crate::dimension::{levina_bickel, participation_ratio, pca, twonn, twonn_multiscale};
use crate::factor::{factorization, FactorizationMetrics};
use crate::matrix::{check_coords, Activations};
use crate::neighbors::{coord_distances, pairwise_distances};
use crate::order::{
    classical_mds_2d_pub, continuity, geodesic_distances, knn_overlap, procrustes_disparity,
    spearman_distances, trustworthiness,
};
use crate::probe::{knn_r2, ridge_cv_r2};
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
    /// Ranks n₁ = lo..=hi of the multiscale TwoNN used as `intrinsic_dim` ((3, 6)).
    pub twonn_scales: (usize, usize),
    /// Rank of the difference subspaces for principal angles (3).
    pub factor_rank: usize,
    /// Seed for folds and random rectangles.
    pub seed: u64,
}

impl Default for MetricConfig {
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
    /// Intrinsic dimension used by the classifier: multiscale TwoNN (see
    /// [`twonn_multiscale`](crate::twonn_multiscale)).
    pub intrinsic_dim: f64,
    /// Plain TwoNN (r₂/r₁); unreliable on lattice-sampled points.
    pub twonn_dim: f64,
    /// Levina–Bickel MLE dimension with k neighbours.
    pub mle_dim: f64,
    /// Participation ratio of the PCA spectrum.
    pub participation_ratio: f64,
    /// Explained-variance ratio of the first 10 principal components.
    pub explained_variance_top: Vec<f64>,
    /// Cross-validated ridge-probe R² of x from all features.
    pub r2_x: f64,
    /// Cross-validated ridge-probe R² of y from all features.
    pub r2_y: f64,
    /// Cross-validated ridge-probe R² of x from the top PCs.
    pub r2_x_pcs: f64,
    /// Cross-validated ridge-probe R² of y from the top PCs.
    pub r2_y_pcs: f64,
    /// Leave-one-out k-NN regression R² of x.
    pub knn_r2_x: f64,
    /// Leave-one-out k-NN regression R² of y.
    pub knn_r2_y: f64,
    /// Trustworthiness T(k), true coordinates → activations.
    pub trustworthiness: f64,
    /// Continuity C(k).
    pub continuity: f64,
    /// Mean shared fraction of k nearest neighbours.
    pub knn_overlap: f64,
    /// Spearman ρ of all pairwise Euclidean distances (true centres vs activations). A curved
    /// but ordered sheet saturates well below 1 here.
    pub spearman: f64,
    /// Spearman ρ between true distances and geodesic distances along the activations' k-NN
    /// graph (NaN if the graph is disconnected): order without requiring flatness. The
    /// classifier uses this one when it is finite.
    pub spearman_geodesic: f64,
    /// Spearman ρ over pairs that are k-neighbours in true space.
    pub spearman_local: f64,
    /// Procrustes disparity between the 2D Isomap embedding and the true coordinates (NaN if
    /// the k-NN graph is disconnected).
    pub procrustes_disparity: f64,
    /// Factorization metrics, when a grid shape was given.
    pub factorization: Option<FactorizationMetrics>,
}

/// Runs the whole suite. `grid` = (nx, ny) enables the factorization metrics (row-major order).
pub fn compute_metrics(
    a: &Activations,
    coords: &[[f64; 2]],
    grid: Option<(usize, usize)>,
    cfg: &MetricConfig,
) -> Result<RepresentationMetrics> {
    let n = a.n();
    check_coords(coords, n)?;
    if n <= 2 * cfg.twonn_scales.1.max(1) || n <= cfg.k || n < 2 * cfg.folds {
        return Err(Error::TooFewPoints {
            n,
            k: cfg.k.max(2 * cfg.twonn_scales.1).max(2 * cfg.folds),
        });
    }
    if let Some((nx, ny)) = grid {
        if nx * ny != n {
            return Err(Error::GridMismatch { nx, ny, n });
        }
    }
    let dist = pairwise_distances(a);
    let cdist = coord_distances(coords);
    let p = pca(a, cfg.top_pcs)?;
    let xs: Vec<f64> = coords.iter().map(|c| c[0]).collect();
    let ys: Vec<f64> = coords.iter().map(|c| c[1]).collect();
    let pcs = Activations::from_f64(&p.projections, n, p.k.max(1))
        .or_else(|_| Activations::from_f64(&vec![0.0; n], n, 1))?;
    let (spearman, spearman_local) = spearman_distances(&cdist, &dist, n, cfg.k)?;
    let (procrustes, spearman_geodesic) = match geodesic_distances(a, cfg.k) {
        Ok(geo) => {
            let emb = classical_mds_2d_pub(&geo, n)?;
            (
                procrustes_disparity(coords, &emb)?,
                spearman_distances(&cdist, &geo, n, cfg.k)?.0,
            )
        }
        Err(Error::Disconnected { .. }) => (f64::NAN, f64::NAN),
        Err(e) => return Err(e),
    };
    let factorization = match grid {
        Some(g) if g.0 >= 3 && g.1 >= 3 => Some(factorization(a, g, cfg.factor_rank, cfg.seed)?),
        _ => None,
    };
    Ok(RepresentationMetrics {
        n,
        d: a.d(),
        intrinsic_dim: twonn_multiscale(a, cfg.twonn_scales.0, cfg.twonn_scales.1)?,
        twonn_dim: twonn(a)?,
        mle_dim: levina_bickel(a, cfg.k)?,
        participation_ratio: participation_ratio(&p.spectrum),
        explained_variance_top: p
            .explained_variance_ratio
            .iter()
            .take(10)
            .copied()
            .collect(),
        r2_x: ridge_cv_r2(a, &xs, cfg.folds, cfg.ridge_alpha, cfg.seed)?,
        r2_y: ridge_cv_r2(a, &ys, cfg.folds, cfg.ridge_alpha, cfg.seed)?,
        r2_x_pcs: ridge_cv_r2(&pcs, &xs, cfg.folds, cfg.ridge_alpha, cfg.seed)?,
        r2_y_pcs: ridge_cv_r2(&pcs, &ys, cfg.folds, cfg.ridge_alpha, cfg.seed)?,
        knn_r2_x: knn_r2(&dist, &xs, cfg.k)?,
        knn_r2_y: knn_r2(&dist, &ys, cfg.k)?,
        trustworthiness: trustworthiness(&cdist, &dist, n, cfg.k)?,
        continuity: continuity(&cdist, &dist, n, cfg.k)?,
        knn_overlap: knn_overlap(&cdist, &dist, n, cfg.k)?,
        spearman,
        spearman_geodesic,
        spearman_local,
        procrustes_disparity: procrustes,
        factorization,
    })
}
