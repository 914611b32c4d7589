//! Reading back what serde_json writes for NaN: JSON has no NaN, so serde_json writes a NaN
//! `f64` as `null`; these read `null` as NaN (and numbers exactly), so metrics that could not be
//! measured (a geodesic ρ on a disconnected graph, a condition signal from one sample) survive
//! their own JSON.

use serde::{Deserialize, Deserializer};

/// A number, or NaN for `null`.
pub(crate) fn f64_or_nan<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// `[name, value]` pairs whose value may be `null` (NaN).
pub(crate) fn pairs_or_nan<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<(String, f64)>, D::Error> {
    let pairs = Vec::<(String, Option<f64>)>::deserialize(d)?;
    Ok(pairs
        .into_iter()
        .map(|(name, v)| (name, v.unwrap_or(f64::NAN)))
        .collect())
}

#[cfg(test)]
mod tests {
    use crate::{Classification, Phase, RepresentationMetrics};

    #[test]
    fn nan_values_survive_json() {
        let c = Classification {
            phase: Phase::B,
            decided_by: vec![("order".into(), 0.5), ("resolved_share".into(), f64::NAN)],
            reason: "r".into(),
        };
        let text = serde_json::to_string(&c).unwrap();
        assert!(text.contains("[\"resolved_share\",null]"), "{text}");
        let back: Classification = serde_json::from_str(&text).unwrap();
        assert_eq!(back.decided_by[0], ("order".to_string(), 0.5));
        assert!(back.decided_by[1].1.is_nan());
        // A string where a number belongs is still an error.
        assert!(serde_json::from_str::<Classification>(
            r#"{"phase":"A","decided_by":[["x","0.5"]],"reason":""}"#
        )
        .is_err());
        let m: RepresentationMetrics = serde_json::from_value(serde_json::json!({
            "n": 4, "d": 2, "twonn_multiscale_dim": 2.0, "twonn_dim": 2.0, "mle_dim": 2.0,
            "participation_ratio": 1.5, "explained_variance_top": [0.6, 0.4], "r2_x": 0.9,
            "r2_y": 0.9, "r2_x_pcs": 0.9, "r2_y_pcs": 0.9, "knn_r2_x": 0.9, "knn_r2_y": 0.9,
            "trustworthiness": 0.9, "continuity": 0.9, "knn_overlap": 0.5,
            "spearman_euclidean": 0.8, "spearman_geodesic": null, "spearman_local": 0.7,
            "procrustes_disparity": null, "factorization": null
        }))
        .unwrap();
        assert!(m.spearman_geodesic.is_nan() && m.procrustes_disparity.is_nan());
        assert_eq!(m.spearman_euclidean, 0.8);
        let again = serde_json::to_value(&m).unwrap();
        assert!(again["spearman_geodesic"].is_null());
    }
}
