//! The initial layout (step 3 of [`umap`](super::umap)): spectral, or PCA for a disconnected
//! graph, scaled and jittered as umap-learn does.

use super::graph::Edges;
use crate::{Error, Result};
use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{self_adjoint_evd, self_adjoint_evd_scratch, ComputeEigenvectors};
use faer::{Mat, MatRef, Par};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The symmetric eigendecomposition of `m` (lower triangle read), sequential so that the bits do
/// not depend on the thread count: eigenvalues ascending, eigenvectors as columns.
fn sym_eig(m: MatRef<'_, f64>) -> Result<(Vec<f64>, Mat<f64>)> {
    let n = m.nrows();
    let par = Par::Seq;
    let mut u = Mat::zeros(n, n);
    let mut s = Diag::zeros(n);
    let mut mem = MemBuffer::new(self_adjoint_evd_scratch::<f64>(
        n,
        ComputeEigenvectors::Yes,
        par,
        Default::default(),
    ));
    self_adjoint_evd(
        m,
        s.as_mut(),
        Some(u.as_mut()),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|e| Error::LinearAlgebra(format!("UMAP initialisation: {e:?}")))?;
    let s = s.column_vector();
    Ok(((0..n).map(|i| s[i]).collect(), u))
}

/// Whether the graph's edges connect all `n` vertices (breadth-first search; a graph library
/// would be a dependency for ten lines).
fn connected(n: usize, edges: &Edges) -> bool {
    // Edges are sorted by head: CSR offsets.
    let mut start = vec![0usize; n + 1];
    for &h in &edges.head {
        start[h + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut seen = vec![false; n];
    let mut stack = vec![0usize];
    seen[0] = true;
    let mut count = 1;
    while let Some(v) = stack.pop() {
        for &t in &edges.tail[start[v]..start[v + 1]] {
            if !seen[t] {
                seen[t] = true;
                count += 1;
                stack.push(t);
            }
        }
    }
    count == n
}

/// Eigenvector `col` of `u` with its largest-magnitude entry made positive (eigenvectors are
/// defined up to sign; this fixes one).
fn signed_column(u: &Mat<f64>, col: usize) -> Vec<f64> {
    let v: Vec<f64> = (0..u.nrows()).map(|r| u[(r, col)]).collect();
    let big = v
        .iter()
        .copied()
        .fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
    if big < 0.0 {
        v.iter().map(|x| -x).collect()
    } else {
        v
    }
}

/// N×`dim` row-major initial coordinates: the spectral layout of a connected graph, else the
/// top principal components from the centred Gram matrix `gram`.
pub(super) fn initial_layout(
    n: usize,
    edges: &Edges,
    gram: &Mat<f64>,
    dim: usize,
) -> Result<Vec<f64>> {
    let cols: Vec<Vec<f64>> = if connected(n, edges) {
        // Normalised Laplacian I − D^{−1/2} W D^{−1/2}; its eigenvector 0 is ∝ D^{1/2}·1.
        let mut degree = vec![0.0; n];
        for (&h, &w) in edges.head.iter().zip(&edges.weight) {
            degree[h] += w;
        }
        let inv_sqrt: Vec<f64> = degree.iter().map(|d| 1.0 / d.sqrt()).collect();
        let mut lap = Mat::<f64>::identity(n, n);
        for ((&h, &t), &w) in edges.head.iter().zip(&edges.tail).zip(&edges.weight) {
            lap[(h, t)] -= w * inv_sqrt[h] * inv_sqrt[t];
        }
        let (_, u) = sym_eig(lap.as_ref())?;
        (1..=dim).map(|c| signed_column(&u, c)).collect()
    } else {
        let (s, u) = sym_eig(gram.as_ref())?;
        (0..dim)
            .map(|c| {
                let i = n - 1 - c;
                let sv = s[i].max(0.0).sqrt();
                signed_column(&u, i).iter().map(|v| v * sv).collect()
            })
            .collect()
    };
    Ok((0..n * dim).map(|t| cols[t % dim][t / dim]).collect())
}

/// umap-learn's `noisy_scale_coords` and rescaling: largest magnitude 10, a ±1e-4 uniform
/// jitter from `rng`, then each axis mapped onto [0, 10].
pub(super) fn scale_and_jitter(
    mut emb: Vec<f64>,
    n: usize,
    dim: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<f64> {
    let max_abs = emb.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let scale = if max_abs > 0.0 { 10.0 / max_abs } else { 1.0 };
    for v in &mut emb {
        *v = *v * scale + rng.random_range(-1e-4..1e-4);
    }
    for c in 0..dim {
        let (lo, hi) = (0..n).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
            (lo.min(emb[r * dim + c]), hi.max(emb[r * dim + c]))
        });
        let range = hi - lo;
        for r in 0..n {
            let v = &mut emb[r * dim + c];
            *v = if range > 0.0 {
                10.0 * (*v - lo) / range
            } else {
                5.0
            };
        }
    }
    emb
}

#[cfg(test)]
pub(super) fn connected_for_test(n: usize, edges: &Edges) -> bool {
    connected(n, edges)
}
