//! Order: trustworthiness, continuity, k-NN overlap, Spearman ρ, Isomap and Procrustes.

use crate::matrix::Activations;
use crate::neighbors::Neighborhood;
use crate::{Error, Result};
use faer::{Mat, Side};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Trustworthiness T(k) (Venna & Kaski), as scikit-learn computes it: with `original` and
/// `embedded` N×N distance matrices, T = 1 − 2/(Nk(2N − 3k − 1)) Σᵢ Σ_{j ∈ U_k(i)} (r(i, j) − k),
/// where U_k(i) are i's k nearest neighbours in the embedding that are not among its k nearest
/// in the original space, and r(i, j) is j's rank from i in the original space.
/// Penalises false neighbours: an embedding that tangles the original is untrustworthy.
pub fn trustworthiness(original: &[f64], embedded: &[f64], n: usize, k: usize) -> Result<f64> {
    if original.len() != n * n || embedded.len() != n * n {
        return Err(Error::LengthMismatch(
            "distance matrices must be N×N".into(),
        ));
    }
    check_trust(n, k)?;
    Ok(trust_from(
        &Neighborhood::new(original.to_vec(), n),
        &Neighborhood::new(embedded.to_vec(), n),
        k,
    ))
}

/// [`trustworthiness`] on precomputed neighbours (requires validated N and k).
pub(crate) fn trust_from(original: &Neighborhood, embedded: &Neighborhood, k: usize) -> f64 {
    let n = original.n;
    let mut rank = vec![0usize; n];
    let mut total = 0.0f64;
    for i in 0..n {
        for (r, &j) in original.sorted[i].iter().enumerate() {
            rank[j] = r + 1;
        }
        for &j in &embedded.sorted[i][..k] {
            if rank[j] > k {
                total += (rank[j] - k) as f64;
            }
        }
    }
    let (nf, kf) = (n as f64, k as f64);
    1.0 - total * 2.0 / (nf * kf * (2.0 * nf - 3.0 * kf - 1.0))
}

/// Checks the sizes trustworthiness needs: N > k > 0 and k < N/2 − 1/3 (the normaliser
/// 2N − 3k − 1 must stay positive; scikit-learn requires k < N/2).
pub(crate) fn check_trust(n: usize, k: usize) -> Result<()> {
    if k == 0 || 2 * n < 3 * k + 2 || n <= k {
        return Err(Error::TooFewPoints { n, k });
    }
    Ok(())
}

/// Continuity C(k): trustworthiness with the roles of the two spaces swapped. Penalises
/// missing neighbours: an embedding that tears the original apart is discontinuous.
pub fn continuity(original: &[f64], embedded: &[f64], n: usize, k: usize) -> Result<f64> {
    trustworthiness(embedded, original, n, k)
}

/// Mean fraction of shared k nearest neighbours between the two spaces.
pub fn knn_overlap(a: &[f64], b: &[f64], n: usize, k: usize) -> Result<f64> {
    if n <= k || k == 0 {
        return Err(Error::TooFewPoints { n, k });
    }
    if a.len() != n * n || b.len() != n * n {
        return Err(Error::LengthMismatch(
            "distance matrices must be N×N".into(),
        ));
    }
    Ok(overlap_from(
        &Neighborhood::new(a.to_vec(), n),
        &Neighborhood::new(b.to_vec(), n),
        k,
    ))
}

/// [`knn_overlap`] on precomputed neighbours (requires N > k > 0).
pub(crate) fn overlap_from(a: &Neighborhood, b: &Neighborhood, k: usize) -> f64 {
    let mut member = vec![false; a.n];
    let mut total = 0usize;
    for i in 0..a.n {
        a.sorted[i][..k].iter().for_each(|&j| member[j] = true);
        total += b.sorted[i][..k].iter().filter(|&&j| member[j]).count();
        a.sorted[i][..k].iter().for_each(|&j| member[j] = false);
    }
    total as f64 / (a.n * k) as f64
}

fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &t in &idx[i..=j] {
            r[t] = avg;
        }
        i = j + 1;
    }
    r
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    if saa > 0.0 && sbb > 0.0 {
        sab / (saa * sbb).sqrt()
    } else {
        0.0
    }
}

/// Spearman ρ between the pairwise distances of two spaces (average ranks for ties), over all
/// pairs i < j, and over local pairs (j among i's k nearest in `a`), returned as (all, local).
pub fn spearman_distances(a: &[f64], b: &[f64], n: usize, k: usize) -> Result<(f64, f64)> {
    if a.len() != n * n || b.len() != n * n {
        return Err(Error::LengthMismatch(
            "distance matrices must be N×N".into(),
        ));
    }
    if n <= k || k == 0 {
        return Err(Error::TooFewPoints { n, k });
    }
    Ok(spearman_from(&Neighborhood::new(a.to_vec(), n), b, k))
}

/// [`spearman_distances`] with `a`'s neighbours precomputed (requires N > k > 0).
pub(crate) fn spearman_from(a: &Neighborhood, b: &[f64], k: usize) -> (f64, f64) {
    let n = a.n;
    let mut xa = Vec::with_capacity(n * (n - 1) / 2);
    let mut xb = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            xa.push(a.dist[i * n + j]);
            xb.push(b[i * n + j]);
        }
    }
    let all = pearson(&ranks(&xa), &ranks(&xb));
    let (mut la, mut lb) = (Vec::new(), Vec::new());
    for i in 0..n {
        for &j in &a.sorted[i][..k] {
            la.push(a.dist[i * n + j]);
            lb.push(b[i * n + j]);
        }
    }
    let local = pearson(&ranks(&la), &ranks(&lb));
    (all, local)
}

