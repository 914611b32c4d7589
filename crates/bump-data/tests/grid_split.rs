//! Grids (exact counts, imbalance, subsampling) and held-out splits (exact, disjoint).

use std::collections::{BTreeMap, HashSet};

use bump_data::grid::{axis_count, axis_values, subsample_size};
use bump_data::{split, subsample, Corner, Edge, Error, GridSpec, HeldOut, Section};

fn key(c: [f64; 2]) -> (u64, u64) {
    (c[0].to_bits(), c[1].to_bits())
}

#[test]
fn dx_01_gives_exactly_320_columns() {
    assert_eq!(axis_count(32.0, 0.1).unwrap(), 320);
    assert_eq!(GridSpec::new(32, 0.1, 1.0).counts().unwrap(), (320, 32));
    let xs = axis_values(32.0, 0.1).unwrap();
    assert_eq!(xs.len(), 320);
    assert_eq!(xs[319], 319.0 * 0.1);
    assert!(xs.iter().all(|&x| (0.0..32.0).contains(&x)));
    // Non-dividing spacing: ⌈32/0.3⌉ = 107, last value 31.8.
    assert_eq!(axis_count(32.0, 0.3).unwrap(), 107);
    assert_eq!(axis_count(32.0, 0.7).unwrap(), 46);
    // Drift checks for many spacings 1/k and i/10.
    // Float drift the count must absorb: 21 / 0.7 = 30.000000000000004 and 7 / 0.07 = 99.99999999999999.
    assert_eq!((21.0f64 / 0.7).ceil(), 31.0);
    assert_eq!(axis_count(21.0, 0.7).unwrap(), 30);
    assert_eq!(GridSpec::square(21, 0.7).num_centres().unwrap(), 900);
    assert!(axis_values(21.0, 0.7).unwrap().iter().all(|&x| x < 21.0));
    assert_eq!(axis_count(7.0, 0.07).unwrap(), 100);
    assert_eq!(axis_count(21.0, 0.35).unwrap(), 60);
    for k in 1..=50 {
        assert_eq!(axis_count(32.0, 1.0 / k as f64).unwrap(), 32 * k, "1/{k}");
    }
    for i in 1..=20 {
        let d = i as f64 / 10.0;
        let exact = 320_usize.div_ceil(i); // ⌈320 / i⌉ in integers
        assert_eq!(axis_count(32.0, d).unwrap(), exact, "d = {d}");
    }
}

#[test]
fn dataset_sizes_are_exact() {
    for (dx, dy, len) in [
        (1.0, 1.0, 1024),
        (0.5, 0.5, 4096),
        (0.1, 0.1, 102_400),
        (0.1, 1.0, 10_240),
        (1.0, 0.1, 10_240),
    ] {
        let g = GridSpec::new(32, dx, dy);
        assert_eq!(g.num_centres().unwrap(), len);
        assert_eq!(g.centres().unwrap().len(), len);
    }
}

#[test]
fn imbalanced_grid_frequencies() {
    let c = GridSpec::new(32, 0.1, 1.0).centres().unwrap();
    let mut xs: BTreeMap<u64, usize> = BTreeMap::new();
    let mut ys: BTreeMap<u64, usize> = BTreeMap::new();
    for p in &c {
        *xs.entry(p[0].to_bits()).or_default() += 1;
        *ys.entry(p[1].to_bits()).or_default() += 1;
    }
    assert_eq!(xs.len(), 320);
    assert_eq!(ys.len(), 32);
    assert!(xs.values().all(|&k| k == 32));
    assert!(ys.values().all(|&k| k == 320));
    // Order is y-major: index = j * 320 + i.
    assert_eq!(c[320 * 5 + 7], [7.0 * 0.1, 5.0]);
}

#[test]
fn subsample_sizes_and_seeds() {
    let all = GridSpec::square(32, 1.0).centres().unwrap();
    for (lambda, k) in [(1.0, 1024), (0.5, 512), (0.1, 102), (0.01, 10), (1e-6, 1)] {
        assert_eq!(subsample_size(1024, lambda).unwrap(), k);
        let s = subsample(&all, lambda, 3).unwrap();
        assert_eq!(s.len(), k);
        let set: HashSet<_> = s.iter().map(|&c| key(c)).collect();
        assert_eq!(set.len(), k); // without replacement
        let allset: HashSet<_> = all.iter().map(|&c| key(c)).collect();
        assert!(set.is_subset(&allset));
    }
    let a = subsample(&all, 0.3, 11).unwrap();
    assert_eq!(a, subsample(&all, 0.3, 11).unwrap());
    assert_ne!(a, subsample(&all, 0.3, 12).unwrap());
    for bad in [0.0, -0.1, 1.01, f64::NAN] {
        assert!(matches!(
            subsample(&all, bad, 1),
            Err(Error::InvalidFraction(_))
        ));
    }
}

