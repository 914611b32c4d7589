//! Persistent homology (H0 and H1 over Z/2) of the Vietoris–Rips filtration of a point cloud.
//!
//! Implemented here rather than taken from a crate (searched: `lophat`, `phlite`, `holos-tda`,
//! `cocycle`). `lophat` and `phlite` reduce a boundary matrix the caller builds (we would still
//! write the Rips complex), and `lophat`'s default features pull in `pyo3`; `holos-tda` is a
//! large, fast-moving 0.x crate (clap, dashmap, sha2, a build script that runs git); `cocycle`
//! 0.1 needs Rust 1.91, above this workspace's 1.85. H0 and H1 of a few hundred points need
//! about 200 lines, tested against an independent boundary-matrix reduction and known answers.
//!
//! # Algorithm
//! - Distances: Euclidean, computed directly (not through the Gram matrix, which loses
//!   precision for close points).
//! - Filtration end: the **enclosing radius** `min_i max_j d(i, j)` unless a smaller
//!   `threshold` is given. At that scale the complex is a cone, so every finite bar is complete.
//! - Edges are ordered by (length, index); a triangle's filtration value is its longest edge's
//!   rank, ties broken by its combinatorial index. The order is a valid filtration.
//! - **H0**: union–find (Kruskal) over the ordered edges; each merge ends a bar `[0, length)`;
//!   the components left are essential.
//! - **H1**: persistent *cohomology* (de Silva, Morozov, Vejdemo-Johansson; Bauer's Ripser):
//!   the coboundary columns of edges are reduced in reverse filtration order, with the pivot the
//!   earliest coface triangle. **Clearing**: edges that end an H0 bar (the spanning-forest edges)
//!   are skipped, their columns being known to reduce to zero. Columns are recomputed from the
//!   triangles on the fly (only the rare additions are stored), and a column whose first pivot is
//!   free (an "apparent pair", the common case) is paired at once without a heap. A pair (edge,
//!   triangle) is the H1 bar `[length(edge), diameter(triangle))`; an unpaired edge that is not a
//!   spanning-forest edge is an essential H1 class (only when `threshold` cuts the filtration
//!   short).
//! - Bars of zero length (birth = death exactly) are left out, as Ripser does.
//!
//! Cost: O(N²) memory and about O(N³) time for N points, so clouds larger than
//! [`RipsConfig::max_points`] (400) are first reduced by seeded farthest-point sampling
//! ([`farthest_point_sample`]), which keeps loops and components at scales above the sampling
//! radius.

use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, HashMap};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::matrix::Activations;
use crate::{Error, Result};

/// One finite bar `[birth, death)` of a persistence diagram.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PersistencePair {
    /// Filtration value (edge length) at which the class is born.
    pub birth: f64,
    /// Filtration value at which it dies; `> birth`.
    pub death: f64,
}

impl PersistencePair {
    /// `death − birth`.
    pub fn persistence(&self) -> f64 {
        self.death - self.birth
    }
}

/// The persistence diagram of one homology dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersistenceDiagram {
    /// Homology dimension (0 or 1).
    pub dimension: usize,
    /// Finite bars, sorted by decreasing persistence.
    pub pairs: Vec<PersistencePair>,
    /// Births of the classes still alive at the end of the filtration (essential classes),
    /// sorted ascending. H0 of a connected filtration has exactly one, born at 0.
    pub essential: Vec<f64>,
}

impl PersistenceDiagram {
    /// Persistences of the finite bars, largest first.
    pub fn persistences(&self) -> Vec<f64> {
        self.pairs
            .iter()
            .map(PersistencePair::persistence)
            .collect()
    }

    /// Number of prominent features under `rule` (see [`ProminenceRule`]): every essential
    /// class, plus every finite bar whose persistence is at least `scale_fraction · scale` and
    /// at least `max_fraction ·` the largest finite persistence.
    pub fn prominent(&self, rule: &ProminenceRule, scale: f64) -> usize {
        let max = self.pairs.first().map_or(0.0, PersistencePair::persistence);
        let cut = (rule.scale_fraction * scale).max(rule.max_fraction * max);
        self.essential.len()
            + self
                .pairs
                .iter()
                .filter(|p| p.persistence() > 0.0 && p.persistence() >= cut)
                .count()
    }
}

