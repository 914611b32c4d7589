//! The phase classifiers: one from representation geometry, one from the generation failure mix.
//! Both label sets are kept separate so their agreement can be measured.

use crate::metrics::RepresentationMetrics;
use serde::{Deserialize, Serialize};

/// A training phase of the paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// No 2D structure; the model draws several bumps.
    A,
    /// A disordered 2D manifold; one bump at the wrong place.
    B,
    /// An ordered 2D manifold; one bump at the right place.
    C,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Phase::A => "A",
            Phase::B => "B",
            Phase::C => "C",
        })
    }
}

/// A label and the values that decided it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    /// The phase.
    pub phase: Phase,
    /// The metric values the rule looked at, by name (NaN, written as `null`, when a value
    /// could not be measured).
    #[serde(deserialize_with = "crate::serde_nan::pairs_or_nan")]
    pub decided_by: Vec<(String, f64)>,
    /// The rule that fired, in words.
    pub reason: String,
}

/// Thresholds of the legacy rule [`classify`] (uncalibrated; fitted to one run). Superseded by
/// [`RepresentationThresholds`](crate::RepresentationThresholds), calibrated on the synthetic
/// controls (docs/analysis.md).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PhaseThresholds {
    /// Lowest intrinsic dimension that counts as a 2D manifold (1.5).
    pub id_min: f64,
    /// Highest intrinsic dimension that counts as a 2D manifold (3.0).
    pub id_max: f64,
    /// Trustworthiness below which, outside the 2D band, the representation is unstructured (0.7).
    pub trust_a: f64,
    /// Trustworthiness needed for order (0.9).
    pub trust_c: f64,
    /// Spearman ρ needed for order (0.8).
    pub spearman_c: f64,
    /// Probe R² needed on both axes for order (0.9).
    pub r2_c: f64,
}

impl Default for PhaseThresholds {
    /// Dimension band [1.5, 3.0], T(k) 0.7 / 0.9, ρ 0.8, R² 0.9 (ours, fitted to one run; the
    /// legacy rule).
    fn default() -> Self {
        Self {
            id_min: 1.5,
            id_max: 3.0,
            trust_a: 0.7,
            trust_c: 0.9,
            spearman_c: 0.8,
            r2_c: 0.9,
        }
    }
}

/// The rank correlation the classifiers use, named `order_rho` in records and `decided_by`:
/// the geodesic Spearman ρ ([`RepresentationMetrics::spearman_geodesic`]) when the k-NN graph
/// is connected, else the Euclidean one ([`RepresentationMetrics::spearman_euclidean`]).
pub fn order_rho(m: &RepresentationMetrics) -> f64 {
    if m.spearman_geodesic.is_finite() {
        m.spearman_geodesic
    } else {
        m.spearman_euclidean
    }
}

