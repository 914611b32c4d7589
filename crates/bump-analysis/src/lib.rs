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
//!
//! One name per metric: [`RepresentationMetrics::twonn_multiscale_dim`] (multiscale TwoNN),
//! `twonn_dim` (plain TwoNN) and `mle_dim` (Levina–Bickel) are three estimators; the Spearman ρ
//! of Euclidean distances is `spearman_euclidean`, along the k-NN graph `spearman_geodesic`, and
//! the classifiers' choice between them [`order_rho`]. Older JSON (`intrinsic_dim`,
//! `spearman`) still reads.
//!
//! # Example
//!
//! An ordered, curved 2D sheet in 6 dimensions, read K = 4 times per condition with a little
//! jitter: its metrics, and the representation rule's label (C, ordered). The same points given
//! to the wrong conditions are a sheet out of order (B).
//!
//! ```
//! use bump_analysis::{
//!     analyze_probe, classify_representation, compute_metrics, Activations, MetricConfig, Phase,
//!     RepresentationThresholds,
//! };
//!
//! # fn main() -> bump_analysis::Result<()> {
//! let (nx, ny) = (10, 10);
//! // Conditions on a grid, row-major (y outer, x inner).
//! let coords: Vec<[f64; 2]> =
//!     (0..ny).flat_map(|y| (0..nx).map(move |x| [x as f64, y as f64])).collect();
//! let sheet = |[x, y]: [f64; 2], k: usize| -> Vec<f64> {
//!     let jitter = |i: usize| 0.01 * ((k * 7 + i * 13) as f64 + 3.1 * x + 1.7 * y).sin();
//!     vec![
//!         x + jitter(0),
//!         y + jitter(1),
//!         (x / 3.0).sin() + jitter(2),
//!         (y / 3.0).cos() + jitter(3),
//!         0.01 * x * y + jitter(4),
//!         jitter(5),
//!     ]
//! };
//! let read = |assign: &dyn Fn(usize) -> usize| -> bump_analysis::Result<Vec<Activations>> {
//!     (0..4)
//!         .map(|k| {
//!             let rows: Vec<Vec<f64>> =
//!                 (0..coords.len()).map(|i| sheet(coords[assign(i)], k)).collect();
//!             Activations::from_rows(&rows)
//!         })
//!         .collect()
//! };
//! let cfg = MetricConfig::default(); // k = 10, 5 folds, TwoNN ranks 3..=6
//!
//! let ordered = read(&|i| i)?;
//! let m = compute_metrics(&ordered[0], &coords, Some((nx, ny)), &cfg)?;
//! assert!(m.trustworthiness > 0.95 && m.spearman_geodesic > 0.95, "{m:?}");
//! assert!((m.twonn_multiscale_dim - 2.0).abs() < 0.5, "{}", m.twonn_multiscale_dim);
//! assert!(m.r2_x > 0.95 && m.r2_y > 0.95);
//!
//! let rule = RepresentationThresholds::default(); // calibrated on the synthetic controls
//! let label = classify_representation(&analyze_probe(&ordered, &coords, Some((nx, ny)), &cfg)?, &rule);
//! assert_eq!(label.phase, Phase::C, "{}", label.reason);
//!
//! // Condition i shown the point of condition 37·i mod 100: the same sheet, out of order.
//! let scrambled = read(&|i| (37 * i) % 100)?;
//! let label = classify_representation(&analyze_probe(&scrambled, &coords, Some((nx, ny)), &cfg)?, &rule);
//! assert_eq!(label.phase, Phase::B, "{}", label.reason);
//! println!("{}: {:?}", label.reason, label.decided_by);
//! # Ok(())
//! # }
//! ```
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
mod serde_nan;
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
