//! Decodability: cross-validated ridge probes and k-NN regression. Never in-sample.

use crate::matrix::Activations;
use crate::neighbors::Neighborhood;
use crate::{Error, Result};
use faer::linalg::solvers::Solve;
use faer::{Mat, Side};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Coefficient of determination 1 − SSE/SST (0 when the target is constant).
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

/// One cross-validation split: training and held-out indices.
struct Fold {
    train: Vec<usize>,
    test: Vec<usize>,
}

/// `folds` disjoint held-out sets from a seeded shuffle; every point is held out exactly once.
fn make_folds(n: usize, folds: usize, seed: u64) -> Vec<Fold> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    (0..folds)
        .map(|f| Fold {
            test: order.iter().copied().skip(f).step_by(folds).collect(),
            train: order
                .iter()
                .enumerate()
                .filter(|(i, _)| i % folds != f)
                .map(|(_, &v)| v)
                .collect(),
        })
        .collect()
}

fn check_probe(n: usize, targets: &[&[f64]], folds: usize, alpha: f64) -> Result<()> {
    if let Some(y) = targets.iter().find(|y| y.len() != n) {
        return Err(Error::LengthMismatch(format!(
            "{} targets for {n} points",
            y.len()
        )));
    }
    if targets.iter().any(|y| y.iter().any(|v| !v.is_finite())) {
        return Err(Error::NonFinite("probe targets"));
    }
    if folds < 2 || n < 2 * folds {
        return Err(Error::TooFewPoints { n, k: 2 * folds });
    }
    if !(alpha > 0.0 && alpha.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "ridge alpha must be > 0, got {alpha}"
        )));
    }
    Ok(())
}

fn solve_spd(mut k: Mat<f64>, lambda: f64, rhs: &Mat<f64>) -> Result<Mat<f64>> {
    for i in 0..k.nrows() {
        k[(i, i)] += lambda;
    }
    let llt = k
        .llt(Side::Lower)
        .map_err(|e| Error::LinearAlgebra(format!("{e:?}")))?;
    Ok(llt.solve(rhs))
}

/// Training targets centred on their training mean, m×T, and those means.
fn centred_targets(train: &[usize], targets: &[&[f64]]) -> (Mat<f64>, Vec<f64>) {
    let means: Vec<f64> = targets
        .iter()
        .map(|y| train.iter().map(|&i| y[i]).sum::<f64>() / train.len() as f64)
        .collect();
    let rhs = Mat::from_fn(train.len(), targets.len(), |i, t| {
        targets[t][train[i]] - means[t]
    });
    (rhs, means)
}

/// k-fold cross-validated R² of a ridge regression from `a` to `y`.
///
/// Features are centred on the training fold; λ = `alpha` · mean(diag K), K = X Xᵀ over the
/// training fold, makes the penalty scale-free. Folds come from a seeded shuffle, and R² is
/// computed over the pooled out-of-fold predictions, so no point is ever scored by a model
/// that saw it. With D larger than the training fold the dual (kernel) form
/// (K + λI)α = y − ȳ is solved, costing O(N²D + N³) whatever D; otherwise the primal
/// (XᵀX + λI)w = Xᵀ(y − ȳ). Both give the same predictions.
///
/// # Shapes
/// `a`: N×D, `y`: N.
pub fn ridge_cv_r2(a: &Activations, y: &[f64], folds: usize, alpha: f64, seed: u64) -> Result<f64> {
    Ok(ridge_cv_r2_multi(a, &[y], folds, alpha, seed)?[0])
}

/// [`ridge_cv_r2`] for several targets at once (one factorization per fold serves them all).
///
/// # Shapes
/// `a`: N×D, each target: N → one R² per target.
pub fn ridge_cv_r2_multi(
    a: &Activations,
    targets: &[&[f64]],
    folds: usize,
    alpha: f64,
    seed: u64,
) -> Result<Vec<f64>> {
    let n = a.n();
    check_probe(n, targets, folds, alpha)?;
    if a.d() > n - n / folds {
        ridge_dual(&a.gram(), targets, folds, alpha, seed)
    } else {
        ridge_primal(a, targets, folds, alpha, seed)
    }
}

/// The dual (kernel) form from the globally centred N×N Gram matrix G. Re-centring on a
/// training fold is exact algebra on G: (xᵢ − m)·(xⱼ − m) = Gᵢⱼ − rᵢ − rⱼ + c with
/// rᵢ = mean over the fold of Gᵢₜ and c = mean of r over the fold.
pub(crate) fn ridge_dual(
    g: &Mat<f64>,
    targets: &[&[f64]],
    folds: usize,
    alpha: f64,
    seed: u64,
) -> Result<Vec<f64>> {
    let n = g.nrows();
    check_probe(n, targets, folds, alpha)?;
    let mut pred = vec![vec![0.0; n]; targets.len()];
    for fold in make_folds(n, folds, seed) {
        let (tr, te) = (&fold.train, &fold.test);
        let m = tr.len() as f64;
        let r: Vec<f64> = (0..n)
            .map(|i| tr.iter().map(|&t| g[(i, t)]).sum::<f64>() / m)
            .collect();
        let c = tr.iter().map(|&t| r[t]).sum::<f64>() / m;
        let k = Mat::from_fn(tr.len(), tr.len(), |i, j| {
            g[(tr[i], tr[j])] - r[tr[i]] - r[tr[j]] + c
        });
        let lambda = positive_or(
            alpha * (0..tr.len()).map(|i| k[(i, i)]).sum::<f64>() / m,
            alpha,
        );
        let (rhs, means) = centred_targets(tr, targets);
        let dual = solve_spd(k, lambda, &rhs)?;
        let cross = Mat::from_fn(te.len(), tr.len(), |i, j| {
            g[(te[i], tr[j])] - r[te[i]] - r[tr[j]] + c
        });
        let out = &cross * &dual;
        for (t, p) in pred.iter_mut().enumerate() {
            for (row, &i) in te.iter().enumerate() {
                p[i] = means[t] + out[(row, t)];
            }
        }
    }
    Ok(targets.iter().zip(&pred).map(|(y, p)| r2(y, p)).collect())
}

