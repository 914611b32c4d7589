//! UMAP + OLS R², the paper's instrument: verdicts against umap-learn 0.5.7 on the fixture
//! cases (tests/fixtures/umap.json, from scripts/make_umap_fixtures.py), known answers of
//! `ols_r2`, configuration checks and determinism.

use bump_analysis::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

/// Verdict bands, chosen from umap-learn's own numbers on the fixture (8 seeds per case):
/// ordered R²_x, R²_y ∈ [0.986, 0.992]; shuffled ≤ 0.041; noise-dominated ≤ 0.20.
/// "Ordered" is both R² ≥ 0.9 (the paper spec's phase-C line); "unordered" is both R² ≤ 0.3.
const ORDERED_MIN: f64 = 0.9;
const UNORDERED_MAX: f64 = 0.3;

#[derive(Debug, PartialEq)]
enum Verdict {
    Ordered,
    Unordered,
    Between,
}

fn verdict(r2_x: f64, r2_y: f64) -> Verdict {
    if r2_x >= ORDERED_MIN && r2_y >= ORDERED_MIN {
        Verdict::Ordered
    } else if r2_x <= UNORDERED_MAX && r2_y <= UNORDERED_MAX {
        Verdict::Unordered
    } else {
        Verdict::Between
    }
}

fn fixture() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/umap.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

#[test]
fn verdicts_agree_with_umap_learn_on_ordered_shuffled_and_noise() {
    let f = fixture();
    let (n, d) = (
        f["n"].as_u64().unwrap() as usize,
        f["d"].as_u64().unwrap() as usize,
    );
    let want = [
        ("ordered", Verdict::Ordered),
        ("shuffled", Verdict::Unordered),
        ("noise", Verdict::Unordered),
    ];
    let cases = f["cases"].as_array().unwrap();
    assert_eq!(cases.len(), want.len());
    for (case, (name, expected)) in cases.iter().zip(want) {
        assert_eq!(case["name"].as_str().unwrap(), name);
        let key = case["activations"].as_str().unwrap();
        let a = Activations::from_f64(&floats(&f["activations"][key]), n, d).unwrap();
        let coords: Vec<[f64; 2]> = case["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let p = floats(p);
                [p[0], p[1]]
            })
            .collect();
        // umap-learn's own runs sit in the band (so the bands are its verdicts).
        for run in case["umap_learn"].as_array().unwrap() {
            let (rx, ry) = (run["r2_x"].as_f64().unwrap(), run["r2_y"].as_f64().unwrap());
            assert_eq!(verdict(rx, ry), expected, "{name}: umap-learn {run}");
        }
        // Ours, on the same activations, for several seeds.
        for seed in 0..4 {
            let cfg = UmapConfig::default().with_seed(seed);
            let r = umap_r2(&a, &coords, &cfg).unwrap();
            println!(
                "{name:9} seed {seed}: ours R²_x = {:.4}, R²_y = {:.4}",
                r.r2_x, r.r2_y
            );
            assert_eq!(
                verdict(r.r2_x, r.r2_y),
                expected,
                "{name} seed {seed}: {r:?}"
            );
            assert_eq!(r.embedding.len(), n);
            assert!(r.embedding.iter().all(|p| p.len() == 3));
        }
    }
}

fn random_points(n: usize, d: usize, seed: u64) -> Activations {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let v: Vec<f64> = (0..n * d).map(|_| rng.random_range(-1.0..1.0)).collect();
    Activations::from_f64(&v, n, d).unwrap()
}

#[test]
fn same_seed_same_bits_other_seed_other_embedding() {
    let a = random_points(120, 16, 3);
    let cfg = UmapConfig::default().with_n_epochs(Some(100));
    let first = umap(&a, &cfg).unwrap();
    // Our code never reads faer's global parallelism: the bits stay the same under any.
    faer::set_global_parallelism(faer::Par::rayon(2));
    let again = umap(&a, &cfg).unwrap();
    faer::set_global_parallelism(faer::Par::Seq);
    let seq = umap(&a, &cfg).unwrap();
    let bits = |e: &[Vec<f64>]| -> Vec<u64> { e.iter().flatten().map(|v| v.to_bits()).collect() };
    assert_eq!(bits(&first), bits(&again));
    assert_eq!(bits(&first), bits(&seq));
    let other = umap(&a, &cfg.with_seed(1)).unwrap();
    let moved = first
        .iter()
        .flatten()
        .zip(other.iter().flatten())
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f64::max);
    assert!(
        moved > 1e-3,
        "a different seed moved no coordinate by more than {moved}"
    );
}