/// When a feature counts as prominent (our rule, constants ours). A finite bar is prominent
/// when its persistence is at least `scale_fraction` of the filtration's scale (the enclosing
/// radius, or the threshold when smaller) **and** at least `max_fraction` of the largest finite
/// persistence in its dimension; essential classes always count. The first condition rejects
/// sampling noise (small against the cloud), the second keeps only the bars of the same order as
/// the most persistent one.
///
/// Calibration (tests/homology.rs, seeded clouds, noise bars as a fraction of the scale): on
/// evenly covered clouds (1500 points reduced to 400 by farthest-point sampling) the largest
/// noise bar was at most 0.15 (H0 of the tori and sphere, H1 of the sphere and tori), while the
/// true loops had 0.32–0.34 (3D torus, R = 2, r = 1), 0.50–0.51 (Clifford torus) and 0.73–0.77
/// (circle), and the gap between two separated clusters 0.87. A sparse, uneven sample has
/// larger noise bars (0.19 for 300 random points on a sphere, 0.22 for 400 on a 3D torus), so
/// subsample large clouds evenly rather than sparsely.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProminenceRule {
    /// Minimum persistence as a fraction of the filtration scale. Default 0.2.
    pub scale_fraction: f64,
    /// Minimum persistence as a fraction of the largest finite persistence. Default 0.25.
    pub max_fraction: f64,
}

impl Default for ProminenceRule {
    /// `scale_fraction` 0.2, `max_fraction` 0.25 (ours, calibrated on seeded clouds: see the
    /// type's docs).
    fn default() -> Self {
        Self {
            scale_fraction: 0.2,
            max_fraction: 0.25,
        }
    }
}

/// How the cloud is subsampled when it has more than [`RipsConfig::max_points`] points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subsample {
    /// Greedy farthest-point (max–min) sampling from a seeded random start.
    FarthestPoint,
    /// A seeded uniform random subset.
    Random,
}

/// Settings of [`rips_persistence`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RipsConfig {
    /// Largest cloud computed in full; larger ones are subsampled to this many points.
    /// Default 400 (about a second in release on one core).
    pub max_points: usize,
    /// How to subsample. Default farthest point.
    pub subsample: Subsample,
    /// Seed of the subsample.
    pub seed: u64,
    /// End of the filtration; `None` (default) or a larger value means the enclosing radius.
    pub threshold: Option<f64>,
}

impl Default for RipsConfig {
    /// At most 400 points (farthest-point subsample, seed 0), filtration to the enclosing
    /// radius (all ours).
    fn default() -> Self {
        Self {
            max_points: 400,
            subsample: Subsample::FarthestPoint,
            seed: 0,
            threshold: None,
        }
    }
}

/// H0 and H1 persistence of a Rips filtration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RipsPersistence {
    /// H0 diagram.
    pub h0: PersistenceDiagram,
    /// H1 diagram.
    pub h1: PersistenceDiagram,
    /// The filtration's end: the enclosing radius, or the threshold when smaller.
    pub scale: f64,
    /// The enclosing radius `min_i max_j d(i, j)` of the points used.
    pub enclosing_radius: f64,
    /// Indices (into the input) of the points used, in input order when all were used.
    pub points: Vec<usize>,
}

impl RipsPersistence {
    /// `[prominent H0, prominent H1]` under `rule` at this filtration's scale.
    pub fn prominent(&self, rule: &ProminenceRule) -> [usize; 2] {
        [
            self.h0.prominent(rule, self.scale),
            self.h1.prominent(rule, self.scale),
        ]
    }
}