/// The primal form, for D no larger than a training fold.
fn ridge_primal(
    a: &Activations,
    targets: &[&[f64]],
    folds: usize,
    alpha: f64,
    seed: u64,
) -> Result<Vec<f64>> {
    let (n, d) = (a.n(), a.d());
    let mut pred = vec![vec![0.0; n]; targets.len()];
    for fold in make_folds(n, folds, seed) {
        let (tr, te) = (&fold.train, &fold.test);
        let means = a.select(tr).column_means();
        let xtr = Mat::from_fn(tr.len(), d, |i, j| a.row(tr[i])[j] - means[j]);
        let xte = Mat::from_fn(te.len(), d, |i, j| a.row(te[i])[j] - means[j]);
        let cov = xtr.transpose() * &xtr;
        // Same penalty as the dual form: mean diag(X Xᵀ) = trace(XᵀX) / m.
        let lambda = positive_or(
            alpha * (0..d).map(|j| cov[(j, j)]).sum::<f64>() / tr.len() as f64,
            alpha,
        );
        let (ytr, ymeans) = centred_targets(tr, targets);
        let w = solve_spd(cov, lambda, &(xtr.transpose() * &ytr))?;
        let out = &xte * &w;
        for (t, p) in pred.iter_mut().enumerate() {
            for (row, &i) in te.iter().enumerate() {
                p[i] = ymeans[t] + out[(row, t)];
            }
        }
    }
    Ok(targets.iter().zip(&pred).map(|(y, p)| r2(y, p)).collect())
}

fn positive_or(v: f64, fallback: f64) -> f64 {
    if v > 0.0 {
        v
    } else {
        fallback
    }
}

/// Leave-one-out k-NN regression R²: each point's target predicted by the mean over its k
/// nearest other points (ties broken by index).
///
/// # Shapes
/// `dist`: N×N row-major, `y`: N.
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
    Ok(knn_r2_from(&Neighborhood::new(dist.to_vec(), n), y, k))
}

/// [`knn_r2`] on precomputed neighbours (requires N > k > 0).
pub(crate) fn knn_r2_from(nb: &Neighborhood, y: &[f64], k: usize) -> f64 {
    let pred: Vec<f64> = (0..nb.n)
        .map(|i| nb.sorted[i][..k].iter().map(|&j| y[j]).sum::<f64>() / k as f64)
        .collect();
    r2(y, &pred)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn random(n: usize, d: usize, seed: u64) -> Activations {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let v: Vec<f64> = (0..n * d).map(|_| rng.random_range(-1.0..1.0)).collect();
        Activations::from_f64(&v, n, d).unwrap()
    }

    #[test]
    fn dual_and_primal_forms_agree() {
        let a = random(60, 8, 1);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let y: Vec<f64> = (0..60)
            .map(|i| a.row(i)[0] * 2.0 - a.row(i)[3] + rng.random_range(-0.3..0.3))
            .collect();
        let z: Vec<f64> = (0..60).map(|i| a.row(i)[5].sin()).collect();
        let primal = ridge_primal(&a, &[&y, &z], 5, 1e-2, 7).unwrap();
        let dual = ridge_dual(&a.gram(), &[&y, &z], 5, 1e-2, 7).unwrap();
        for (p, d) in primal.iter().zip(&dual) {
            assert!((p - d).abs() < 1e-10, "primal {p} dual {d}");
        }
        assert!(
            primal[0] > 0.8,
            "a linear target is decodable: {}",
            primal[0]
        );
    }

    #[test]
    fn ridge_probe_is_never_in_sample() {
        // D ≫ N random features fit any target perfectly in-sample; held out they predict
        // nothing. An in-sample R² would be ≈ 1 here.
        let a = random(100, 2000, 3);
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let y: Vec<f64> = (0..100).map(|_| rng.random_range(-1.0..1.0)).collect();
        let r = ridge_cv_r2(&a, &y, 5, 1e-3, 0).unwrap();
        assert!(r < 0.05, "cross-validated R² of noise {r}");
    }

    #[test]
    fn knn_r2_known_answer() {
        // Points on a line, target = position; the 2 nearest of an interior point are its two
        // neighbours, whose mean is exact; the ends are off by 1.5.
        let n = 10;
        let dist: Vec<f64> = (0..n * n)
            .map(|t| ((t / n) as f64 - (t % n) as f64).abs())
            .collect();
        let y: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let sst: f64 = y.iter().map(|v| (v - 4.5f64).powi(2)).sum();
        let want = 1.0 - 2.0 * 1.5f64.powi(2) / sst;
        assert!((knn_r2(&dist, &y, 2).unwrap() - want).abs() < 1e-12);
    }
}
