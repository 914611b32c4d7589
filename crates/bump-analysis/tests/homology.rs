//! Known-answer tests of Vietoris–Rips persistent homology (issue 15).

use std::f64::consts::{PI, TAU};

use bump_analysis::{
    farthest_point_sample, rips_from_distances, rips_persistence, Activations, Error,
    PersistenceDiagram, ProminenceRule, RipsConfig, RipsPersistence, Subsample,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

fn cloud(rows: Vec<Vec<f64>>) -> Activations {
    Activations::from_rows(&rows).unwrap()
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    StandardNormal.sample(rng)
}

/// `n` points on the unit circle at seeded uniform angles, radial noise of standard deviation
/// `noise`.
fn circle(n: usize, noise: f64, seed: u64) -> Activations {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    cloud(
        (0..n)
            .map(|_| {
                let t = rng.random_range(0.0..TAU);
                let r = 1.0 + noise * normal(&mut rng);
                vec![r * t.cos(), r * t.sin()]
            })
            .collect(),
    )
}

/// `n` points uniform on the unit sphere S².
fn sphere(n: usize, seed: u64) -> Activations {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    cloud(
        (0..n)
            .map(|_| {
                let v: Vec<f64> = (0..3).map(|_| normal(&mut rng)).collect();
                let r = v.iter().map(|a| a * a).sum::<f64>().sqrt();
                v.iter().map(|a| a / r).collect()
            })
            .collect(),
    )
}

/// `n` points uniform (by area) on the torus of revolution (R = 2, r = 1): the tube angle is
/// drawn by rejection with density ∝ R + r cos θ.
fn torus3(n: usize, seed: u64) -> Activations {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    cloud(
        (0..n)
            .map(|_| {
                let p = rng.random_range(0.0..TAU);
                let t = loop {
                    let t: f64 = rng.random_range(0.0..TAU);
                    if rng.random_range(0.0..3.0) <= 2.0 + t.cos() {
                        break t;
                    }
                };
                let ring = 2.0 + t.cos();
                vec![ring * p.cos(), ring * p.sin(), t.sin()]
            })
            .collect(),
    )
}

/// `n` points on the Clifford torus in R⁴ at seeded uniform angles.
fn clifford(n: usize, seed: u64) -> Activations {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    cloud(
        (0..n)
            .map(|_| {
                let (a, b) = (rng.random_range(0.0..TAU), rng.random_range(0.0..TAU));
                vec![a.cos(), a.sin(), b.cos(), b.sin()]
            })
            .collect(),
    )
}

fn ratios(d: &PersistenceDiagram, scale: f64) -> Vec<f64> {
    d.persistences().iter().take(4).map(|p| p / scale).collect()
}

fn report(name: &str, r: &RipsPersistence) {
    eprintln!(
        "{name}: scale {:.3}; top H0/scale {:?}; top H1/scale {:?}",
        r.scale,
        ratios(&r.h0, r.scale),
        ratios(&r.h1, r.scale)
    );
}

#[test]
fn evenly_spaced_circle_has_the_known_single_loop() {
    // n = 60 points evenly on the unit circle: the loop is born when the 60 sides of length
    // 2 sin(π/60) enter and dies when the inscribed equilateral triangles (side √3) enter
    // (Adamaszek–Adams: VR(C_n; k) ≃ S¹ for k/n < 1/3 and a wedge of 2-spheres at 1/3).
    let n = 60;
    let x = cloud(
        (0..n)
            .map(|i| {
                let t = TAU * i as f64 / n as f64;
                vec![t.cos(), t.sin()]
            })
            .collect(),
    );
    let r = rips_persistence(&x, &RipsConfig::default()).unwrap();
    let side = 2.0 * (PI / n as f64).sin();
    let bars: Vec<_> =
        r.h1.pairs
            .iter()
            .filter(|p| p.persistence() > 1e-9)
            .collect();
    assert_eq!(bars.len(), 1, "{:?}", r.h1);
    assert!((bars[0].birth - side).abs() < 1e-9, "{:?}", bars[0]);
    assert!((bars[0].death - 3f64.sqrt()).abs() < 1e-9, "{:?}", bars[0]);
    assert!(r.h1.essential.is_empty());
    // H0: 59 bars ending at the side length, one essential class.
    assert_eq!(r.h0.pairs.len(), n - 1);
    assert!(r.h0.pairs.iter().all(|p| (p.death - side).abs() < 1e-9));
    assert_eq!(r.h0.essential, vec![0.0]);
    assert!((r.enclosing_radius - 2.0).abs() < 1e-9);
    assert_eq!(r.prominent(&ProminenceRule::default()), [1, 1]);
}

#[test]
fn noisy_circle_has_one_component_and_one_loop() {
    for seed in 0..3 {
        let r = rips_persistence(&circle(200, 0.03, seed), &RipsConfig::default()).unwrap();
        report("circle", &r);
        assert_eq!(
            r.prominent(&ProminenceRule::default()),
            [1, 1],
            "seed {seed}"
        );
    }
}

#[test]
fn tori_have_two_loops() {
    for seed in 0..2 {
        // 1500 points, reduced to 400 by farthest-point sampling (the default): an even cover.
        let r = rips_persistence(&torus3(1500, seed), &RipsConfig::default()).unwrap();
        report("3D torus", &r);
        assert_eq!(
            r.prominent(&ProminenceRule::default()),
            [1, 2],
            "3D seed {seed}"
        );
        let r = rips_persistence(&clifford(1500, seed), &RipsConfig::default()).unwrap();
        report("Clifford torus", &r);
        assert_eq!(
            r.prominent(&ProminenceRule::default()),
            [1, 2],
            "4D seed {seed}"
        );
    }
}

#[test]
fn sphere_has_no_prominent_loop() {
    for seed in 0..3 {
        // 1500 points, reduced to 400 by farthest-point sampling (the default).
        let r = rips_persistence(&sphere(1500, seed), &RipsConfig::default()).unwrap();
        report("sphere", &r);
        assert_eq!(
            r.prominent(&ProminenceRule::default()),
            [1, 0],
            "seed {seed}"
        );
    }
}

#[test]
fn two_separated_clusters_have_two_components_merging_at_their_gap() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let rows: Vec<Vec<f64>> = (0..120)
        .map(|i| {
            let shift = if i < 60 { 0.0 } else { 10.0 };
            vec![
                shift + 0.3 * normal(&mut rng),
                0.3 * normal(&mut rng),
                0.3 * normal(&mut rng),
            ]
        })
        .collect();
    // Single linkage: the two clusters merge at the smallest distance between them.
    let mut gap = f64::INFINITY;
    for a in &rows[..60] {
        for b in &rows[60..] {
            let d = a
                .iter()
                .zip(b)
                .map(|(u, v)| (u - v) * (u - v))
                .sum::<f64>()
                .sqrt();
            gap = gap.min(d);
        }
    }
    let r = rips_persistence(&cloud(rows), &RipsConfig::default()).unwrap();
    report("two clusters", &r);
    assert!(
        (r.h0.pairs[0].death - gap).abs() < 1e-12,
        "{:?} vs {gap}",
        r.h0.pairs[0]
    );
    assert_eq!(r.prominent(&ProminenceRule::default())[0], 2);
}

