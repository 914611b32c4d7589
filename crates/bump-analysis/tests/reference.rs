//! Reference values from scikit-learn, scipy and numpy (scripts/make_fixtures.py →
//! tests/fixtures/reference.json).

use bump_analysis::*;
use serde_json::Value;

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/reference.json")).unwrap()
}

fn rows(v: &Value) -> Vec<Vec<f64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect()
}

fn num(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap()
}

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{what}: {got} vs {want}"
    );
}

fn points(v: &Value) -> Vec<[f64; 2]> {
    rows(v).iter().map(|r| [r[0], r[1]]).collect()
}

#[test]
fn trustworthiness_continuity_and_procrustes_match_the_python_reference() {
    let fx = fixture();
    let coords = Activations::from_rows(&rows(&fx["coords"])).unwrap();
    let acts = Activations::from_rows(&rows(&fx["acts"])).unwrap();
    let n = coords.n();
    let (dc, da) = (pairwise_distances(&coords), pairwise_distances(&acts));
    for case in fx["cases"].as_array().unwrap() {
        let k = case["k"].as_u64().unwrap() as usize;
        let t = trustworthiness(&dc, &da, n, k).unwrap();
        let c = continuity(&dc, &da, n, k).unwrap();
        assert!(
            (t - num(case, "trustworthiness")).abs() < 1e-9,
            "T({k}) {t}"
        );
        assert!((c - num(case, "continuity")).abs() < 1e-9, "C({k}) {c}");
    }
    let d =
        procrustes_disparity(&points(&fx["coords"]), &points(&fx["procrustes_embedding"])).unwrap();
    assert!(
        (d - num(&fx, "procrustes_disparity")).abs() < 1e-9,
        "disparity {d}"
    );
}

#[test]
fn isomap_matches_scikit_learn() {
    let fx = fixture();
    let acts = Activations::from_rows(&rows(&fx["acts"])).unwrap();
    let k = fx["k"].as_u64().unwrap() as usize;
    let geo = geodesic_distances(&acts, k).unwrap();
    let want: Vec<f64> = rows(&fx["isomap_geodesic"]).concat();
    assert_eq!(geo.len(), want.len());
    for (i, (g, w)) in geo.iter().zip(&want).enumerate() {
        close(*g, *w, &format!("geodesic entry {i}"));
    }
    // Same embedding up to the sign of each axis.
    let emb = isomap_2d(&acts, k).unwrap();
    let sk = points(&fx["isomap_embedding"]);
    assert_eq!(emb.len(), sk.len());
    assert!(procrustes_disparity(&sk, &emb).unwrap() < 1e-12);
    for axis in 0..2 {
        let sign = (emb[0][axis] * sk[0][axis]).signum();
        for (a, b) in emb.iter().zip(&sk) {
            close(a[axis] * sign, b[axis], "isomap coordinate");
        }
    }
}

#[test]
fn spearman_overlap_and_knn_r2_match_scipy_and_numpy() {
    let fx = fixture();
    let coords = points(&fx["coords"]);
    let acts = Activations::from_rows(&rows(&fx["acts"])).unwrap();
    let k = fx["k"].as_u64().unwrap() as usize;
    let n = acts.n();
    let truth = pairwise_distances(&Activations::from_rows(&rows(&fx["coords"])).unwrap());
    let dist = pairwise_distances(&acts);
    let (all, local) = spearman_distances(&truth, &dist, n, k).unwrap();
    close(all, num(&fx, "spearman_all"), "Spearman ρ, all pairs");
    close(local, num(&fx, "spearman_local"), "Spearman ρ, local pairs");
    close(
        knn_overlap(&truth, &dist, n, k).unwrap(),
        num(&fx, "knn_overlap"),
        "k-NN overlap",
    );
    let xs: Vec<f64> = coords.iter().map(|c| c[0]).collect();
    let ys: Vec<f64> = coords.iter().map(|c| c[1]).collect();
    close(
        knn_r2(&dist, &xs, k).unwrap(),
        num(&fx, "knn_r2_x"),
        "k-NN R² x",
    );
    close(
        knn_r2(&dist, &ys, k).unwrap(),
        num(&fx, "knn_r2_y"),
        "k-NN R² y",
    );
    // The suite reports the same numbers.
    let m = compute_metrics(&acts, &coords, None, &MetricConfig::default().with_k(k)).unwrap();
    close(m.spearman_euclidean, all, "suite ρ");
    close(m.spearman_local, local, "suite local ρ");
    close(m.knn_r2_x, num(&fx, "knn_r2_x"), "suite k-NN R² x");
    close(
        m.trustworthiness,
        num(&fx["cases"][1], "trustworthiness"),
        "suite T(10)",
    );
    close(
        m.continuity,
        num(&fx["cases"][1], "continuity"),
        "suite C(10)",
    );
    close(m.twonn_dim, num(&fx, "twonn"), "suite TwoNN");
    close(
        m.mle_dim,
        num(&fx, "levina_bickel_10"),
        "suite Levina–Bickel",
    );
}

#[test]
fn dimension_estimators_match_numpy() {
    let fx = fixture();
    let acts = Activations::from_rows(&rows(&fx["acts"])).unwrap();
    close(twonn(&acts).unwrap(), num(&fx, "twonn"), "TwoNN");
    close(
        twonn_multiscale(&acts, 3, 6).unwrap(),
        num(&fx, "twonn_multiscale_3_6"),
        "multiscale TwoNN",
    );
    close(
        levina_bickel(&acts, 10).unwrap(),
        num(&fx, "levina_bickel_10"),
        "Levina–Bickel",
    );
}

#[test]
fn pca_spectrum_matches_numpy_both_routes() {
    let fx = fixture();
    for (data, key) in [("acts", "pca_spectrum"), ("wide", "pca_spectrum_wide")] {
        let a = Activations::from_rows(&rows(&fx[data])).unwrap();
        let want: Vec<f64> = fx[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let p = pca(&a, 3).unwrap();
        assert_eq!(p.spectrum.len(), want.len(), "{data}: rank min(N − 1, D)");
        for (g, w) in p.spectrum.iter().zip(&want) {
            assert!((g - w).abs() < 1e-9 * want[0], "{data}: {g} vs {w}");
        }
        // Projections carry the variances: column variance (divisor N − 1) = eigenvalue.
        let n = a.n();
        for (c, want_c) in want.iter().enumerate().take(p.k) {
            let var = (0..n)
                .map(|r| p.projections[r * p.k + c].powi(2))
                .sum::<f64>()
                / (n - 1) as f64;
            close(var, *want_c, "projection variance");
        }
    }
}