/// Persistent H0 and H1 of the Vietoris–Rips filtration of the rows of `x`, after subsampling
/// to `cfg.max_points` (see the [module docs](self)).
///
/// # Shapes
/// `x`: N×D, one point per row.
///
/// # Errors
/// `max_points < 1`, or a threshold that is not finite and ≥ 0.
pub fn rips_persistence(x: &Activations, cfg: &RipsConfig) -> Result<RipsPersistence> {
    if cfg.max_points == 0 {
        return Err(Error::InvalidArgument(
            "max_points must be >= 1, got 0".into(),
        ));
    }
    let points: Vec<usize> = if x.n() > cfg.max_points {
        match cfg.subsample {
            Subsample::FarthestPoint => farthest_point_sample(x, cfg.max_points, cfg.seed)?,
            Subsample::Random => {
                let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
                let mut idx = rand::seq::index::sample(&mut rng, x.n(), cfg.max_points).into_vec();
                idx.sort_unstable();
                idx
            }
        }
    } else {
        (0..x.n()).collect()
    };
    let n = points.len();
    let mut dist = vec![0.0; n * n];
    for a in 0..n {
        for b in a + 1..n {
            let d = euclidean(x.row(points[a]), x.row(points[b]));
            dist[a * n + b] = d;
            dist[b * n + a] = d;
        }
    }
    let mut out = rips_from_distances(&dist, n, cfg.threshold)?;
    out.points = points;
    Ok(out)
}

/// Persistent H0 and H1 of the Rips filtration of a symmetric distance matrix, up to
/// `threshold` (`None`: the enclosing radius).
///
/// # Shapes
/// `dist`: N×N row-major, symmetric, zero diagonal.
///
/// # Errors
/// A length that is not N² (N ≥ 1), a negative or non-finite entry, an asymmetric matrix, a
/// non-zero diagonal, or a threshold that is not finite and ≥ 0.
pub fn rips_from_distances(
    dist: &[f64],
    n: usize,
    threshold: Option<f64>,
) -> Result<RipsPersistence> {
    if n == 0 || dist.len() != n * n {
        return Err(Error::LengthMismatch(format!(
            "{} distances for a {n}×{n} matrix (N >= 1)",
            dist.len()
        )));
    }
    if let Some((i, v)) = dist
        .iter()
        .enumerate()
        .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
    {
        return Err(Error::InvalidArgument(format!(
            "distance ({}, {}) must be finite and >= 0, got {v}",
            i / n,
            i % n
        )));
    }
    for a in 0..n {
        if dist[a * n + a] != 0.0 {
            return Err(Error::InvalidArgument(format!(
                "distance ({a}, {a}) must be 0, got {}",
                dist[a * n + a]
            )));
        }
        for b in a + 1..n {
            let (u, v) = (dist[a * n + b], dist[b * n + a]);
            if (u - v).abs() > 1e-12 * u.abs().max(v.abs()).max(1.0) {
                return Err(Error::InvalidArgument(format!(
                    "distances must be symmetric: ({a}, {b}) = {u} but ({b}, {a}) = {v}"
                )));
            }
        }
    }
    if let Some(t) = threshold {
        if !(t.is_finite() && t >= 0.0) {
            return Err(Error::InvalidArgument(format!(
                "threshold must be finite and >= 0, got {t}"
            )));
        }
    }
    let enclosing_radius = (0..n)
        .map(|a| (0..n).map(|b| dist[a * n + b]).fold(0.0, f64::max))
        .fold(f64::INFINITY, f64::min);
    let scale = threshold.map_or(enclosing_radius, |t| t.min(enclosing_radius));
    let complex = Complex::new(dist, n, scale);
    let (h0, forest) = complex.h0();
    let h1 = complex.h1(&forest);
    Ok(RipsPersistence {
        h0,
        h1,
        scale,
        enclosing_radius,
        points: (0..n).collect(),
    })
}

