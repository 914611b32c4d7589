//! Detection: background level, connected components and non-maximum-suppressed peaks.

use super::{axis_diff, ScoreConfig};

/// One 8-connected component of the thresholded image.
#[derive(Debug, Clone, Copy)]
pub(super) struct Component {
    /// The component's label in the label image.
    pub(super) label: u32,
    pub(super) area: usize,
    pub(super) sum_w: f64,
    pub(super) sum_wx: f64,
    pub(super) sum_wy: f64,
    /// Second moments `Σ w·x²`, `Σ w·x·y`, `Σ w·y²` (unwrapped coordinates).
    pub(super) sum_wxx: f64,
    pub(super) sum_wxy: f64,
    pub(super) sum_wyy: f64,
    pub(super) peak: usize,
}

/// Reusable buffers so batch scoring allocates once.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    pub(super) w: Vec<f64>,
    pub(super) sorted: Vec<f64>,
    pub(super) label: Vec<u32>,
    pub(super) stack: Vec<usize>,
}

/// Median (mean of the two middle values for even counts).
pub(super) fn median(w: &[f64], buf: &mut Vec<f64>) -> f64 {
    buf.clear();
    buf.extend_from_slice(w);
    let m = buf.len() / 2;
    let (lower, upper, _) = buf.select_nth_unstable_by(m, f64::total_cmp);
    let upper = *upper;
    if w.len() % 2 == 1 {
        upper
    } else {
        let lower_max = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        0.5 * (lower_max + upper)
    }
}

/// The 8 neighbours of pixel `p` (fewer at the border unless `periodic`, where they wrap).
fn neighbours(p: usize, n: usize, periodic: bool) -> impl Iterator<Item = usize> {
    let (x, y) = ((p % n) as isize, (p / n) as isize);
    let ni = n as isize;
    (-1isize..=1)
        .flat_map(move |dy| (-1isize..=1).map(move |dx| (x + dx, y + dy)))
        .filter_map(move |(qx, qy)| {
            let (qx, qy) = if periodic {
                (qx.rem_euclid(ni), qy.rem_euclid(ni))
            } else if qx < 0 || qy < 0 || qx >= ni || qy >= ni {
                return None;
            } else {
                (qx, qy)
            };
            let q = (qy * ni + qx) as usize;
            (q != p).then_some(q)
        })
}

/// 8-connected components of `{w ≥ thr}` with area ≥ `cfg.min_area`. When periodic, pixel
/// coordinates are unwrapped relative to each component's first pixel before the centroid sums.
pub(super) fn components(
    w: &[f64],
    n: usize,
    thr: f64,
    cfg: &ScoreConfig,
    label: &mut Vec<u32>,
    stack: &mut Vec<usize>,
) -> Vec<Component> {
    label.clear();
    label.resize(w.len(), 0);
    let mut out = Vec::new();
    let mut next = 0u32;
    for start in 0..w.len() {
        if label[start] != 0 || w[start] < thr {
            continue;
        }
        next += 1;
        label[start] = next;
        stack.clear();
        stack.push(start);
        let reference = [(start % n) as f64, (start / n) as f64];
        let mut c = Component {
            label: next,
            area: 0,
            sum_w: 0.0,
            sum_wx: 0.0,
            sum_wy: 0.0,
            sum_wxx: 0.0,
            sum_wxy: 0.0,
            sum_wyy: 0.0,
            peak: start,
        };
        while let Some(p) = stack.pop() {
            let (x, y) = ((p % n) as f64, (p / n) as f64);
            let ux = reference[0] + axis_diff(x, reference[0], n, cfg.periodic);
            let uy = reference[1] + axis_diff(y, reference[1], n, cfg.periodic);
            c.area += 1;
            c.sum_w += w[p];
            c.sum_wx += w[p] * ux;
            c.sum_wy += w[p] * uy;
            c.sum_wxx += w[p] * ux * ux;
            c.sum_wxy += w[p] * ux * uy;
            c.sum_wyy += w[p] * uy * uy;
            if w[p] > w[c.peak] {
                c.peak = p;
            }
            for q in neighbours(p, n, cfg.periodic) {
                if label[q] == 0 && w[q] >= thr {
                    label[q] = next;
                    stack.push(q);
                }
            }
        }
        if c.area >= cfg.min_area {
            out.push(c);
        }
    }
    out
}

/// Whether the component labelled `which` covers every row or every column of the N×N label
/// image: a stripe (or a blob as wide as the canvas), never one of the data's bumps.
pub(super) fn spans_an_axis(label: &[u32], n: usize, which: u32) -> bool {
    let mut rows = vec![false; n];
    let mut cols = vec![false; n];
    for (p, _) in label.iter().enumerate().filter(|&(_, &l)| l == which) {
        rows[p / n] = true;
        cols[p % n] = true;
    }
    rows.iter().all(|&r| r) || cols.iter().all(|&c| c)
}

/// Local maxima ≥ `thr` (ties broken in raster order so a plateau yields one peak), then greedy
/// non-maximum suppression: a peak closer than `radius` to a stronger kept peak is dropped.
/// Returns the kept peaks' pixel indices, strongest first.
pub(super) fn kept_peaks(w: &[f64], n: usize, thr: f64, radius: f64, periodic: bool) -> Vec<usize> {
    let mut peaks: Vec<(f64, usize)> = Vec::new();
    for (p, &v) in w.iter().enumerate() {
        if v < thr {
            continue;
        }
        // Earlier neighbours must be strictly lower, later ones not higher.
        let is_max = neighbours(p, n, periodic).all(|q| if q < p { w[q] < v } else { w[q] <= v });
        if is_max {
            peaks.push((v, p));
        }
    }
    peaks.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut kept: Vec<usize> = Vec::new();
    for &(_, p) in &peaks {
        let (x, y) = ((p % n) as f64, (p / n) as f64);
        if kept.iter().all(|&k| {
            let (kx, ky) = ((k % n) as f64, (k / n) as f64);
            let (dx, dy) = (axis_diff(kx, x, n, periodic), axis_diff(ky, y, n, periodic));
            (dx * dx + dy * dy).sqrt() >= radius
        }) {
            kept.push(p);
        }
    }
    kept
}
