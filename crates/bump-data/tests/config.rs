//! DatasetConfig and CentreSet: serde (TOML, JSON, legacy forms), validation messages, the
//! bit-exact build and evaluation grids, stripe mixes, region filters.

use std::collections::HashMap;

use bump_data::config::{CENTRES_KEY, DATA_KEY};
use bump_data::dataset::{FILE_FORMAT, METADATA_KEY};
use bump_data::{
    part_seed, subsample, CentreSet, DataPart, Dataset, DatasetConfig, Error, GridSpec, HeldOut,
    Interval, Pattern, Polarity, RegionFilter, RenderConfig, ScoreConfig, Sigma,
};
use safetensors::tensor::{Dtype, TensorView};
use serde::{de::DeserializeOwned, Serialize};

const DEFAULT_TOML: &str = r#"n = 32
sigma = 1.0
pattern = "bump"
dx = 1.0
dy = 1.0
lambda = 1.0
periodic = false
polarity = "dark_on_bright"
exponent_denominator_factor = 2.0
range = [-1.0, 1.0]
"#;

fn held_out_mixed() -> DatasetConfig {
    DatasetConfig::default()
        .with_sigma(1.5)
        .with_held_out(HeldOut::interior_square(32.0, 8.0).unwrap())
        .with_part(DataPart::new(Pattern::VerticalStripe, 2.0, 1.0))
        .with_part(
            DataPart::new(Pattern::Bump, 2.0, 2.0)
                .with_lambda(0.25)
                .with_held_out(HeldOut::vertical_band(32.0, 4.0).unwrap()),
        )
}

fn examples() -> Vec<DatasetConfig> {
    vec![
        DatasetConfig::default(),
        DatasetConfig::default()
            .with_sigma_xy(0.75, 2.5)
            .with_spacing(0.7, 1.3)
            .with_lambda(0.3),
        DatasetConfig::default().with_held_out(HeldOut::cross(32.0, 4.0).unwrap()),
        DatasetConfig::default()
            .with_canvas(44)
            .with_pattern(Pattern::SumOfStripes)
            .with_polarity(Polarity::BrightOnDark)
            .with_range(0.0, 1.0)
            .with_exponent_denominator_factor(4.0),
        DatasetConfig::default().with_periodic(true).with_n(16),
        held_out_mixed(),
    ]
}

/// value → text → value is the identity, and text → value → text reproduces the text.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(v: &T) {
    let t = toml::to_string(v).unwrap();
    let back: T = toml::from_str(&t).unwrap();
    assert_eq!(&back, v, "TOML:\n{t}");
    assert_eq!(toml::to_string(&back).unwrap(), t);
    let j = serde_json::to_string_pretty(v).unwrap();
    let back: T = serde_json::from_str(&j).unwrap();
    assert_eq!(&back, v, "JSON:\n{j}");
    assert_eq!(serde_json::to_string_pretty(&back).unwrap(), j);
}

#[test]
fn default_serializes_to_the_documented_toml() {
    assert_eq!(
        toml::to_string(&DatasetConfig::default()).unwrap(),
        DEFAULT_TOML
    );
    let d: DatasetConfig = toml::from_str(DEFAULT_TOML).unwrap();
    assert_eq!(d, DatasetConfig::default());
    // Every key may be omitted.
    assert_eq!(
        toml::from_str::<DatasetConfig>("").unwrap(),
        DatasetConfig::default()
    );
    assert_eq!(
        serde_json::from_str::<DatasetConfig>("{}").unwrap(),
        DatasetConfig::default()
    );
}

#[test]
fn configs_round_trip_through_toml_and_json() {
    for c in examples() {
        c.validate().unwrap();
        round_trip(&c);
    }
    round_trip(&CentreSet::default());
    round_trip(
        &CentreSet::new(1.0, 0.5)
            .with_offset(0.5, 0.25)
            .with_region(RegionFilter::Outside(
                HeldOut::vertical_band(32.0, 4.0).unwrap(),
            )),
    );
}

