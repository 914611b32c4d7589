//! The sub-pixel refinement: a Levenberg–Marquardt fit of an isotropic Gaussian.

use super::{axis_diff, ScoreConfig};

/// Levenberg–Marquardt fit of `a·exp(−((x−μx)² + (y−μy)²)/(2s²)) + c` to `w` on the window of
/// half-width `cfg.fit_half_window` around `peak` (clipped to the image). Returns `[μx, μy]`, or
/// `None` when the fit fails (too few pixels, singular system, non-finite or degenerate result).
pub(super) fn fit_gaussian(
    w: &[f64],
    n: usize,
    peak: usize,
    start: [f64; 2],
    sigma0: f64,
    amp0: f64,
    cfg: &ScoreConfig,
) -> Option<[f64; 2]> {
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
    if pts.len() < 6 {
        return None;
    }
    let cost_of = |p: &[f64; 5]| -> f64 {
        pts.iter()
            .map(|&(x, y, v)| {
                let r2 = (x - p[0]).powi(2) + (y - p[1]).powi(2);
                let f = p[3] * (-r2 / (2.0 * p[2] * p[2])).exp() + p[4];
                (f - v).powi(2)
            })
            .sum()
    };
    let mut p = [start[0], start[1], sigma0, amp0, 0.0];
    let mut cost = cost_of(&p);
    let mut lambda = 1e-3;
    for _ in 0..cfg.fit_max_iterations {
        // Normal equations JᵀJ δ = −Jᵀr of the residuals r = f − w.
        let mut jtj = [[0.0f64; 5]; 5];
        let mut jtr = [0.0f64; 5];
        for &(x, y, v) in &pts {
            let (dx, dy) = (x - p[0], y - p[1]);
            let r2 = dx * dx + dy * dy;
            let s2 = p[2] * p[2];
            let e = (-r2 / (2.0 * s2)).exp();
            let res = p[3] * e + p[4] - v;
            let j = [
                p[3] * e * dx / s2,
                p[3] * e * dy / s2,
                p[3] * e * r2 / (s2 * p[2]),
                e,
                1.0,
            ];
            for a in 0..5 {
                jtr[a] += j[a] * res;
                for b in 0..5 {
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
            let delta = solve_spd5(m, rhs)?;
            let cand = [
                p[0] + delta[0],
                p[1] + delta[1],
                p[2] + delta[2],
                p[3] + delta[3],
                p[4] + delta[4],
            ];
            let c = if cand[2] > 0.05 {
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
                    return valid_fit(&p);
                }
                break;
            }
            lambda *= 4.0;
        }
        if !improved {
            break;
        }
    }
    valid_fit(&p)
}

fn valid_fit(p: &[f64; 5]) -> Option<[f64; 2]> {
    (p.iter().all(|v| v.is_finite()) && p[2] > 0.05 && p[3] > 0.0).then_some([p[0], p[1]])
}

/// Solves the 5×5 symmetric positive-definite system `m·x = b` by Cholesky (a 25-entry system
/// inside the per-image fit loop; a general linear-algebra crate would cost far more than it saves).
fn solve_spd5(m: [[f64; 5]; 5], b: [f64; 5]) -> Option<[f64; 5]> {
    let mut l = [[0.0f64; 5]; 5];
    for i in 0..5 {
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
    let mut y = [0.0f64; 5];
    for i in 0..5 {
        y[i] = (b[i] - (0..i).map(|k| l[i][k] * y[k]).sum::<f64>()) / l[i][i];
    }
    let mut x = [0.0f64; 5];
    for i in (0..5).rev() {
        x[i] = (y[i] - (i + 1..5).map(|k| l[k][i] * x[k]).sum::<f64>()) / l[i][i];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}