/// Independent reference: the standard column reduction of the full boundary matrix (vertices,
/// all edges, all triangles) over Z/2, simplices ordered by (diameter, dimension).
fn reference_pairs(x: &Activations) -> [Vec<(f64, f64)>; 2] {
    let n = x.n();
    let d = |a: usize, b: usize| {
        x.row(a)
            .iter()
            .zip(x.row(b))
            .map(|(u, v)| (u - v) * (u - v))
            .sum::<f64>()
            .sqrt()
    };
    let mut simplices: Vec<(f64, Vec<usize>)> = (0..n).map(|v| (0.0, vec![v])).collect();
    for a in 0..n {
        for b in a + 1..n {
            simplices.push((d(a, b), vec![a, b]));
            for c in b + 1..n {
                simplices.push((d(a, b).max(d(a, c)).max(d(b, c)), vec![a, b, c]));
            }
        }
    }
    simplices.sort_by(|s, t| s.0.total_cmp(&t.0).then(s.1.len().cmp(&t.1.len())));
    let index: std::collections::HashMap<Vec<usize>, usize> = simplices
        .iter()
        .enumerate()
        .map(|(i, s)| (s.1.clone(), i))
        .collect();
    let mut columns: Vec<Vec<usize>> = simplices
        .iter()
        .map(|(_, s)| {
            let mut faces: Vec<usize> = if s.len() == 1 {
                vec![]
            } else {
                (0..s.len())
                    .map(|k| {
                        let mut f = s.clone();
                        f.remove(k);
                        index[&f]
                    })
                    .collect()
            };
            faces.sort_unstable();
            faces
        })
        .collect();
    let mut low_of: std::collections::HashMap<usize, usize> = Default::default();
    let mut out = [Vec::new(), Vec::new()];
    for j in 0..columns.len() {
        while let Some(&low) = columns[j].last() {
            match low_of.get(&low) {
                Some(&k) => {
                    let other = columns[k].clone();
                    let mut sum: Vec<usize> =
                        columns[j].iter().chain(&other).copied().collect::<Vec<_>>();
                    sum.sort_unstable();
                    let mut reduced = Vec::new();
                    for v in sum {
                        if reduced.last() == Some(&v) {
                            reduced.pop();
                        } else {
                            reduced.push(v);
                        }
                    }
                    columns[j] = reduced;
                }
                None => {
                    low_of.insert(low, j);
                    let (birth, death) = (simplices[low].0, simplices[j].0);
                    if death > birth {
                        out[simplices[low].1.len() - 1].push((birth, death));
                    }
                    break;
                }
            }
        }
    }
    for v in &mut out {
        v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    }
    out
}

