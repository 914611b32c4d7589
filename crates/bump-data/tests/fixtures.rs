//! Checks against independent numpy/scipy references (`tests/fixtures/make_fixtures.py`).

use bump_data::{render_image, score_image, Pattern, Polarity, RenderConfig, ScoreConfig};
use serde_json::Value;

fn load(name: &str) -> Vec<Value> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn renderer_matches_numpy_meshgrid_reference() {
    let cases = load("render_cases.json");
    assert_eq!(cases.len(), 8);
    for case in cases {
        let sigma = f64s(&case["sigma"]);
        let range = f64s(&case["range"]);
        let centre = f64s(&case["centre"]);
        let cfg = RenderConfig::default()
            .with_n(case["n"].as_u64().unwrap() as usize)
            .with_sigma_xy(sigma[0], sigma[1])
            .with_exponent_denominator_factor(case["k"].as_f64().unwrap())
            .with_range(range[0] as f32, range[1] as f32)
            .with_periodic(case["periodic"].as_bool().unwrap())
            .with_polarity(match case["polarity"].as_str().unwrap() {
                "DarkOnBright" => Polarity::DarkOnBright,
                _ => Polarity::BrightOnDark,
            });
        let pattern = match case["pattern"].as_str().unwrap() {
            "Bump" => Pattern::Bump,
            "VerticalStripe" => Pattern::VerticalStripe,
            "HorizontalStripe" => Pattern::HorizontalStripe,
            _ => Pattern::SumOfStripes,
        };
        let img = render_image(&cfg, pattern, [centre[0], centre[1]]).unwrap();
        let expect = f64s(&case["image"]);
        assert_eq!(img.len(), expect.len());
        let scale = (range[1] - range[0]).abs();
        for (i, (&a, &b)) in img.iter().zip(&expect).enumerate() {
            assert!(
                (a as f64 - b).abs() <= 1e-6 * scale,
                "{case:?}: pixel {i} (x {}, y {}): {a} vs {b}",
                i % cfg.n,
                i / cfg.n
            );
        }
    }
}

#[test]
fn scorer_counts_and_centroids_match_scipy_ndimage() {
    let cases = load("score_cases.json");
    assert_eq!(cases.len(), 8);
    for case in cases {
        let n = case["n"].as_u64().unwrap() as usize;
        let img: Vec<f32> = f64s(&case["image"]).iter().map(|&v| v as f32).collect();
        for (key, expect) in case["results"].as_object().unwrap() {
            let min_area: usize = key.parse().unwrap();
            // scipy.ndimage.label is the plain component count (no peak splitting) at half of A;
            // the reference also uses the empty threshold 0.3 and no absolute extra-bump level
            // (1.0 turns it off).
            let sc = ScoreConfig::default()
                .with_min_area(min_area)
                .with_min_amplitude(0.3)
                .with_extra_bump_min_amplitude(1.0)
                .with_split_merged_peaks(false)
                .with_refine(false);
            let s = score_image(&img, n, [0.0, 0.0], &sc).unwrap();
            let what = format!("bumps {} min_area {min_area}", case["bumps"]);
            assert_eq!(s.count as u64, expect["count"].as_u64().unwrap(), "{what}");
            assert!(
                (s.amplitude - expect["amplitude"].as_f64().unwrap()).abs() < 1e-12,
                "{what}"
            );
            match expect["centroid"].as_array() {
                Some(c) => {
                    let got = s.centre.unwrap();
                    for a in 0..2 {
                        assert!(
                            (got[a] - c[a].as_f64().unwrap()).abs() < 1e-9,
                            "{what}: {got:?} vs {c:?}"
                        );
                    }
                }
                None => assert!(s.centre.is_none(), "{what}"),
            }
        }
    }
}
