//! Exact k-NN and the fuzzy simplicial set (steps 1–2 of [`umap`](super::umap)).

use crate::matrix::Activations;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};

/// The Gram matrix of the centred rows, N×N, computed sequentially (`Par::Seq`) so that its
/// bits do not depend on the thread count.
pub(super) fn centred_gram(a: &Activations) -> Mat<f64> {
    let x = a.to_mat(true);
    let n = x.nrows();
    let mut g = Mat::zeros(n, n);
    matmul(
        g.as_mut(),
        Accum::Replace,
        x.as_ref(),
        x.transpose(),
        1.0,
        Par::Seq,
    );
    g
}

/// Each point's k nearest points, itself first (distance 0): row i is
/// `idx[i·k..(i + 1)·k]`, `dist[i·k..(i + 1)·k]`, by increasing distance.
pub(super) struct Knn {
    /// Points N.
    pub n: usize,
    /// Neighbours per point, the point itself included.
    pub k: usize,
    /// Neighbour indices, N×k row-major.
    pub idx: Vec<usize>,
    /// Euclidean distances, N×k row-major.
    pub dist: Vec<f64>,
}

/// Exact k-NN: candidates are ranked by the Gram-matrix distance (d² = Gᵢᵢ + Gⱼⱼ − 2Gᵢⱼ, one
/// O(N²D) product for all pairs), then the k − 1 chosen distances are recomputed directly from
/// the rows, so that duplicates are exactly 0 and close pairs carry no cancellation error.
/// Ties are broken by index. Needs 2 ≤ k < N (checked by the caller).
pub(super) fn exact_knn(a: &Activations, g: &Mat<f64>, k: usize) -> Knn {
    let n = g.nrows();
    let m = k - 1;
    let diag: Vec<f64> = (0..n).map(|i| g[(i, i)]).collect();
    let mut idx = Vec::with_capacity(n * k);
    let mut dist = Vec::with_capacity(n * k);
    let mut row: Vec<(f64, usize)> = Vec::with_capacity(n);
    let by_dist = |p: &(f64, usize), q: &(f64, usize)| p.0.total_cmp(&q.0).then(p.1.cmp(&q.1));
    for i in 0..n {
        row.clear();
        row.extend(
            (0..n)
                .filter(|&j| j != i)
                .map(|j| ((diag[i] + diag[j] - 2.0 * g[(i, j)]).max(0.0), j)),
        );
        row.select_nth_unstable_by(m - 1, by_dist);
        let near = &mut row[..m];
        let xi = a.row(i);
        for p in near.iter_mut() {
            let xj = a.row(p.1);
            p.0 = xi
                .iter()
                .zip(xj)
                .map(|(u, v)| (u - v) * (u - v))
                .sum::<f64>()
                .sqrt();
        }
        near.sort_unstable_by(by_dist);
        idx.push(i);
        dist.push(0.0);
        for &(d, j) in near.iter() {
            idx.push(j);
            dist.push(d);
        }
    }
    Knn { n, k, idx, dist }
}

