//! The sub-pixel refinement and shape estimate: a Levenberg–Marquardt fit of an elliptical
//! Gaussian (free centre, free 2×2 covariance, amplitude and offset).

use super::{axis_diff, ScoreConfig};

/// Smallest principal width (pixels) a fit may reach; narrower candidates are rejected.
const MIN_FIT_SIGMA: f64 = 0.05;

/// Number of fitted parameters: μx, μy, the precision matrix (p11, p12, p22), amplitude, offset.
const NP: usize = 7;

/// An accepted Gaussian fit.
#[derive(Debug, Clone, Copy)]
pub(super) struct GaussFit {
    /// Fitted centre `[μx, μy]` (unwrapped window coordinates; the caller folds them back).
    pub(super) centre: [f64; 2],
    /// Marginal widths `[σx, σy]`: square roots of the fitted covariance's diagonal.
    pub(super) sigma: [f64; 2],
    /// Principal widths `[smaller, larger]`: square roots of the covariance's eigenvalues.
    pub(super) principal: [f64; 2],
    /// Fitted peak height above the fitted offset, in `w` units.
    pub(super) amplitude: f64,
}

/// Widths of the Gaussian with covariance `[[sxx, sxy], [sxy, syy]]`: marginal `[σx, σy]` and
/// principal `[smaller, larger]`, or `None` unless the covariance is finite and positive definite.
pub(super) fn widths(sxx: f64, sxy: f64, syy: f64) -> Option<([f64; 2], [f64; 2])> {
    let det = sxx * syy - sxy * sxy;
    if !(sxx.is_finite() && syy.is_finite() && sxy.is_finite() && sxx > 0.0 && det > 0.0) {
        return None;
    }
    let half_tr = 0.5 * (sxx + syy);
    let disc = (0.25 * (sxx - syy).powi(2) + sxy * sxy).sqrt();
    let (lo, hi) = ((half_tr - disc).max(0.0), half_tr + disc);
    Some(([sxx.sqrt(), syy.sqrt()], [lo.sqrt(), hi.sqrt()]))
}

/// Levenberg–Marquardt fit of `a·exp(−½ dᵀP d) + c` (d = pixel − μ, P the 2×2 precision matrix)
/// to `w` on the window of half-width `cfg.fit_half_window` around `peak` (clipped to the image,
/// or wrapped when periodic). Starts from `start` (the centroid), an isotropic width `sigma0` and
/// amplitude `amp0`. Returns `None` when the fit fails (too few pixels, singular system,
/// non-finite or degenerate result).
pub(super) fn fit_gaussian(
    w: &[f64],
    n: usize,
    peak: usize,
    start: [f64; 2],
    sigma0: f64,
    amp0: f64,
    cfg: &ScoreConfig,
) -> Option<GaussFit> {
    // On a torus the window must not overlap itself.
    let r = if cfg.periodic {
        cfg.fit_half_window.min(n.saturating_sub(1) / 2)
    } else {
        cfg.fit_half_window
    };
    let (px, py) = (peak % n, peak / n);
    let window = |c: usize| -> Vec<(f64, usize)> {
        // (unwrapped coordinate, pixel index) along one axis; clipped or wrapped at the border.
        let (c, r, ni) = (c as isize, r as isize, n as isize);
        (c - r..=c + r)
            .filter_map(|v| {
                if cfg.periodic {
                    Some((v as f64, v.rem_euclid(ni) as usize))
                } else {
                    (v >= 0 && v < ni).then_some((v as f64, v as usize))
                }
            })
            .collect()
    };
    let (wx, wy) = (window(px), window(py));
    let pts: Vec<(f64, f64, f64)> = wy
        .iter()
        .flat_map(|&(y, iy)| wx.iter().map(move |&(x, ix)| (x, y, w[iy * n + ix])))
        .collect();
    // Start from the centroid expressed in the window's unwrapped coordinates.
    let start = [
        px as f64 + axis_diff(start[0], px as f64, n, cfg.periodic),
        py as f64 + axis_diff(start[1], py as f64, n, cfg.periodic),
    ];
    if pts.len() <= NP {
        return None;
    }
    let cost_of = |p: &[f64; NP]| -> f64 {
        pts.iter()
            .map(|&(x, y, v)| {
                let (dx, dy) = (x - p[0], y - p[1]);
                let q = p[2] * dx * dx + 2.0 * p[3] * dx * dy + p[4] * dy * dy;
                let f = p[5] * (-0.5 * q).exp() + p[6];
                (f - v).powi(2)
            })
            .sum()
    };
    let prec0 = 1.0 / (sigma0 * sigma0);
    let mut p = [start[0], start[1], prec0, 0.0, prec0, amp0, 0.0];
    let mut cost = cost_of(&p);
    let mut lambda = 1e-3;
    for _ in 0..cfg.fit_max_iterations {
        // Normal equations JᵀJ δ = −Jᵀr of the residuals r = f − w.
        let mut jtj = [[0.0f64; NP]; NP];
        let mut jtr = [0.0f64; NP];
        for &(x, y, v) in &pts {
            let (dx, dy) = (x - p[0], y - p[1]);
            let q = p[2] * dx * dx + 2.0 * p[3] * dx * dy + p[4] * dy * dy;
            let e = (-0.5 * q).exp();
            let ae = p[5] * e;
            let res = ae + p[6] - v;
            let j = [
                ae * (p[2] * dx + p[3] * dy),
                ae * (p[3] * dx + p[4] * dy),
                -0.5 * ae * dx * dx,
                -ae * dx * dy,
                -0.5 * ae * dy * dy,
                e,
                1.0,
            ];
            for a in 0..NP {
                jtr[a] += j[a] * res;
                for b in 0..NP {
                    jtj[a][b] += j[a] * j[b];
                }
            }
        }
        let mut improved = false;
        for _ in 0..10 {
            let mut m = jtj;
            for (a, row) in m.iter_mut().enumerate() {
                row[a] += lambda * jtj[a][a].max(1e-12);
            }
            let rhs = jtr.map(|v| -v);
            let delta = solve_spd(m, rhs)?;
            let mut cand = p;
            cand.iter_mut().zip(&delta).for_each(|(c, d)| *c += d);
            let c = if admissible(&cand) {
                cost_of(&cand)
            } else {
                f64::INFINITY
            };
            if c.is_finite() && c <= cost {
                let step: f64 = delta.iter().map(|d| d * d).sum::<f64>().sqrt();
                let rel = (cost - c) / cost.max(1e-300);
                p = cand;
                cost = c;
                lambda = (lambda / 3.0).max(1e-12);
                improved = true;
                if step < 1e-10 || rel < 1e-14 {
                    return accepted(&p);
                }
                break;
            }
            lambda *= 4.0;
        }
        if !improved {
            break;
        }
    }
    accepted(&p)
}