/// Greedy farthest-point (max–min) sample of `m` rows of `x`: a seeded random first point, then
/// repeatedly the point farthest from those chosen (ties: lowest index). Returns the indices in
/// the order chosen; all of `0..N` when `m ≥ N`.
///
/// # Errors
/// `m == 0`.
pub fn farthest_point_sample(x: &Activations, m: usize, seed: u64) -> Result<Vec<usize>> {
    if m == 0 {
        return Err(Error::InvalidArgument(
            "sample size must be >= 1, got 0".into(),
        ));
    }
    let n = x.n();
    if m >= n {
        return Ok((0..n).collect());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let first = rng.random_range(0..n);
    let mut chosen = vec![first];
    let mut nearest: Vec<f64> = (0..n).map(|i| euclidean(x.row(i), x.row(first))).collect();
    while chosen.len() < m {
        let (next, _) =
            nearest.iter().enumerate().fold(
                (0, -1.0),
                |best, (i, &d)| if d > best.1 { (i, d) } else { best },
            );
        chosen.push(next);
        for (i, near) in nearest.iter_mut().enumerate() {
            *near = near.min(euclidean(x.row(i), x.row(next)));
        }
    }
    Ok(chosen)
}

fn euclidean(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(u, v)| (u - v) * (u - v))
        .sum::<f64>()
        .sqrt()
}

/// A triangle's key in the filtration order: (rank of its longest edge, combinatorial index).
type Key = (u32, u64);

const ABSENT: u32 = u32::MAX;

/// The Rips complex up to `scale`: edges ranked by (length, index).
struct Complex {
    n: usize,
    /// Edges `(a, b, length)`, a < b, in filtration order (index = rank).
    edges: Vec<(u32, u32, f64)>,
    /// Rank of edge (a, b) in `edges`, or `ABSENT` beyond the scale; N×N.
    rank: Vec<u32>,
}

impl Complex {
    fn new(dist: &[f64], n: usize, scale: f64) -> Self {
        let mut edges: Vec<(u32, u32, f64)> = Vec::new();
        for a in 0..n {
            for b in a + 1..n {
                let d = dist[a * n + b];
                if d <= scale {
                    edges.push((a as u32, b as u32, d));
                }
            }
        }
        edges.sort_by(|x, y| x.2.total_cmp(&y.2).then((x.0, x.1).cmp(&(y.0, y.1))));
        let mut rank = vec![ABSENT; n * n];
        for (r, &(a, b, _)) in edges.iter().enumerate() {
            rank[a as usize * n + b as usize] = r as u32;
            rank[b as usize * n + a as usize] = r as u32;
        }
        Self { n, edges, rank }
    }

    /// H0 by union–find; also returns which edge ranks joined two components.
    fn h0(&self) -> (PersistenceDiagram, Vec<bool>) {
        let mut parent: Vec<usize> = (0..self.n).collect();
        fn find(p: &mut [usize], mut i: usize) -> usize {
            while p[i] != i {
                p[i] = p[p[i]];
                i = p[i];
            }
            i
        }
        let mut forest = vec![false; self.edges.len()];
        let mut pairs = Vec::new();
        for (r, &(a, b, d)) in self.edges.iter().enumerate() {
            let (ra, rb) = (find(&mut parent, a as usize), find(&mut parent, b as usize));
            if ra != rb {
                parent[ra.max(rb)] = ra.min(rb);
                forest[r] = true;
                if d > 0.0 {
                    pairs.push(PersistencePair {
                        birth: 0.0,
                        death: d,
                    });
                }
            }
        }
        let components = (0..self.n).filter(|&i| find(&mut parent, i) == i).count();
        sort_pairs(&mut pairs);
        (
            PersistenceDiagram {
                dimension: 0,
                pairs,
                essential: vec![0.0; components],
            },
            forest,
        )
    }

    /// Combinatorial index of the triangle a < b < c.
    fn tri_index(a: u64, b: u64, c: u64) -> u64 {
        c * (c - 1) * (c - 2) / 6 + b * (b - 1) / 2 + a
    }

    /// The coface triangles of edge `r` present in the complex, as keys (unordered).
    fn coboundary(&self, r: u32, out: &mut Vec<Key>) {
        let (a, b, _) = self.edges[r as usize];
        let (a, b) = (a as usize, b as usize);
        let n = self.n;
        for c in 0..n {
            if c == a || c == b {
                continue;
            }
            let (ra, rb) = (self.rank[a * n + c], self.rank[b * n + c]);
            if ra == ABSENT || rb == ABSENT {
                continue;
            }
            let mut v = [a as u64, b as u64, c as u64];
            v.sort_unstable();
            out.push((r.max(ra).max(rb), Self::tri_index(v[0], v[1], v[2])));
        }
    }

