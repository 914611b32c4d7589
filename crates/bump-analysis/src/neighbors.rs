//! Distances and neighbour lists.

use crate::matrix::Activations;

/// All pairwise Euclidean distances, N×N row-major (computed through the Gram matrix).
pub fn pairwise_distances(a: &Activations) -> Vec<f64> {
    let n = a.n();
    let m = a.to_mat(true);
    let g = &m * m.transpose();
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