/// Whether the precision matrix is positive definite with every principal width ≥ [`MIN_FIT_SIGMA`].
fn admissible(p: &[f64; NP]) -> bool {
    let (p11, p12, p22) = (p[2], p[3], p[4]);
    let det = p11 * p22 - p12 * p12;
    if !(p11 > 0.0 && det > 0.0) {
        return false;
    }
    // Largest eigenvalue of P = 1 / (smallest principal width)².
    let lmax = 0.5 * (p11 + p22) + (0.25 * (p11 - p22).powi(2) + p12 * p12).sqrt();
    lmax <= 1.0 / (MIN_FIT_SIGMA * MIN_FIT_SIGMA)
}

fn accepted(p: &[f64; NP]) -> Option<GaussFit> {
    if !(p.iter().all(|v| v.is_finite()) && admissible(p) && p[5] > 0.0) {
        return None;
    }
    // Covariance = P⁻¹.
    let det = p[2] * p[4] - p[3] * p[3];
    let (sigma, principal) = widths(p[4] / det, -p[3] / det, p[2] / det)?;
    Some(GaussFit {
        centre: [p[0], p[1]],
        sigma,
        principal,
        amplitude: p[5],
    })
}

/// Solves the symmetric positive-definite system `m·x = b` by Cholesky (a 49-entry system inside
/// the per-image fit loop; a general linear-algebra crate would cost far more than it saves).
fn solve_spd(m: [[f64; NP]; NP], b: [f64; NP]) -> Option<[f64; NP]> {
    let mut l = [[0.0f64; NP]; NP];
    for i in 0..NP {
        for j in 0..=i {
            let s = m[i][j] - (0..j).map(|k| l[i][k] * l[j][k]).sum::<f64>();
            if i == j {
                if s.is_nan() || s <= 0.0 {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    let mut y = [0.0f64; NP];
    for i in 0..NP {
        y[i] = (b[i] - (0..i).map(|k| l[i][k] * y[k]).sum::<f64>()) / l[i][i];
    }
    let mut x = [0.0f64; NP];
    for i in (0..NP).rev() {
        x[i] = (y[i] - (i + 1..NP).map(|k| l[k][i] * x[k]).sum::<f64>()) / l[i][i];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}