#[test]
fn hand_written_toml_reads_as_expected() {
    let text = r#"
        sigma = { x = 1, y = 2.5 }
        dx = 2
        dy = 2.0
        lambda = 0.5
        canvas = 44
        held_out = { rect = { x = { lo = 12.0, hi = 20.0 }, y = { lo = 12.0, hi = 20.0 } } }
        mix = [{ pattern = "horizontal_stripe" }, { pattern = "sum_of_stripes", dx = 4.0, dy = 4.0, lambda = 0.5 }]
    "#;
    let c: DatasetConfig = toml::from_str(text).unwrap();
    let expected = DatasetConfig::default()
        .with_sigma_xy(1.0, 2.5)
        .with_spacing(2.0, 2.0)
        .with_lambda(0.5)
        .with_canvas(44)
        .with_held_out(HeldOut::Rect {
            x: Interval::new(12.0, 20.0).unwrap(),
            y: Interval::new(12.0, 20.0).unwrap(),
        })
        .with_part(DataPart::new(Pattern::HorizontalStripe, 1.0, 1.0))
        .with_part(DataPart::new(Pattern::SumOfStripes, 4.0, 4.0).with_lambda(0.5));
    assert_eq!(c, expected);
    // An integer σ is a spherical σ.
    let c: DatasetConfig = toml::from_str("sigma = 2").unwrap();
    assert_eq!(c.sigma, Sigma::Spherical(2.0));
    let s: CentreSet = toml::from_str(
        "dx = 2.0\ndy = 2.0\noffset = [1.0, 1.0]\nregion = { inside = { vertical_band = { x = { lo = 14.0, hi = 18.0 } } } }",
    )
    .unwrap();
    assert_eq!(
        s.region,
        Some(RegionFilter::Inside(HeldOut::VerticalBand {
            x: Interval::new(14.0, 18.0).unwrap()
        }))
    );
}