/// **Legacy rule**, kept while callers switch to
/// [`analyze_probe`](crate::analyze_probe) + [`classify_representation`](crate::classify_representation):
/// its dimension band is checked first, so a sheet folded at the grid's resolution (the 4-px
/// position encoding) and every disordered sheet under noise are called A, and it scores
/// 33 % on the held-out controls (docs/analysis.md).
///
/// Representation phase (ρ is [`order_rho`]: the geodesic Spearman ρ; the intrinsic dimension
/// is the multiscale TwoNN, [`RepresentationMetrics::twonn_multiscale_dim`]):
/// - **C**: intrinsic dimension in [id_min, id_max], T(k) ≥ trust_c, ρ ≥ spearman_c and probe
///   R² ≥ r2_c for x and y — an ordered sheet;
/// - **B**: intrinsic dimension in [id_min, id_max] otherwise — a 2D manifold, disordered;
/// - **A**: intrinsic dimension outside [id_min, id_max] — no 2D structure (T(k) < trust_a is
///   reported alongside).
///
/// The 2D band is checked first: a sheet whose labels are scrambled has T(k) ≈ 0.5 yet is still
/// a 2D manifold, which is phase B, not A.
///
/// `decided_by` lists `twonn_multiscale_dim`, `trustworthiness`, `order_rho`, `r2_x` and `r2_y`
/// (the names of [`RepresentationMetrics`] and of the facade's records; before issue 17 the
/// first and third were `intrinsic_dim` and `spearman`).
pub fn classify(m: &RepresentationMetrics, t: &PhaseThresholds) -> Classification {
    let decided_by = vec![
        ("twonn_multiscale_dim".to_string(), m.twonn_multiscale_dim),
        ("trustworthiness".to_string(), m.trustworthiness),
        ("order_rho".to_string(), order_rho(m)),
        ("r2_x".to_string(), m.r2_x),
        ("r2_y".to_string(), m.r2_y),
    ];
    let rho = order_rho(m);
    let two_d = m.twonn_multiscale_dim >= t.id_min && m.twonn_multiscale_dim <= t.id_max;
    let (phase, reason) = if !two_d {
        (
            Phase::A,
            format!(
                "intrinsic dimension {:.2} outside [{}, {}]{}",
                m.twonn_multiscale_dim,
                t.id_min,
                t.id_max,
                if m.trustworthiness < t.trust_a {
                    format!("; T(k) {:.2} < {}", m.trustworthiness, t.trust_a)
                } else {
                    String::new()
                }
            ),
        )
    } else if m.trustworthiness >= t.trust_c
        && rho >= t.spearman_c
        && m.r2_x >= t.r2_c
        && m.r2_y >= t.r2_c
    {
        (
            Phase::C,
            "2D, trustworthy, rank-ordered and decodable on both axes".to_string(),
        )
    } else {
        (
            Phase::B,
            format!(
                "2D but disordered: T(k) {:.2} (need {}), ρ {:.2} (need {}), R² {:.2}/{:.2} (need {})",
                m.trustworthiness, t.trust_c, rho, t.spearman_c, m.r2_x, m.r2_y, t.r2_c
            ),
        )
    };
    Classification {
        phase,
        decided_by,
        reason,
    }
}

/// The generation failure mix of a batch (fractions of all samples).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GenerationMix {
    /// Correct: one bump at the right place.
    pub accuracy: f64,
    /// Two or more bumps.
    pub multi_bump_rate: f64,
    /// No bump.
    pub empty_rate: f64,
    /// One bump at the wrong place.
    pub single_wrong_rate: f64,
}

/// Thresholds of [`classify_generation`] (ours).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GenerationThresholds {
    /// Accuracy at or above which the phase is C (0.5).
    pub accuracy_c: f64,
}

impl Default for GenerationThresholds {
    /// `accuracy_c` 0.5 (ours: C when most samples are correct).
    fn default() -> Self {
        Self { accuracy_c: 0.5 }
    }
}

/// Generation phase: C when accuracy ≥ accuracy_c; otherwise A when multi-bump and empty images
/// outnumber single wrong bumps, else B.
pub fn classify_generation(m: &GenerationMix, t: &GenerationThresholds) -> Classification {
    let decided_by = vec![
        ("accuracy".to_string(), m.accuracy),
        ("multi_bump_rate".to_string(), m.multi_bump_rate),
        ("empty_rate".to_string(), m.empty_rate),
        ("single_wrong_rate".to_string(), m.single_wrong_rate),
    ];
    let (phase, reason) = if m.accuracy >= t.accuracy_c {
        (
            Phase::C,
            format!("accuracy {:.2} ≥ {}", m.accuracy, t.accuracy_c),
        )
    } else if m.multi_bump_rate + m.empty_rate > m.single_wrong_rate {
        (
            Phase::A,
            "multi-bump and empty images dominate the failures".to_string(),
        )
    } else {
        (
            Phase::B,
            "single bumps at the wrong place dominate the failures".to_string(),
        )
    };
    Classification {
        phase,
        decided_by,
        reason,
    }
}