    /// H1 by persistent cohomology with clearing (see the module docs).
    fn h1(&self, forest: &[bool]) -> PersistenceDiagram {
        // Pivot triangle → (edge rank whose reduced column has it, extra edges added to it).
        let mut pivots: HashMap<Key, (u32, Vec<u32>)> = HashMap::new();
        let mut pairs = Vec::new();
        let mut essential = Vec::new();
        let mut cob = Vec::new();
        let mut heap: BinaryHeap<std::cmp::Reverse<Key>> = BinaryHeap::new();
        for r in (0..self.edges.len() as u32).rev() {
            if forest[r as usize] {
                continue; // Cleared: ends an H0 bar.
            }
            cob.clear();
            self.coboundary(r, &mut cob);
            // Apparent pair: the earliest coface is not yet a pivot.
            let Some(&first) = cob.iter().min() else {
                essential.push(self.edges[r as usize].2);
                continue;
            };
            if let Entry::Vacant(slot) = pivots.entry(first) {
                slot.insert((r, Vec::new()));
                self.push_pair(r, first, &mut pairs);
                continue;
            }
            // Full reduction on a heap of keys; equal keys cancel (Z/2).
            heap.clear();
            heap.extend(cob.iter().map(|&k| std::cmp::Reverse(k)));
            let mut added: Vec<u32> = Vec::new();
            let pivot = loop {
                let Some(p) = pop_pivot(&mut heap) else {
                    break None;
                };
                match pivots.get(&p) {
                    None => break Some(p),
                    Some((other, extra)) => {
                        // Add the other reduced column: δ(other) + Σ δ(extra).
                        for &e in std::iter::once(other).chain(extra.iter()) {
                            added.push(e);
                            cob.clear();
                            self.coboundary(e, &mut cob);
                            heap.extend(cob.iter().map(|&k| std::cmp::Reverse(k)));
                        }
                        heap.push(std::cmp::Reverse(p)); // it cancels with one just added
                    }
                }
            };
            match pivot {
                Some(p) => {
                    // Keep the reduction as a set: an edge added twice cancels.
                    added.sort_unstable();
                    let mut set: Vec<u32> = Vec::new();
                    for e in added {
                        if set.last() == Some(&e) {
                            set.pop();
                        } else {
                            set.push(e);
                        }
                    }
                    pivots.insert(p, (r, set));
                    self.push_pair(r, p, &mut pairs);
                }
                None => essential.push(self.edges[r as usize].2),
            }
        }
        sort_pairs(&mut pairs);
        essential.sort_by(f64::total_cmp);
        PersistenceDiagram {
            dimension: 1,
            pairs,
            essential,
        }
    }

    fn push_pair(&self, edge: u32, tri: Key, pairs: &mut Vec<PersistencePair>) {
        let birth = self.edges[edge as usize].2;
        let death = self.edges[tri.0 as usize].2;
        if death > birth {
            pairs.push(PersistencePair { birth, death });
        }
    }
}

/// Pops the smallest key that does not cancel (Z/2: keys present an even number of times
/// vanish); `None` when the column is zero.
fn pop_pivot(heap: &mut BinaryHeap<std::cmp::Reverse<Key>>) -> Option<Key> {
    while let Some(std::cmp::Reverse(top)) = heap.pop() {
        if heap.peek() == Some(&std::cmp::Reverse(top)) {
            heap.pop();
            continue;
        }
        return Some(top);
    }
    None
}

/// Sorts by decreasing persistence, then birth.
fn sort_pairs(pairs: &mut [PersistencePair]) {
    pairs.sort_by(|a, b| {
        b.persistence()
            .total_cmp(&a.persistence())
            .then(a.birth.total_cmp(&b.birth))
    });
}