#[test]
fn render_config_json_is_plain_and_legacy_forms_still_read() {
    assert_eq!(
        serde_json::to_string(&RenderConfig::default()).unwrap(),
        r#"{"n":32,"sigma":1.0,"polarity":"dark_on_bright","exponent_denominator_factor":2.0,"range":[-1.0,1.0],"periodic":false}"#
    );
    let legacy = r#"{"n":16,"sigma":{"Anisotropic":{"x":1.0,"y":2.0}},"polarity":"BrightOnDark","exponent_denominator_factor":2.0,"range":[-1.0,1.0],"periodic":false}"#;
    let r: RenderConfig = serde_json::from_str(legacy).unwrap();
    assert_eq!(
        r,
        RenderConfig::default()
            .with_n(16)
            .with_sigma_xy(1.0, 2.0)
            .with_polarity(Polarity::BrightOnDark)
    );
    let s: Sigma = serde_json::from_str(r#"{"Spherical": 1.5}"#).unwrap();
    assert_eq!(s, Sigma::Spherical(1.5));
    for (text, p) in [
        (r#""Bump""#, Pattern::Bump),
        (r#""VerticalStripe""#, Pattern::VerticalStripe),
        (r#""horizontal_stripe""#, Pattern::HorizontalStripe),
        (r#""SumOfStripes""#, Pattern::SumOfStripes),
    ] {
        assert_eq!(serde_json::from_str::<Pattern>(text).unwrap(), p);
    }
    assert_eq!(
        serde_json::to_string(&Pattern::SumOfStripes).unwrap(),
        r#""sum_of_stripes""#
    );
    let h: HeldOut = serde_json::from_str(r#"{"VerticalBand":{"x":{"lo":1.0,"hi":3.0}}}"#).unwrap();
    assert_eq!(h, HeldOut::vertical_band(4.0, 2.0).unwrap());
    // Malformed σ tables are errors that name the problem.
    for (text, needle) in [
        (r#"{"x": 1.0}"#, "missing field `y`"),
        (r#"{"x": 1.0, "z": 2.0}"#, "unknown field `z`"),
        (r#"{"x": 1.0, "x": 2.0}"#, "duplicate"),
        (r#"{"Spherical": 1.0, "x": 2.0}"#, "one key"),
        (r#""wide""#, "a number σ"),
    ] {
        let e = serde_json::from_str::<Sigma>(text).unwrap_err().to_string();
        assert!(e.contains(needle), "{text}: {e}");
    }
}

#[test]
fn a_dataset_file_with_a_legacy_header_loads() {
    let ds = Dataset::render(
        &RenderConfig::default().with_n(8).with_sigma_xy(1.0, 1.5),
        &[[2.0, 3.0], [5.0, 1.0]],
    )
    .unwrap();
    let header = format!(
        r#"{{"format":"{FILE_FORMAT}","spec":{{"render":{{"n":8,"sigma":{{"Anisotropic":{{"x":1.0,"y":1.5}}}},"polarity":"DarkOnBright","exponent_denominator_factor":2.0,"range":[-1.0,1.0],"periodic":false}},"canvas":null,"description":""}}}}"#
    );
    let bytes_of = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let (img, lab) = (bytes_of(ds.images()), bytes_of(&ds.labels().concat()));
    let pat = vec![0u8; 2];
    let tensors = vec![
        (
            "images",
            TensorView::new(Dtype::F32, vec![2, 8, 8], &img).unwrap(),
        ),
        (
            "labels",
            TensorView::new(Dtype::F32, vec![2, 2], &lab).unwrap(),
        ),
        (
            "patterns",
            TensorView::new(Dtype::U8, vec![2], &pat).unwrap(),
        ),
    ];
    let meta = HashMap::from([(METADATA_KEY.to_string(), header)]);
    let bytes = safetensors::serialize(tensors, Some(meta)).unwrap();
    assert_eq!(Dataset::from_bytes(&bytes).unwrap(), ds);
    // Files written now use the plain forms and read back too.
    assert_eq!(Dataset::from_bytes(&ds.to_bytes().unwrap()).unwrap(), ds);
}

#[test]
fn unknown_keys_are_rejected_by_name() {
    for (text, needle) in [
        ("sigam = 2.0", "unknown field `sigam`"),
        (
            "mix = [{ pattern = \"bump\", dxx = 1.0 }]",
            "unknown field `dxx`",
        ),
        (
            "held_out = { rect = { x = { lo = 1.0, high = 2.0 }, y = { lo = 1.0, hi = 2.0 } } }",
            "unknown field `high`",
        ),
        (
            "held_out = { square = { x = { lo = 1.0, hi = 2.0 } } }",
            "unknown variant `square`",
        ),
        ("sigma = { x = 1.0, z = 2.0 }", "unknown field `z`"),
        ("pattern = \"stripe\"", "unknown variant `stripe`"),
    ] {
        let e = toml::from_str::<DatasetConfig>(text)
            .unwrap_err()
            .to_string();
        assert!(e.contains(needle), "{text}: {e}");
    }
    let e = toml::from_str::<CentreSet>("dx = 1.0\ndy = 1.0\noffest = [0.0, 0.0]")
        .unwrap_err()
        .to_string();
    assert!(e.contains("offest"), "{e}");
    // A mix part needs its pattern.
    let e = toml::from_str::<DatasetConfig>("mix = [{ dx = 2.0 }]")
        .unwrap_err()
        .to_string();
    assert!(e.contains("pattern"), "{e}");
}

/// `cfg` is rejected by every entry point with an `Error::Config` for `key` whose message holds
/// every fragment.
fn assert_rejected(cfg: &DatasetConfig, key: &str, fragments: &[&str]) {
    let e = cfg.validate().unwrap_err();
    let text = e.to_string();
    match &e {
        Error::Config { key: k, .. } => assert_eq!(k, key, "{text}"),
        other => panic!("expected Error::Config for {key}, got {other:?}"),
    }
    assert!(text.starts_with(&format!("{key} ")), "{text}");
    for f in fragments {
        assert!(text.contains(f), "`{text}` lacks `{f}`");
    }
    assert_eq!(cfg.build(0).unwrap_err().to_string(), text);
    assert_eq!(cfg.centres(0).unwrap_err().to_string(), text);
    assert_eq!(cfg.num_images().unwrap_err().to_string(), text);
}

#[test]
fn invalid_values_name_the_key_and_the_allowed_range() {
    let d = DatasetConfig::default;
    assert_eq!(
        d().with_sigma(-1.0).validate().unwrap_err().to_string(),
        "data.sigma must be a finite number > 0, got -1"
    );
    assert_eq!(
        d().with_lambda(1.5).validate().unwrap_err().to_string(),
        "data.lambda must lie in (0, 1], got 1.5"
    );
    assert_rejected(&d().with_n(0), "data.n", &[">= 1", "got 0"]);
    assert_rejected(&d().with_sigma(f64::NAN), "data.sigma", &["> 0", "NaN"]);
    assert_rejected(
        &d().with_sigma_xy(1.0, 0.0),
        "data.sigma.y",
        &["> 0", "got 0"],
    );
    assert_rejected(&d().with_lambda(0.0), "data.lambda", &["(0, 1]", "got 0"]);
    assert_rejected(&d().with_dx(0.0), "data.dx", &["> 0", "got 0"]);
    assert_rejected(&d().with_dy(-2.0), "data.dy", &["> 0", "got -2"]);
    assert_rejected(
        &d().with_dx(1e-9),
        "data.dx",
        &["at most 1048576", "got 0.000000001"],
    );
    assert_rejected(
        &d().with_canvas(32),
        "data.canvas",
        &["> data.n = 32", "even", "got 32"],
    );
    assert_rejected(&d().with_canvas(45), "data.canvas", &["even", "got 45"]);
    assert_rejected(
        &d().with_canvas(44).with_periodic(true),
        "data.periodic",
        &["data.canvas", "got true"],
    );
    assert_rejected(
        &d().with_exponent_denominator_factor(f64::INFINITY),
        "data.exponent_denominator_factor",
        &["> 0", "inf"],
    );
    assert_rejected(
        &d().with_range(1.0, 1.0),
        "data.range",
        &["lo != hi", "[1, 1]"],
    );
    let bad_interval = HeldOut::Rect {
        x: Interval { lo: 20.0, hi: 12.0 },
        y: Interval { lo: 0.0, hi: 4.0 },
    };
    assert_rejected(
        &d().with_held_out(bad_interval),
        "data.held_out.rect.x",
        &["lo < hi", "[20, 12)"],
    );
    assert_rejected(
        &d().with_held_out(HeldOut::square_at(40.0, 40.0, 4.0).unwrap()),
        "data.held_out",
        &["at least one", "none of the 1024 centres"],
    );
    assert_rejected(
        &d().with_held_out(HeldOut::square_at(0.0, 0.0, 32.0).unwrap()),
        "data.held_out",
        &["leave at least one", "all the 1024 centres"],
    );
    // Parts of the mix are named by index.
    let mixed = |part: DataPart| {
        d().with_part(DataPart::new(Pattern::VerticalStripe, 1.0, 1.0))
            .with_part(part)
    };
    assert_rejected(
        &mixed(DataPart::new(Pattern::Bump, 0.0, 1.0)),
        "data.mix[1].dx",
        &["> 0", "got 0"],
    );
    assert_rejected(
        &mixed(DataPart::new(Pattern::Bump, 1.0, 1.0).with_lambda(2.0)),
        "data.mix[1].lambda",
        &["(0, 1]", "got 2"],
    );
    // Every centre of a vertical-stripe part has μy = 16, so this band takes them all.
    assert_rejected(
        &d().with_part(
            DataPart::new(Pattern::VerticalStripe, 1.0, 1.0)
                .with_held_out(HeldOut::horizontal_band(32.0, 2.0).unwrap()),
        ),
        "data.mix[0].held_out",
        &["leave at least one", "vertical_stripe"],
    );
    // validate_at names keys under another prefix.
    let e = d().with_lambda(0.0).validate_at("train.data").unwrap_err();
    assert!(e.to_string().starts_with("train.data.lambda "), "{e}");
    assert_eq!(DATA_KEY, "data");
}

/// The facade's recipe before DatasetConfig (src/data_glue.rs).
fn old_recipe(n: usize, sigma: f64, dx: f64, dy: f64, lambda: f64, seed: u64) -> Dataset {
    let mut centres = GridSpec::new(n, dx, dy).centres().unwrap();
    if lambda < 1.0 {
        centres = subsample(&centres, lambda, seed).unwrap();
    }
    let render = RenderConfig {
        n,
        sigma: Sigma::Spherical(sigma),
        ..RenderConfig::default()
    };
    Dataset::render(&render, &centres).unwrap()
}

#[test]
fn build_is_bit_exact_with_the_old_recipe() {
    for (n, sigma, dx, dy, lambda, seed) in [
        (32, 1.0, 1.0, 1.0, 1.0, 0),
        (32, 1.5, 0.7, 1.3, 0.3, 7),
        (16, 0.5, 0.5, 0.5, 0.1, 123_456_789),
        (32, 2.0, 2.0, 1.0, 0.999, u64::MAX),
    ] {
        let cfg = DatasetConfig::default()
            .with_n(n)
            .with_sigma(sigma)
            .with_spacing(dx, dy)
            .with_lambda(lambda);
        let new = cfg.build(seed).unwrap();
        let old = old_recipe(n, sigma, dx, dy, lambda, seed);
        assert_eq!(new, old, "n={n} σ={sigma} dx={dx} dy={dy} λ={lambda}");
        let bits = |d: &Dataset| d.images().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&new), bits(&old));
        assert_eq!(cfg.num_images().unwrap(), new.len());
    }
    // The seed matters when λ < 1 (so the comparison above can fail).
    let cfg = DatasetConfig::default().with_lambda(0.5);
    assert_ne!(
        cfg.build(1).unwrap().labels(),
        cfg.build(2).unwrap().labels()
    );
}

#[test]
fn part_seeds_follow_the_documented_rule() {
    assert_eq!(part_seed(42, 0), 42);
    assert_eq!(part_seed(0, 1), 0x9E37_79B9_7F4A_7C15);
    assert_eq!(part_seed(u64::MAX, 1), 0x9E37_79B9_7F4A_7C14);
    assert_eq!(
        part_seed(5, 2),
        5u64.wrapping_add(0x9E37_79B9_7F4A_7C15u64.wrapping_mul(2))
    );
}

#[test]
fn stripe_and_bump_mix_builds_the_expected_parts() {
    let seed = 11;
    let cfg = DatasetConfig::default()
        .with_pattern(Pattern::VerticalStripe)
        .with_part(DataPart::new(Pattern::Bump, 2.0, 2.0).with_lambda(0.5))
        .with_part(DataPart::new(Pattern::HorizontalStripe, 1.0, 4.0));
    let ds = cfg.build(seed).unwrap();
    assert_eq!(ds.len(), 32 + 128 + 8);
    assert_eq!(cfg.num_images().unwrap(), ds.len());
    let p = ds.patterns();
    assert!(p[..32].iter().all(|&q| q == Pattern::VerticalStripe));
    assert!(p[32..160].iter().all(|&q| q == Pattern::Bump));
    assert!(p[160..].iter().all(|&q| q == Pattern::HorizontalStripe));
    // Vertical stripes: μx = 0..31, μy fixed at the middle of the extent.
    let l = ds.labels();
    for (i, lab) in l[..32].iter().enumerate() {
        assert_eq!(*lab, [i as f32, 16.0]);
    }
    // Horizontal stripes: μx fixed at the middle, μy = 0, 4, …, 28.
    for (j, lab) in l[160..].iter().enumerate() {
        assert_eq!(*lab, [16.0, 4.0 * j as f32]);
    }
    // The bump part is the λ-subsample of its grid with part_seed(seed, 1).
    let bumps = subsample(
        &GridSpec::square(32, 2.0).centres().unwrap(),
        0.5,
        part_seed(seed, 1),
    )
    .unwrap();
    let expected: Vec<[f32; 2]> = bumps.iter().map(|c| [c[0] as f32, c[1] as f32]).collect();
    assert_eq!(&l[32..160], &expected[..]);
    // A vertical stripe image has identical rows; its darkest column is μx.
    let img = ds.image(5).unwrap();
    assert!(img.chunks(32).all(|row| row == &img[..32]));
    let darkest = (0..32).min_by(|&a, &b| img[a].total_cmp(&img[b])).unwrap();
    assert_eq!(darkest, 5);
    // The whole equals the parts rendered one by one and concatenated.
    let render = cfg.render_config();
    let parts: Vec<Dataset> = cfg
        .centres(seed)
        .unwrap()
        .iter()
        .map(|(pat, c)| Dataset::render_with(&render, *pat, None, c).unwrap())
        .collect();
    assert_eq!(Dataset::concat(&parts).unwrap(), ds);
    assert_eq!(
        cfg.describe(),
        "vertical stripes every 1 along x + bumps on a 2×2 grid (λ=0.5) + horizontal stripes \
         every 4 along y, σ=1, N=32, 168 images"
    );
}

#[test]
fn held_out_region_and_canvas_shape_the_centres() {
    let cfg = DatasetConfig::default().with_held_out(HeldOut::interior_square(32.0, 8.0).unwrap());
    let ds = cfg.build(0).unwrap();
    assert_eq!(ds.len(), 1024 - 64);
    let region = HeldOut::interior_square(32.0, 8.0).unwrap();
    assert!(ds
        .labels()
        .iter()
        .all(|l| !region.contains([l[0] as f64, l[1] as f64])));
    assert_eq!(
        cfg.describe(),
        "bumps on a 1×1 grid (held-out region removed), σ=1, N=32, 960 images"
    );

    let cfg = DatasetConfig::default()
        .with_canvas(44)
        .with_pattern(Pattern::SumOfStripes)
        .with_spacing(2.0, 2.0);
    assert_eq!(cfg.extent(), 44);
    let ds = cfg.build(0).unwrap();
    assert_eq!(ds.len(), 22 * 22);
    assert_eq!(ds.spec().canvas, cfg.canvas());
    assert_eq!(cfg.canvas().unwrap().offset(), 6.0);
    assert_eq!(ds.labels()[21], [42.0, 0.0]);
    assert_eq!(DatasetConfig::default().extent(), 32);
    assert_eq!(
        DatasetConfig::default().describe(),
        "bumps on a 1×1 grid, σ=1, N=32, 1024 images"
    );
}

#[test]
fn score_config_follows_the_render_config() {
    let cfg = DatasetConfig::default()
        .with_sigma_xy(1.0, 2.5)
        .with_polarity(Polarity::BrightOnDark)
        .with_range(0.0, 1.0)
        .with_periodic(true);
    let s = cfg.score_config();
    assert_eq!(s, ScoreConfig::for_render(&cfg.render_config()));
    assert_eq!(s.nms_radius, 5.0);
    assert_eq!(
        (s.polarity, s.range, s.periodic),
        (Polarity::BrightOnDark, (0.0, 1.0), true)
    );
    assert_eq!(
        DatasetConfig::default().render_config(),
        RenderConfig::default()
    );
}

/// The facade's evaluation grid before CentreSet (src/eval.rs).
fn eval_grid(n: usize, spacing: f64, offset: f64) -> (Vec<[f64; 2]>, (usize, usize)) {
    let count = ((n as f64 - offset) / spacing - 1e-9).ceil().max(0.0) as usize;
    let axis: Vec<f64> = (0..count).map(|i| offset + i as f64 * spacing).collect();
    let mut out = Vec::with_capacity(count * count);
    for &y in &axis {
        for &x in &axis {
            out.push([x, y]);
        }
    }
    (out, (count, count))
}

fn bits(c: &[[f64; 2]]) -> Vec<[u64; 2]> {
    c.iter().map(|p| [p[0].to_bits(), p[1].to_bits()]).collect()
}

#[test]
fn default_centre_set_is_the_facade_eval_grid() {
    let set = CentreSet::default();
    let c = set.centres(32).unwrap();
    assert_eq!(c.len(), 256);
    assert_eq!(c[0], [1.0, 1.0]);
    assert_eq!(c[1], [3.0, 1.0]);
    assert_eq!(c[16], [1.0, 3.0]);
    assert_eq!(c[255], [31.0, 31.0]);
    let (old, shape) = eval_grid(32, 2.0, 1.0);
    assert_eq!(bits(&c), bits(&old));
    assert_eq!(set.grid_shape(32).unwrap(), Some(shape));
    assert_eq!(
        toml::to_string(&set).unwrap(),
        "dx = 2.0\ndy = 2.0\noffset = [1.0, 1.0]\n"
    );
}

#[test]
fn off_lattice_and_other_centre_sets_match_the_old_grid() {
    let c = CentreSet::new(1.0, 1.0)
        .with_offset(0.5, 0.5)
        .centres(32)
        .unwrap();
    assert_eq!(c.len(), 1024);
    assert_eq!((c[0], c[1023]), ([0.5, 0.5], [31.5, 31.5]));
    for (n, d, o) in [
        (32, 1.0, 0.5),
        (32, 0.7, 0.3),
        (44, 3.0, 0.0),
        (32, 2.0, 0.0),
        (16, 0.1, 0.05),
    ] {
        let set = CentreSet::new(d, d).with_offset(o, o);
        let (old, shape) = eval_grid(n, d, o);
        assert_eq!(
            bits(&set.centres(n).unwrap()),
            bits(&old),
            "n={n} d={d} o={o}"
        );
        assert_eq!(set.grid_shape(n).unwrap(), Some(shape));
    }
    // Separate spacings and offsets: x inner, y outer.
    let c = CentreSet::new(4.0, 8.0)
        .with_offset(1.0, 2.0)
        .centres(16)
        .unwrap();
    assert_eq!(
        c,
        [
            [1.0, 2.0],
            [5.0, 2.0],
            [9.0, 2.0],
            [13.0, 2.0],
            [1.0, 10.0],
            [5.0, 10.0],
            [9.0, 10.0],
            [13.0, 10.0]
        ]
    );
    assert_eq!(
        CentreSet::new(4.0, 8.0)
            .with_offset(1.0, 2.0)
            .grid_shape(16)
            .unwrap(),
        Some((4, 2))
    );
    // With offset 0 the centres are GridSpec's.
    assert_eq!(
        CentreSet::new(0.7, 1.3).centres(32).unwrap(),
        GridSpec::new(32, 0.7, 1.3).centres().unwrap()
    );
}

#[test]
fn region_filters_split_the_centre_set() {
    let region = HeldOut::interior_square(32.0, 8.0).unwrap();
    let all = CentreSet::default().centres(32).unwrap();
    let inside = CentreSet::default().with_region(RegionFilter::Inside(region));
    let outside = CentreSet::default().with_region(RegionFilter::Outside(region));
    let (i, o) = (inside.centres(32).unwrap(), outside.centres(32).unwrap());
    // 13, 15, 17, 19 on each axis.
    assert_eq!(i.len(), 16);
    assert_eq!((i[0], i[15]), ([13.0, 13.0], [19.0, 19.0]));
    assert_eq!(o.len(), 240);
    assert!(i.iter().all(|&c| region.contains(c)) && o.iter().all(|&c| !region.contains(c)));
    // The two filters partition the grid, each keeping the grid's order.
    let keep = |inside: bool| -> Vec<[f64; 2]> {
        all.iter()
            .copied()
            .filter(|&c| region.contains(c) == inside)
            .collect()
    };
    assert_eq!((i, o), (keep(true), keep(false)));
    assert_eq!(inside.grid_shape(32).unwrap(), None);
    assert_eq!(outside.grid_shape(32).unwrap(), None);
}

#[test]
fn invalid_centre_sets_name_the_key() {
    let check = |s: CentreSet, extent: usize, key: &str, fragments: &[&str]| {
        let e = s.validate(extent).unwrap_err();
        let text = e.to_string();
        assert!(
            matches!(&e, Error::Config { key: k, .. } if k == key),
            "{text}"
        );
        for f in fragments {
            assert!(text.contains(f), "`{text}` lacks `{f}`");
        }
        assert_eq!(s.centres(extent).unwrap_err().to_string(), text);
        assert_eq!(s.grid_shape(extent).unwrap_err().to_string(), text);
    };
    check(
        CentreSet::new(0.0, 1.0),
        32,
        "centres.dx",
        &["> 0", "got 0"],
    );
    check(
        CentreSet::new(1.0, f64::NAN),
        32,
        "centres.dy",
        &["> 0", "NaN"],
    );
    check(
        CentreSet::default().with_offset(1.0, 32.0),
        32,
        "centres.offset",
        &["[0, 32)", "[1, 32]"],
    );
    check(
        CentreSet::default().with_offset(-0.5, 1.0),
        32,
        "centres.offset",
        &["[0, 32)", "[-0.5, 1]"],
    );
    check(
        CentreSet::default().with_region(RegionFilter::Inside(
            HeldOut::square_at(40.0, 40.0, 2.0).unwrap(),
        )),
        32,
        "centres.region",
        &["at least one", "16×16"],
    );
    check(
        CentreSet::default().with_region(RegionFilter::Outside(HeldOut::VerticalBand {
            x: Interval {
                lo: 3.0,
                hi: f64::INFINITY,
            },
        })),
        32,
        "centres.region.outside.vertical_band.x",
        &["lo < hi", "[3, inf)"],
    );
    assert!(matches!(
        CentreSet::default().validate(0),
        Err(Error::ZeroSize)
    ));
    let e = CentreSet::new(0.0, 1.0)
        .validate_at("eval.centres", 32)
        .unwrap_err();
    assert!(e.to_string().starts_with("eval.centres.dx "), "{e}");
    assert_eq!(CENTRES_KEY, "centres");
}

/// The visible 32 × 32 frame of a 44 × 44 latent canvas, `[6, 38)²`.
fn visible_frame() -> HeldOut {
    HeldOut::square_at(6.0, 6.0, 32.0).unwrap()
}

#[test]
fn within_keeps_only_the_centres_inside_the_region_before_the_held_out_split() {
    let cfg = DatasetConfig::default().with_canvas(44).with_part(
        DataPart::new(Pattern::Bump, 1.0, 1.0)
            .with_within(visible_frame())
            .with_held_out(HeldOut::square_at(6.0, 6.0, 4.0).unwrap()),
    );
    let parts = cfg.centres(0).unwrap();
    // Main part: the whole 44 × 44 grid; the restricted part: 32² − 4² centres, all in frame and
    // none in the held-out corner.
    assert_eq!(parts[0].1.len(), 44 * 44);
    let inside = &parts[1].1;
    assert_eq!(inside.len(), 32 * 32 - 16);
    assert!(inside
        .iter()
        .all(|c| (6.0..38.0).contains(&c[0]) && (6.0..38.0).contains(&c[1])));
    assert!(!inside.iter().any(|c| c[0] < 10.0 && c[1] < 10.0));
    assert_eq!(cfg.num_images().unwrap(), 44 * 44 + 32 * 32 - 16);
    round_trip(&cfg);
    // A region that covers the whole grid keeps it whole.
    let all = DatasetConfig::default().with_part(
        DataPart::new(Pattern::Bump, 1.0, 1.0)
            .with_within(HeldOut::square_at(-1.0, -1.0, 40.0).unwrap()),
    );
    assert_eq!(all.centres(0).unwrap()[1].1.len(), 32 * 32);
}

#[test]
fn stripe_at_moves_the_ignored_axis_and_is_checked() {
    let cfg = DatasetConfig::default()
        .with_canvas(44)
        .with_pattern(Pattern::VerticalStripe)
        .with_part(DataPart::new(Pattern::HorizontalStripe, 1.0, 1.0).with_stripe_at(2.0));
    let mut cfg = cfg;
    cfg.stripe_at = Some(1.0);
    let parts = cfg.centres(0).unwrap();
    assert!(parts[0].1.iter().all(|c| c[1] == 1.0));
    assert_eq!(parts[0].1.len(), 44);
    assert!(parts[1].1.iter().all(|c| c[0] == 2.0));
    round_trip(&cfg);
    // Without it, the ignored axis sits at E/2.
    let mid = DatasetConfig::default().with_pattern(Pattern::VerticalStripe);
    assert!(mid.centres(0).unwrap()[0].1.iter().all(|c| c[1] == 16.0));

    let mut off = cfg.clone();
    off.stripe_at = Some(44.0);
    assert_rejected(&off, "data.stripe_at", &["[0, 44)", "44"]);
    let mut nan = cfg.clone();
    nan.mix[0].stripe_at = Some(f64::NAN);
    assert_rejected(&nan, "data.mix[0].stripe_at", &["NaN"]);
    let bump = DatasetConfig::default()
        .with_part(DataPart::new(Pattern::Bump, 1.0, 1.0).with_stripe_at(3.0));
    assert_rejected(&bump, "data.mix[0].stripe_at", &["only used by", "bump"]);
    let empty = DatasetConfig::default().with_part(
        DataPart::new(Pattern::Bump, 4.0, 4.0)
            .with_within(HeldOut::square_at(1.0, 1.0, 2.0).unwrap()),
    );
    assert_rejected(&empty, "data.mix[0].within", &["at least one centre"]);
}