#[test]
fn bad_grid_input_is_a_typed_error() {
    for (dx, dy) in [
        (0.0, 1.0),
        (1.0, -1.0),
        (f64::NAN, 1.0),
        (1.0, f64::INFINITY),
    ] {
        assert!(matches!(
            GridSpec::new(32, dx, dy).centres(),
            Err(Error::InvalidSpacing { .. })
        ));
    }
    assert!(matches!(
        GridSpec::new(0, 1.0, 1.0).centres(),
        Err(Error::ZeroSize)
    ));
    assert!(matches!(
        bump_data::explicit(&[[1.0, 2.0], [f64::NAN, 0.0]]),
        Err(Error::NonFiniteCentre { index: 1, .. })
    ));
    assert!(GridSpec::square(32, 1e-9).centres().is_err());
}

fn check_split(all: &[[f64; 2]], h: &HeldOut, test_len: usize) -> bump_data::Split {
    let s = split(all, h).unwrap();
    assert_eq!(s.test.len(), test_len, "{h:?}");
    assert_eq!(s.train.len() + s.test.len(), all.len());
    let train: HashSet<_> = s.train.iter().map(|&c| key(c)).collect();
    assert!(
        s.test.iter().all(|&c| !train.contains(&key(c))),
        "held-out centre in train"
    );
    assert!(s.test.iter().all(|&c| h.contains(c)));
    assert!(s.train.iter().all(|&c| !h.contains(c)));
    s
}

#[test]
fn held_out_splits_are_exact_and_disjoint() {
    let unit = GridSpec::square(32, 1.0).centres().unwrap();
    // Interior W×W square, W = 8: [12, 20)² holds 8×8 unit-grid centres.
    check_split(&unit, &HeldOut::interior_square(32.0, 8.0).unwrap(), 64);
    for corner in [
        Corner::TopLeft,
        Corner::TopRight,
        Corner::BottomLeft,
        Corner::BottomRight,
    ] {
        let s = check_split(
            &unit,
            &HeldOut::corner_square(32.0, 5.0, corner).unwrap(),
            25,
        );
        let near_x = if matches!(corner, Corner::TopLeft | Corner::BottomLeft) {
            0.0
        } else {
            31.0
        };
        assert!(s.test.iter().any(|c| c[0] == near_x));
    }
    for edge in [Edge::Top, Edge::Bottom, Edge::Left, Edge::Right] {
        check_split(&unit, &HeldOut::edge_square(32.0, 6.0, edge).unwrap(), 36);
    }
    // Lesions of width 1.0, 3.5, 8.0 on the dx = 0.1 grid (dy = 1): 10, 35, 80 columns × 32 rows.
    let fine = GridSpec::new(32, 0.1, 1.0).centres().unwrap();
    for (w, cols) in [(1.0, 10), (3.5, 35), (8.0, 80)] {
        check_split(&fine, &HeldOut::vertical_band(32.0, w).unwrap(), cols * 32);
    }
    check_split(&unit, &HeldOut::horizontal_band(32.0, 4.0).unwrap(), 4 * 32);
    // Cross of width 6 ([13, 19)): 6·32 + 6·32 − 36 centres, with sections.
    let s = check_split(&unit, &HeldOut::cross(32.0, 6.0).unwrap(), 6 * 32 * 2 - 36);
    let count = |sec| s.test_sections.iter().filter(|&&x| x == sec).count();
    assert_eq!(count(Section::Intersection), 36);
    assert_eq!(count(Section::VerticalBand), 6 * 26);
    assert_eq!(count(Section::HorizontalBand), 6 * 26);
    assert!(s
        .test
        .iter()
        .all(|c| (13.0..19.0).contains(&c[0]) || (13.0..19.0).contains(&c[1])));
}

#[test]
fn held_out_errors() {
    let unit = GridSpec::square(32, 1.0).centres().unwrap();
    // Covers nothing: a square between grid points.
    let gap = HeldOut::square_at(3.2, 3.2, 0.5).unwrap();
    assert!(matches!(split(&unit, &gap), Err(Error::EmptyHeldOut)));
    // Covers everything.
    let all = HeldOut::square_at(-1.0, -1.0, 40.0).unwrap();
    assert!(matches!(split(&unit, &all), Err(Error::EmptyTrain)));
    assert!(HeldOut::interior_square(32.0, 0.0).is_err());
    assert!(HeldOut::vertical_band(32.0, f64::NAN).is_err());
}