/// Geodesic distances along the symmetric k-NN graph of `a` (Dijkstra from every point),
/// N×N row-major. Errors if the graph is disconnected.
pub fn geodesic_distances(a: &Activations, k: usize) -> Result<Vec<f64>> {
    let n = a.n();
    if n <= k || k == 0 {
        return Err(Error::TooFewPoints { n, k });
    }
    geodesic_from(
        &Neighborhood::new(crate::neighbors::pairwise_distances(a), n),
        k,
    )
}

/// [`geodesic_distances`] on precomputed neighbours (requires N > k > 0).
pub(crate) fn geodesic_from(nb: &Neighborhood, k: usize) -> Result<Vec<f64>> {
    let n = nb.n;
    let mut adj: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    for i in 0..n {
        for &j in &nb.sorted[i][..k] {
            let w = nb.dist[i * n + j];
            adj[i].push((j, w));
            adj[j].push((i, w));
        }
    }
    let mut geo = vec![f64::INFINITY; n * n];
    for s in 0..n {
        let row = &mut geo[s * n..(s + 1) * n];
        row[s] = 0.0;
        let mut heap = BinaryHeap::new();
        heap.push(Reverse((OrdF64(0.0), s)));
        while let Some(Reverse((OrdF64(d), u))) = heap.pop() {
            if d > row[u] {
                continue;
            }
            for &(v, w) in &adj[u] {
                let nd = d + w;
                if nd < row[v] {
                    row[v] = nd;
                    heap.push(Reverse((OrdF64(nd), v)));
                }
            }
        }
        if row.iter().any(|v| v.is_infinite()) {
            return Err(Error::Disconnected { k });
        }
    }
    Ok(geo)
}

/// Isomap in 2D: symmetric k-NN graph on `a`, geodesic distances by Dijkstra, classical MDS.
pub fn isomap_2d(a: &Activations, k: usize) -> Result<Vec<[f64; 2]>> {
    let geo = geodesic_distances(a, k)?;
    classical_mds_2d(&geo, a.n())
}

/// An f64 with a total order, for the Dijkstra heap.
struct OrdF64(f64);
impl PartialEq for OrdF64 {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0).is_eq()
    }
}
impl Eq for OrdF64 {}
impl PartialOrd for OrdF64 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for OrdF64 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Classical MDS: B = −½ J D² J, top two eigenvectors scaled by √λ.
pub(crate) fn classical_mds_2d(d: &[f64], n: usize) -> Result<Vec<[f64; 2]>> {
    let d2 = Mat::from_fn(n, n, |i, j| d[i * n + j] * d[i * n + j]);
    let row_means: Vec<f64> = (0..n)
        .map(|i| (0..n).map(|j| d2[(i, j)]).sum::<f64>() / n as f64)
        .collect();
    let total = row_means.iter().sum::<f64>() / n as f64;
    let b = Mat::from_fn(n, n, |i, j| {
        -0.5 * (d2[(i, j)] - row_means[i] - row_means[j] + total)
    });
    let evd = b
        .self_adjoint_eigen(Side::Lower)
        .map_err(|e| Error::LinearAlgebra(format!("{e:?}")))?;
    let s = evd.S().column_vector();
    let u = evd.U();
    let (i1, i2) = (n - 1, n - 2);
    let (s1, s2) = (s[i1].max(0.0).sqrt(), s[i2].max(0.0).sqrt());
    Ok((0..n).map(|r| [u[(r, i1)] * s1, u[(r, i2)] * s2]).collect())
}

/// Procrustes disparity between two 2D point sets (as `scipy.spatial.procrustes`): both are
/// centred and scaled to unit Frobenius norm, the second is optimally rotated/reflected and
/// scaled onto the first, and the residual sum of squares is returned (0 = same shape, 1 = none).
pub fn procrustes_disparity(a: &[[f64; 2]], b: &[[f64; 2]]) -> Result<f64> {
    if a.len() != b.len() || a.len() < 2 {
        return Err(Error::LengthMismatch(format!(
            "{} vs {} points",
            a.len(),
            b.len()
        )));
    }
    let norm = |p: &[[f64; 2]]| -> Option<Vec<[f64; 2]>> {
        let n = p.len() as f64;
        let (mx, my) = (
            p.iter().map(|v| v[0]).sum::<f64>() / n,
            p.iter().map(|v| v[1]).sum::<f64>() / n,
        );
        let c: Vec<[f64; 2]> = p.iter().map(|v| [v[0] - mx, v[1] - my]).collect();
        let f = c
            .iter()
            .map(|v| v[0] * v[0] + v[1] * v[1])
            .sum::<f64>()
            .sqrt();
        (f > 0.0).then(|| c.iter().map(|v| [v[0] / f, v[1] / f]).collect())
    };
    let (Some(a), Some(b)) = (norm(a), norm(b)) else {
        return Ok(1.0);
    };
    let m = Mat::from_fn(2, 2, |i, j| {
        a.iter().zip(&b).map(|(p, q)| p[i] * q[j]).sum::<f64>()
    });
    let sv = m
        .singular_values()
        .map_err(|e| Error::LinearAlgebra(format!("{e:?}")))?;
    let s: f64 = sv.iter().sum();
    Ok((1.0 - s * s).max(0.0))
}
