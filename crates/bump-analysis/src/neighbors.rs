//! Distances and neighbour lists.

use crate::matrix::Activations;
use faer::Mat;

/// All pairwise Euclidean distances, N×N row-major (computed through the Gram matrix).
///
/// # Shapes
/// `a`: N×D → N×N row-major.
pub fn pairwise_distances(a: &Activations) -> Vec<f64> {
    distances_from_gram(&a.gram())
}

/// Distances from a Gram matrix: d²ᵢⱼ = Gᵢᵢ + Gⱼⱼ − 2Gᵢⱼ (clamped at 0 against round-off).
pub(crate) fn distances_from_gram(g: &Mat<f64>) -> Vec<f64> {
    let n = g.nrows();
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            let d2 = g[(i, i)] + g[(j, j)] - 2.0 * g[(i, j)];
            out[i * n + j] = if i == j { 0.0 } else { d2.max(0.0).sqrt() };
        }
    }
    out
}

/// Pairwise distances of 2D points.
pub(crate) fn coord_distances(c: &[[f64; 2]]) -> Vec<f64> {
    let n = c.len();
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            out[i * n + j] = ((c[i][0] - c[j][0]).powi(2) + (c[i][1] - c[j][1]).powi(2)).sqrt();
        }
    }
    out
}

/// For each point, the other points sorted by distance (ties broken by index).
pub(crate) fn sorted_neighbors(dist: &[f64], n: usize) -> Vec<Vec<usize>> {
    (0..n)
        .map(|i| {
            let row = &dist[i * n..(i + 1) * n];
            let mut idx: Vec<usize> = (0..n).filter(|&j| j != i).collect();
            idx.sort_by(|&a, &b| row[a].total_cmp(&row[b]).then(a.cmp(&b)));
            idx
        })
        .collect()
}

/// A distance matrix with every point's neighbours sorted once, shared by the metrics that
/// need them (the suite would otherwise sort N² distances a dozen times).
pub(crate) struct Neighborhood {
    /// Points N.
    pub n: usize,
    /// N×N row-major distances.
    pub dist: Vec<f64>,
    /// For each point, the other N − 1 points by increasing distance.
    pub sorted: Vec<Vec<usize>>,
}

impl Neighborhood {
    /// Sorts the neighbours of an N×N distance matrix.
    pub fn new(dist: Vec<f64>, n: usize) -> Self {
        let sorted = sorted_neighbors(&dist, n);
        Self { n, dist, sorted }
    }

    /// Distances from point `i` to its first `k` neighbours, increasing.
    pub fn knn_distances(&self, i: usize, k: usize) -> impl Iterator<Item = f64> + '_ {
        self.sorted[i][..k]
            .iter()
            .map(move |&j| self.dist[i * self.n + j])
    }
}