/// umap-learn's `smooth_knn_dist`: per point, ρ (distance to the `local_connectivity`-th
/// non-zero neighbour, interpolated) and σ with Σⱼ exp(−max(0, dⱼ − ρ)/σ) = log₂ k over the
/// k − 1 neighbours (64 bisection steps, tolerance 1e-5), floored at 1e-3 × the point's mean
/// k-NN distance (× the mean over all points when ρ = 0). Returns (σ, ρ).
pub(super) fn smooth_knn(knn: &Knn, local_connectivity: f64) -> (Vec<f64>, Vec<f64>) {
    const N_ITER: usize = 64;
    const TOLERANCE: f64 = 1e-5;
    const MIN_K_DIST_SCALE: f64 = 1e-3;
    let k = knn.k;
    let target = (k as f64).log2();
    let mean_all = knn.dist.iter().sum::<f64>() / knn.dist.len() as f64;
    let mut sigmas = Vec::with_capacity(knn.n);
    let mut rhos = Vec::with_capacity(knn.n);
    for row in knn.dist.chunks_exact(k) {
        let non_zero: Vec<f64> = row.iter().copied().filter(|&d| d > 0.0).collect();
        let mut rho = 0.0;
        if !non_zero.is_empty() {
            if non_zero.len() as f64 >= local_connectivity {
                let index = local_connectivity.floor() as usize;
                let interpolation = local_connectivity - index as f64;
                if index > 0 {
                    rho = non_zero[index - 1];
                    if interpolation > TOLERANCE {
                        rho += interpolation * (non_zero[index] - non_zero[index - 1]);
                    }
                } else {
                    rho = interpolation * non_zero[0];
                }
            } else {
                rho = non_zero.iter().copied().fold(0.0, f64::max);
            }
        }
        let (mut lo, mut hi, mut mid) = (0.0, f64::INFINITY, 1.0);
        for _ in 0..N_ITER {
            let psum: f64 = row[1..]
                .iter()
                .map(|&d| {
                    let x = d - rho;
                    if x > 0.0 {
                        (-x / mid).exp()
                    } else {
                        1.0
                    }
                })
                .sum();
            if (psum - target).abs() < TOLERANCE {
                break;
            }
            if psum > target {
                hi = mid;
                mid = (lo + hi) / 2.0;
            } else {
                lo = mid;
                mid = if hi == f64::INFINITY {
                    mid * 2.0
                } else {
                    (lo + hi) / 2.0
                };
            }
        }
        let floor = if rho > 0.0 {
            MIN_K_DIST_SCALE * row.iter().sum::<f64>() / k as f64
        } else {
            MIN_K_DIST_SCALE * mean_all
        };
        sigmas.push(mid.max(floor));
        rhos.push(rho);
    }
    (sigmas, rhos)
}

/// A symmetric weighted graph as a list of directed edges in row-major order (both directions
/// of every pair), like scipy's COO form of umap-learn's graph.
pub(super) struct Edges {
    /// Source vertex of each edge.
    pub head: Vec<usize>,
    /// Target vertex of each edge.
    pub tail: Vec<usize>,
    /// Membership strength in (0, 1].
    pub weight: Vec<f64>,
}

/// The directed memberships wᵢⱼ = exp(−(dᵢⱼ − ρᵢ)/σᵢ) (1 where dᵢⱼ ≤ ρᵢ or σᵢ = 0; none from
/// a point to itself), symmetrised by the fuzzy union w + wᵀ − w∘wᵀ.
pub(super) fn fuzzy_union(knn: &Knn, sigmas: &[f64], rhos: &[f64]) -> Edges {
    let k = knn.k;
    // (row, col, weight) of w and of wᵀ: an ordered pair occurs at most once in each, so at
    // most twice in all, and sorting puts the two next to each other.
    let mut entries: Vec<(usize, usize, f64)> = Vec::with_capacity(2 * knn.n * (k - 1));
    for i in 0..knn.n {
        for c in 1..k {
            let (j, d) = (knn.idx[i * k + c], knn.dist[i * k + c]);
            let w = if d - rhos[i] <= 0.0 || sigmas[i] == 0.0 {
                1.0
            } else {
                (-(d - rhos[i]) / sigmas[i]).exp()
            };
            if w > 0.0 {
                entries.push((i, j, w));
                entries.push((j, i, w));
            }
        }
    }
    entries.sort_unstable_by_key(|&(i, j, _)| (i, j));
    let mut edges = Edges {
        head: Vec::with_capacity(entries.len()),
        tail: Vec::with_capacity(entries.len()),
        weight: Vec::with_capacity(entries.len()),
    };
    let mut t = 0;
    while t < entries.len() {
        let (i, j, w) = entries[t];
        let both = t + 1 < entries.len() && (entries[t + 1].0, entries[t + 1].1) == (i, j);
        let w = if both {
            let v = entries[t + 1].2;
            w + v - w * v
        } else {
            w
        };
        t += if both { 2 } else { 1 };
        edges.head.push(i);
        edges.tail.push(j);
        edges.weight.push(w);
    }
    edges
}

/// Drops the edges below max(w)/`n_epochs`: they would be sampled less than once.
pub(super) fn prune(edges: &mut Edges, n_epochs: usize) {
    let max = edges.weight.iter().copied().fold(0.0, f64::max);
    let cut = max / n_epochs as f64;
    let kept: Vec<usize> = (0..edges.weight.len())
        .filter(|&e| edges.weight[e] >= cut)
        .collect();
    edges.head = kept.iter().map(|&e| edges.head[e]).collect();
    edges.tail = kept.iter().map(|&e| edges.tail[e]).collect();
    edges.weight = kept.iter().map(|&e| edges.weight[e]).collect();
}