#[test]
fn output_shape_follows_n_components_and_is_finite() {
    let a = random_points(60, 8, 5);
    for dim in [1, 2, 3, 5] {
        let cfg = UmapConfig::default()
            .with_n_components(dim)
            .with_n_neighbors(10)
            .with_n_epochs(Some(50));
        let e = umap(&a, &cfg).unwrap();
        assert_eq!(e.len(), 60);
        assert!(e
            .iter()
            .all(|r| r.len() == dim && r.iter().all(|v| v.is_finite())));
    }
}

fn dist2(p: &[f64], q: &[f64]) -> f64 {
    p.iter().zip(q).map(|(u, v)| (u - v) * (u - v)).sum()
}

#[test]
fn duplicate_points_and_a_disconnected_graph_do_not_break_it() {
    // Every point twice, and two far-apart clusters (the k-NN graph is disconnected, so the
    // PCA initialisation is used): finite output, and every point's nearest embedded
    // neighbour in its own cluster.
    let base = random_points(30, 4, 9);
    let mut rows = Vec::new();
    for i in 0..30 {
        let shift = if i < 15 { 0.0 } else { 1000.0 };
        let r: Vec<f64> = base.row(i).iter().map(|v| v + shift).collect();
        rows.push(r.clone());
        rows.push(r);
    }
    let a = Activations::from_rows(&rows).unwrap();
    let cfg = UmapConfig::default().with_n_neighbors(5);
    let e = umap(&a, &cfg).unwrap();
    assert!(e.iter().flatten().all(|v| v.is_finite()));
    for (i, p) in e.iter().enumerate() {
        let nearest = (0..60)
            .filter(|&j| j != i)
            .min_by(|&j, &k| dist2(p, &e[j]).total_cmp(&dist2(p, &e[k])))
            .unwrap();
        assert_eq!(
            i < 30,
            nearest < 30,
            "point {i}'s nearest neighbour {nearest}"
        );
    }
    // All points identical: every distance is 0.
    let same = Activations::from_rows(&vec![vec![1.0, 2.0]; 20]).unwrap();
    let e = umap(&same, &UmapConfig::default().with_n_neighbors(5)).unwrap();
    assert!(e.iter().flatten().all(|v| v.is_finite()));
}

#[test]
fn ols_r2_known_answers() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let n = 2000;
    let emb: Vec<Vec<f64>> = (0..n)
        .map(|_| (0..3).map(|_| rng.random_range(-5.0..5.0)).collect())
        .collect();
    // Exact linear target: R² = 1.
    let y: Vec<f64> = emb
        .iter()
        .map(|r| 2.0 * r[0] - 0.5 * r[1] + 3.0 * r[2] + 7.0)
        .collect();
    assert!((ols_r2(&emb, &y).unwrap() - 1.0).abs() < 1e-12);
    // Independent noise: R² ≈ p/(N − 1) = 0.0015.
    let noise: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    let r = ols_r2(&emb, &noise).unwrap();
    assert!((0.0..0.01).contains(&r), "{r}");
    // One coordinate: R² is the squared Pearson correlation.
    let x1: Vec<Vec<f64>> = emb.iter().map(|r| vec![r[0]]).collect();
    let t: Vec<f64> = emb
        .iter()
        .zip(&noise)
        .map(|(r, e)| r[0] + 4.0 * e)
        .collect();
    let (mx, mt) = (
        x1.iter().map(|r| r[0]).sum::<f64>() / n as f64,
        t.iter().sum::<f64>() / n as f64,
    );
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (r, v) in x1.iter().zip(&t) {
        sxy += (r[0] - mx) * (v - mt);
        sxx += (r[0] - mx).powi(2);
        syy += (v - mt).powi(2);
    }
    let want = sxy * sxy / (sxx * syy);
    assert!((ols_r2(&x1, &t).unwrap() - want).abs() < 1e-12);
    // A repeated and a constant column add nothing to the span.
    let wide: Vec<Vec<f64>> = emb.iter().map(|r| vec![r[0], r[0], 4.0]).collect();
    assert!((ols_r2(&wide, &t).unwrap() - want).abs() < 1e-12);
}

