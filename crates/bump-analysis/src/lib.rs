//! `bump-analysis`: the geometry of learned representations, as numbers anyone can reproduce.
//!
//! The paper judged phases A, B and C by eye from UMAP pictures of layer-4 activations. This
//! crate measures them: dimension ([`pca`], participation ratio, TwoNN, Levina–Bickel),
//! decodability (cross-validated ridge and k-NN probes), order (trustworthiness, continuity,
//! k-NN overlap, Spearman ρ, Isomap + Procrustes), factorization (metric-tensor off-diagonal
//! ratio, parallelogram error, principal angles), a percolation simulator, and the
//! representation rule ([`analyze_probe`] on K independent samples per condition, then
//! [`classify_representation`]) with thresholds calibrated on the synthetic [`controls`]
//! (docs/analysis.md).
//!
//! Inputs are plain matrices: [`Activations`] (N×D), true coordinates `&[[f64; 2]]`, and for
//! grid metrics the grid shape `(nx, ny)` with points in row-major order (y outer, x inner).
//! There is no tensor-framework dependency; linear algebra uses faer.
#![warn(missing_docs)]

pub mod controls;
mod dimension;
mod factor;
mod matrix;
mod metrics;
mod neighbors;
mod order;
mod percolation;
mod phase;
mod probe;
mod representation;
mod umap;

pub use dimension::{
    levina_bickel, participation_ratio, pca, twonn, twonn_multiscale, twonn_scaled, Pca,
};
pub use factor::{factorization, FactorizationMetrics};
pub use matrix::Activations;
pub use metrics::{compute_metrics, MetricConfig, RepresentationMetrics};
pub use neighbors::pairwise_distances;
pub use order::{
    continuity, geodesic_distances, isomap_2d, knn_overlap, procrustes_disparity,
    spearman_distances, trustworthiness,
};
pub use percolation::{percolation, PercolationConfig, PercolationResult};
pub use phase::{
    classify, classify_generation, order_rho, Classification, GenerationMix, GenerationThresholds,
    Phase, PhaseThresholds,
};
pub use probe::{knn_r2, ridge_cv_r2, ridge_cv_r2_multi};
pub use representation::{
    analyze_probe, classify_representation, condition_signal_fraction, ConditionGeometry,
    ProbeAnalysis, RepresentationThresholds, ScaleDim,
};
pub use umap::{ols_r2, umap, umap_r2, UmapConfig, UmapReport};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Fewer points than the neighbourhood size (or folds) requires.
    #[error("need more than {k} points for k = {k}, got {n}")]
    TooFewPoints {
        /// Points given.
        n: usize,
        /// Neighbourhood size or folds.
        k: usize,
    },
    /// A NaN or infinite value in the input.
    #[error("non-finite value in {0}")]
    NonFinite(&'static str),
    /// Lengths that must agree do not.
    #[error("length mismatch: {0}")]
    LengthMismatch(String),
    /// The grid shape does not match the number of points.
    #[error("grid {nx}×{ny} has {} points, but {n} were given", nx * ny)]
    GridMismatch {
        /// Grid width.
        nx: usize,
        /// Grid height.
        ny: usize,
        /// Points given.
        n: usize,
    },
    /// The k-NN graph used by Isomap is disconnected.
    #[error("the {k}-NN graph is disconnected; increase k")]
    Disconnected {
        /// Neighbourhood size.
        k: usize,
    },
    /// A linear-algebra routine did not converge.
    #[error("linear algebra failed: {0}")]
    LinearAlgebra(String),
    /// Any other invalid argument.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

pub mod homology;
pub mod torus;
pub use homology::{
    farthest_point_sample, rips_from_distances, rips_persistence, PersistenceDiagram,
    PersistencePair, ProminenceRule, RipsConfig, RipsPersistence, Subsample,
};
pub use torus::{
    clifford_torus, cosine_w1, distances_to_ideals, torus_3d, torus_distance, torus_stats,
    CosineSummary, IdealDistances, TorusDistance, TorusStats, TorusStatsConfig,
};