#[test]
fn matches_an_independent_boundary_matrix_reduction() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for trial in 0..12 {
        let (n, dim) = (7 + trial % 6, 2 + trial % 3);
        let x = cloud(
            (0..n)
                .map(|_| (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect())
                .collect(),
        );
        let want = reference_pairs(&x);
        let r = rips_persistence(&x, &RipsConfig::default()).unwrap();
        for (k, diagram) in [&r.h0, &r.h1].into_iter().enumerate() {
            let mut got: Vec<(f64, f64)> =
                diagram.pairs.iter().map(|p| (p.birth, p.death)).collect();
            got.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
            assert_eq!(
                got.len(),
                want[k].len(),
                "trial {trial} H{k}: {got:?} vs {:?}",
                want[k]
            );
            for (g, w) in got.iter().zip(&want[k]) {
                assert!(
                    (g.0 - w.0).abs() < 1e-12 && (g.1 - w.1).abs() < 1e-12,
                    "trial {trial} H{k}: {got:?} vs {:?}",
                    want[k]
                );
            }
        }
        assert_eq!(r.h0.essential.len(), 1);
        assert!(r.h1.essential.is_empty());
    }
}

#[test]
fn subsampled_circle_keeps_its_loop_and_the_sample_covers() {
    let x = circle(1500, 0.02, 9);
    for subsample in [Subsample::FarthestPoint, Subsample::Random] {
        let cfg = RipsConfig {
            max_points: 150,
            subsample,
            seed: 4,
            ..RipsConfig::default()
        };
        let r = rips_persistence(&x, &cfg).unwrap();
        let mut idx = r.points.clone();
        idx.sort_unstable();
        idx.dedup();
        assert_eq!(idx.len(), 150, "{subsample:?}");
        assert_eq!(
            r.prominent(&ProminenceRule::default()),
            [1, 1],
            "{subsample:?}"
        );
    }
    // Farthest-point sampling: the covering radius is at most the smallest distance between
    // chosen points, and the same seed gives the same sample.
    let s = farthest_point_sample(&x, 60, 1).unwrap();
    assert_eq!(s, farthest_point_sample(&x, 60, 1).unwrap());
    let dist = |a: usize, b: usize| {
        x.row(a)
            .iter()
            .zip(x.row(b))
            .map(|(u, v)| (u - v) * (u - v))
            .sum::<f64>()
            .sqrt()
    };
    let covering = (0..x.n())
        .map(|i| s.iter().map(|&c| dist(i, c)).fold(f64::INFINITY, f64::min))
        .fold(0.0, f64::max);
    let mut separation = f64::INFINITY;
    for (a, &p) in s.iter().enumerate() {
        for &q in &s[a + 1..] {
            separation = separation.min(dist(p, q));
        }
    }
    assert!(covering <= separation + 1e-12, "{covering} > {separation}");
}

#[test]
fn diagrams_do_not_depend_on_point_order() {
    let x = torus3(120, 5);
    let mut order: Vec<usize> = (0..x.n()).collect();
    order.reverse();
    order.swap(3, 70);
    let a = rips_persistence(&x, &RipsConfig::default()).unwrap();
    let b = rips_persistence(&x.select(&order), &RipsConfig::default()).unwrap();
    for (p, q) in [(&a.h0, &b.h0), (&a.h1, &b.h1)] {
        assert_eq!(p.pairs.len(), q.pairs.len());
        for (u, v) in p.persistences().iter().zip(q.persistences()) {
            assert!((u - v).abs() < 1e-12);
        }
    }
}

#[test]
fn a_threshold_cuts_bars_into_essential_classes() {
    // Below the circle's death (√3) the loop is still alive at the end: essential.
    let x = circle(80, 0.0, 2);
    let r = rips_persistence(
        &x,
        &RipsConfig {
            threshold: Some(1.0),
            ..RipsConfig::default()
        },
    )
    .unwrap();
    assert_eq!(r.scale, 1.0);
    assert_eq!(r.h1.essential.len(), 1, "{:?}", r.h1);
    assert!(r.h1.pairs.iter().all(|p| p.death <= 1.0));
}

#[test]
fn bad_input_is_a_typed_error() {
    assert!(matches!(
        rips_from_distances(&[0.0, 1.0, 1.0], 2, None),
        Err(Error::LengthMismatch(_))
    ));
    let e = rips_from_distances(&[0.0, 1.0, 2.0, 0.0], 2, None).unwrap_err();
    assert!(e.to_string().contains("symmetric"), "{e}");
    let e = rips_from_distances(&[0.0, f64::NAN, f64::NAN, 0.0], 2, None).unwrap_err();
    assert!(e.to_string().contains("NaN"), "{e}");
    let e = rips_from_distances(&[0.0, 1.0, 1.0, 0.0], 2, Some(-1.0)).unwrap_err();
    assert!(
        e.to_string().contains("threshold") && e.to_string().contains("-1"),
        "{e}"
    );
    let x = circle(10, 0.0, 0);
    let cfg = RipsConfig {
        max_points: 0,
        ..RipsConfig::default()
    };
    assert!(rips_persistence(&x, &cfg)
        .unwrap_err()
        .to_string()
        .contains("max_points"));
    assert!(farthest_point_sample(&x, 0, 0).is_err());
    // One point: one component, no loop.
    let r = rips_from_distances(&[0.0], 1, None).unwrap();
    assert_eq!((r.h0.essential.len(), r.h1.pairs.len()), (1, 0));
}