#[test]
fn ols_r2_rejects_bad_input() {
    let emb = vec![
        vec![0.0, 1.0],
        vec![1.0, 0.0],
        vec![2.0, 2.0],
        vec![3.0, 1.0],
    ];
    let y = [1.0, 2.0, 3.0, 5.0];
    assert!(ols_r2(&emb, &y).is_ok());
    assert!(matches!(
        ols_r2(&emb, &y[..3]),
        Err(Error::LengthMismatch(_))
    ));
    let ragged = vec![vec![0.0, 1.0], vec![1.0], vec![2.0, 2.0], vec![3.0, 1.0]];
    assert!(matches!(ols_r2(&ragged, &y), Err(Error::LengthMismatch(_))));
    assert!(matches!(
        ols_r2(&emb, &[1.0, f64::NAN, 3.0, 4.0]),
        Err(Error::NonFinite(_))
    ));
    let mut inf = emb.clone();
    inf[1][0] = f64::INFINITY;
    assert!(matches!(ols_r2(&inf, &y), Err(Error::NonFinite(_))));
    assert!(matches!(
        ols_r2(&emb, &[2.0; 4]),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        ols_r2(&emb[..3], &y[..3]),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        ols_r2(&[vec![], vec![]], &y[..2]),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(ols_r2(&[], &[]), Err(Error::InvalidArgument(_))));
}

fn invalid_field(r: Result<()>, field: &str) {
    match r {
        Err(Error::InvalidArgument(m)) => {
            assert!(m.contains(field) && m.contains("allowed"), "{m}")
        }
        other => panic!("{field}: expected InvalidArgument, got {other:?}"),
    }
}

#[test]
fn config_defaults_validation_and_serde() {
    let c = UmapConfig::default();
    assert_eq!(
        (
            c.n_neighbors,
            c.min_dist,
            c.spread,
            c.n_components,
            c.n_epochs
        ),
        (15, 0.1, 1.0, 3, None)
    );
    assert_eq!(
        (c.learning_rate, c.negative_sample_rate, c.seed),
        (1.0, 5, 0)
    );
    c.validate_for(256).unwrap();
    let (a, b) = c.ab_params().unwrap();
    assert!(
        (a - 1.577).abs() < 1e-3 && (b - 0.8951).abs() < 1e-3,
        "{a} {b}"
    );

    invalid_field(c.with_n_neighbors(1).validate(), "n_neighbors");
    invalid_field(c.validate_for(15), "n_neighbors");
    invalid_field(
        c.with_n_neighbors(4).with_n_components(10).validate_for(10),
        "n_components",
    );
    invalid_field(c.with_n_components(0).validate(), "n_components");
    invalid_field(c.with_min_dist(-0.1).validate(), "min_dist");
    invalid_field(c.with_min_dist(1.5).validate(), "min_dist");
    invalid_field(c.with_spread(0.0).validate(), "spread");
    invalid_field(c.with_spread(f64::NAN).validate(), "spread");
    invalid_field(c.with_n_epochs(Some(0)).validate(), "n_epochs");
    invalid_field(c.with_learning_rate(0.0).validate(), "learning_rate");
    invalid_field(
        c.with_repulsion_strength(-1.0).validate(),
        "repulsion_strength",
    );
    invalid_field(
        c.with_local_connectivity(15.0).validate(),
        "local_connectivity",
    );
    invalid_field(c.with_min_dist(2.0).ab_params().map(|_| ()), "min_dist");

    // umap() checks against the data; umap_r2 checks the coordinates.
    let a = random_points(10, 3, 1);
    invalid_field(umap(&a, &c).map(|_| ()), "n_neighbors");
    let ok = c.with_n_neighbors(5).with_n_epochs(Some(20));
    let coords = vec![[0.0, 1.0]; 9];
    assert!(matches!(
        umap_r2(&a, &coords, &ok),
        Err(Error::LengthMismatch(_))
    ));
    let mut coords = vec![[0.0, 1.0]; 10];
    coords[3][1] = f64::NAN;
    assert!(matches!(
        umap_r2(&a, &coords, &ok),
        Err(Error::NonFinite(_))
    ));

    // Serde: partial documents fill in defaults; unknown keys are rejected.
    let p: UmapConfig = serde_json::from_str(r#"{"n_neighbors": 30, "seed": 7}"#).unwrap();
    assert_eq!(p, c.with_n_neighbors(30).with_seed(7));
    assert!(serde_json::from_str::<UmapConfig>(r#"{"n_neighbour": 30}"#).is_err());
    let back: UmapConfig = serde_json::from_str(&serde_json::to_string(&ok).unwrap()).unwrap();
    assert_eq!(back, ok);
}
