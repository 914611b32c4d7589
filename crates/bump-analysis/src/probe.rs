//! Decodability: cross-validated ridge probes and k-NN regression. Never in-sample.

use crate::matrix::Activations;
use crate::{Error, Result};
use faer::linalg::solvers::Solve;
use faer::{Mat, Side};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn r2(y: &[f64], pred: &[f64]) -> f64 {
    let m = y.iter().sum::<f64>() / y.len() as f64;
    let sst: f64 = y.iter().map(|v| (v - m).powi(2)).sum();
    let sse: f64 = y.iter().zip(pred).map(|(a, b)| (a - b).powi(2)).sum();
    if sst > 0.0 {
        1.0 - sse / sst
    } else {
        0.0
    }
}

/// k-fold cross-validated R² of a ridge regression from `a` to `y`.
///
/// Solved in the dual (kernel) form, (K + λI)α = y − ȳ with K = X Xᵀ over the training fold,
/// so the cost is O(N²D + N³) whatever D. Features are centred on the training fold;
/// λ = `alpha` · mean(diag K) makes the penalty scale-free. Folds come from a seeded shuffle.
/// R² is computed over the pooled out-of-fold predictions.
pub fn ridge_cv_r2(a: &Activations, y: &[f64], folds: usize, alpha: f64, seed: u64) -> Result<f64> {
    let n = a.n();
    if y.len() != n {
        return Err(Error::LengthMismatch(format!(
            "{} targets for {n} points",
            y.len()
        )));
    }
    if folds < 2 || n < 2 * folds {
        return Err(Error::TooFewPoints { n, k: 2 * folds });
    }
    if !(alpha > 0.0 && alpha.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "ridge alpha must be > 0, got {alpha}"
        )));
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut pred = vec![0.0; n];
    for f in 0..folds {
        let test: Vec<usize> = order.iter().copied().skip(f).step_by(folds).collect();
        let train: Vec<usize> = order
            .iter()
            .copied()
            .enumerate()
            .filter(|(i, _)| i % folds != f)
            .map(|(_, v)| v)
            .collect();
        let tr = a.select(&train);
        let means = tr.column_means();
        let d = a.d();
        let xtr = Mat::from_fn(train.len(), d, |i, j| tr.row(i)[j] - means[j]);
        let xte = Mat::from_fn(test.len(), d, |i, j| a.row(test[i])[j] - means[j]);
        let ymean = train.iter().map(|&i| y[i]).sum::<f64>() / train.len() as f64;
        let mut k = &xtr * xtr.transpose();
        let lambda = alpha * (0..train.len()).map(|i| k[(i, i)]).sum::<f64>() / train.len() as f64;
        let lambda = if lambda > 0.0 { lambda } else { alpha };
        for i in 0..train.len() {
            k[(i, i)] += lambda;
        }
        let rhs = Mat::from_fn(train.len(), 1, |i, _| y[train[i]] - ymean);
        let llt = k
            .llt(Side::Lower)
            .map_err(|e| Error::LinearAlgebra(format!("{e:?}")))?;
        let dual = llt.solve(&rhs);
        let cross = &xte * xtr.transpose();
        let out = &cross * &dual;
        for (r, &i) in test.iter().enumerate() {
            pred[i] = ymean + out[(r, 0)];
        }
    }
    Ok(r2(y, &pred))
}

/// Leave-one-out k-NN regression R²: each point's target predicted by the mean over its k
/// nearest other points (`dist` is N×N row-major).
pub fn knn_r2(dist: &[f64], y: &[f64], k: usize) -> Result<f64> {
    let n = y.len();
    if dist.len() != n * n {
        return Err(Error::LengthMismatch(format!(
            "{} distances for {n} points",
            dist.len()
        )));
    }
    if n <= k || k == 0 {
        return Err(Error::TooFewPoints { n, k });
    }
    let nb = crate::neighbors::sorted_neighbors(dist, n);
    let pred: Vec<f64> = (0..n)
        .map(|i| nb[i][..k].iter().map(|&j| y[j]).sum::<f64>() / k as f64)
        .collect();
    Ok(r2(y, &pred))
}
