//! The follow-up's percolation comparison for sweeps over λ (`data.lambda`): per group of the
//! other axes (e.g. each σ), the λ below which the mean final accuracy falls under a level,
//! beside the λ below which bump-analysis's percolation simulation of the same lattice (σ, d,
//! canvas) loses its giant cluster.
//!
//! Both thresholds are read the same way: scanning λ downwards from the largest value, the first
//! crossing of the level (0.5 by default), interpolated linearly in log λ. Scanning from the top
//! matters for the simulation: with only a handful of centres kept (λ → 0) the largest cluster
//! is again most of them, a finite-size artefact.

use super::merge::ResultRow;
use crate::Result;
use bump_analysis::{percolation, PercolationConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The axis the comparison needs.
pub const LAMBDA_KEY: &str = "data.lambda";

/// How the thresholds are read.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PercolationRule {
    /// Level of the mean final accuracy and of the mean largest-cluster fraction.
    pub level: f64,
    /// Overlap threshold of a link in the simulation (the follow-up uses 0.005 and 0.05).
    pub overlap: f64,
    /// Subsample seeds averaged per λ in the simulation.
    pub seeds: u64,
    /// λ grid of the simulation: `1/steps, 2/steps, …, 1`.
    pub steps: usize,
}

impl Default for PercolationRule {
    fn default() -> Self {
        Self {
            level: 0.5,
            overlap: 0.005,
            seeds: 16,
            steps: 100,
        }
    }
}

/// One group's comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PercolationRow {
    /// The group's axis values (every axis but λ and the seed).
    pub group: BTreeMap<String, serde_json::Value>,
    /// σ of the group's data (isotropic).
    pub sigma: f64,
    /// Centre spacing d of the group's data (dx = dy).
    pub spacing: f64,
    /// `[λ, mean final accuracy, finished cells]` per λ of the sweep, ascending.
    pub accuracy: Vec<(f64, Option<f64>, usize)>,
    /// `[λ, final accuracy]` of every finished cell (one per seed), in row order.
    #[serde(default)]
    pub cells: Vec<(f64, f64)>,
    /// `[λ, simulated mean largest-cluster fraction]` on the rule's λ grid (empty: no
    /// simulation, e.g. anisotropic data).
    #[serde(default)]
    pub simulation: Vec<(f64, f64)>,
    /// λ where the mean final accuracy falls below the level (`None`: no crossing observed).
    pub lambda_accuracy: Option<f64>,
    /// λ where the simulated mean largest-cluster fraction falls below the level.
    pub lambda_percolation: Option<f64>,
}

/// The first crossing below `level` scanning `points` (ascending λ) from the top, interpolated
/// in log λ.
pub fn crossing_from_top(points: &[(f64, f64)], level: f64) -> Option<f64> {
    let top = points.last()?;
    if top.1 < level {
        return None;
    }
    for w in points.windows(2).rev() {
        let ((l0, v0), (l1, v1)) = (w[0], w[1]);
        if v0 < level && v1 >= level {
            let t = (level - v0) / (v1 - v0);
            return Some((l0.ln() + t * (l1.ln() - l0.ln())).exp());
        }
    }
    None
}

/// The simulated percolation threshold of an `n`-pixel canvas with centres every `spacing`
/// pixels and bumps of width `sigma`.
pub fn simulated_threshold(
    n: usize,
    sigma: f64,
    spacing: f64,
    rule: &PercolationRule,
) -> Result<Option<f64>> {
    Ok(crossing_from_top(
        &simulated_curve(n, sigma, spacing, rule)?,
        rule.level,
    ))
}

/// The simulated mean largest-cluster fraction at `λ = 1/steps, 2/steps, …, 1` (ascending) of
/// an `n`-pixel canvas with centres every `spacing` pixels and bumps of width `sigma`.
pub fn simulated_curve(
    n: usize,
    sigma: f64,
    spacing: f64,
    rule: &PercolationRule,
) -> Result<Vec<(f64, f64)>> {
    let mut points = Vec::with_capacity(rule.steps);
    for k in 1..=rule.steps {
        let lambda = k as f64 / rule.steps as f64;
        let mut sum = 0.0;
        for seed in 0..rule.seeds {
            let cfg = PercolationConfig::default()
                .with_n(n)
                .with_sigma(sigma)
                .with_spacing(spacing)
                .with_lambda(lambda)
                .with_threshold(rule.overlap)
                .with_seed(seed);
            sum += percolation(&cfg)?.largest_fraction;
        }
        points.push((lambda, sum / rule.seeds as f64));
    }
    Ok(points)
}

/// The comparison for every group of `rows` (sweeps with a `data.lambda` axis; `None`
/// otherwise). Cells whose data are anisotropic or have dx ≠ dy get no simulation.
pub fn compare(
    rows: &[ResultRow],
    sweep: &super::Sweep,
    rule: &PercolationRule,
) -> Result<Option<Vec<PercolationRow>>> {
    if !sweep.axis_keys.iter().any(|k| k == LAMBDA_KEY) {
        return Ok(None);
    }
    let mut groups: BTreeMap<String, (BTreeMap<String, serde_json::Value>, Vec<&ResultRow>)> =
        BTreeMap::new();
    for r in rows {
        let group: BTreeMap<String, serde_json::Value> = r
            .axes
            .iter()
            .filter(|(k, _)| k.as_str() != LAMBDA_KEY && k.as_str() != "train.seed")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let key = serde_json::to_string(&group)?;
        groups
            .entry(key)
            .or_insert_with(|| (group, Vec::new()))
            .1
            .push(r);
    }
    let mut out = Vec::new();
    for (_, (group, members)) in groups {
        let cfg = &sweep.cell(members[0].index)?.config.data;
        let (sx, sy) = cfg.sigma.xy();
        let mut by_lambda: BTreeMap<u64, (f64, Vec<f64>, usize)> = BTreeMap::new();
        let mut cells = Vec::new();
        for r in &members {
            let lambda = sweep.cell(r.index)?.config.data.lambda;
            let e = by_lambda
                .entry(lambda.to_bits())
                .or_insert((lambda, Vec::new(), 0));
            if let Some(m) = &r.metrics {
                e.1.push(m.final_accuracy);
                e.2 += 1;
                cells.push((lambda, m.final_accuracy));
            }
        }
        let mut accuracy: Vec<(f64, Option<f64>, usize)> = by_lambda
            .into_values()
            .map(|(l, v, n)| {
                (
                    l,
                    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64),
                    n,
                )
            })
            .collect();
        accuracy.sort_by(|a, b| a.0.total_cmp(&b.0));
        let observed: Vec<(f64, f64)> = accuracy
            .iter()
            .filter_map(|(l, m, _)| m.map(|m| (*l, m)))
            .collect();
        let lambda_accuracy = crossing_from_top(&observed, rule.level);
        let simulation = if sx == sy && cfg.dx == cfg.dy {
            simulated_curve(cfg.n, sx, cfg.dx, rule)?
        } else {
            Vec::new()
        };
        let lambda_percolation = crossing_from_top(&simulation, rule.level);
        out.push(PercolationRow {
            group,
            sigma: sx,
            spacing: cfg.dx,
            accuracy,
            cells,
            simulation,
            lambda_accuracy,
            lambda_percolation,
        });
    }
    Ok(Some(out))
}

/// The comparison as a Markdown table.
pub fn to_markdown(rows: &[PercolationRow], rule: &PercolationRule) -> String {
    let fmt = |v: Option<f64>| v.map_or("not crossed".to_string(), |v| format!("{v:.3}"));
    let mut s = format!(
        "λ thresholds at level {} (mean final accuracy; simulated mean largest-cluster fraction, \
         overlap {}, {} seeds per λ):\n\n| group | σ | d | mean final accuracy by λ | λ (accuracy) | λ (percolation) |\n| --- | --- | --- | --- | --- | --- |\n",
        rule.level, rule.overlap, rule.seeds
    );
    for r in rows {
        let group: Vec<String> = r.group.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        let acc: Vec<String> = r
            .accuracy
            .iter()
            .map(|(l, m, n)| match m {
                Some(m) => format!("{l}: {m:.3} ({n})"),
                None => format!("{l}: –"),
            })
            .collect();
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            if group.is_empty() {
                "all".into()
            } else {
                group.join(", ")
            },
            r.sigma,
            r.spacing,
            acc.join("; "),
            fmt(r.lambda_accuracy),
            fmt(r.lambda_percolation)
        ));
    }
    s
}

/// Writes `percolation.json`, `percolation.md` and `figures/percolation.png` (final accuracy
/// and the simulated largest-cluster fraction over λ) into the sweep directory when the sweep
/// has a λ axis; returns the Markdown.
pub fn write(
    sweep: &super::Sweep,
    rows: &[ResultRow],
    rule: &PercolationRule,
) -> Result<Option<String>> {
    let Some(cmp) = compare(rows, sweep, rule)? else {
        return Ok(None);
    };
    let md = to_markdown(&cmp, rule);
    let json = serde_json::json!({ "rule": rule, "groups": cmp });
    crate::io::write_atomic(
        &sweep.dir.join("percolation.json"),
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    crate::io::write_atomic(&sweep.dir.join("percolation.md"), md.as_bytes())?;
    super::percolation_plot::plot(
        &sweep.dir.join(super::FIGURES_DIR).join("percolation.png"),
        &cmp,
        rule,
    )?;
    Ok(Some(md))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossing_is_read_from_the_top_in_log_lambda() {
        // Falls below 0.5 between 0.1 (0.2) and 0.4 (0.8): halfway in log λ is 0.2.
        let pts = [(0.01, 0.9), (0.1, 0.2), (0.4, 0.8), (1.0, 1.0)];
        let l = crossing_from_top(&pts, 0.5).unwrap();
        assert!((l - 0.2).abs() < 1e-12, "{l}");
        assert_eq!(crossing_from_top(&[(0.5, 0.6), (1.0, 0.9)], 0.5), None);
        assert_eq!(crossing_from_top(&[(0.5, 0.6), (1.0, 0.4)], 0.5), None);
    }

    #[test]
    fn wider_bumps_percolate_at_smaller_lambda() {
        let rule = PercolationRule {
            seeds: 4,
            steps: 50,
            ..PercolationRule::default()
        };
        let narrow = simulated_threshold(32, 0.5, 1.0, &rule).unwrap().unwrap();
        let wide = simulated_threshold(32, 1.0, 1.0, &rule).unwrap().unwrap();
        assert!(wide < narrow, "σ 1: {wide}, σ 0.5: {narrow}");
        assert!(narrow > 0.0 && narrow < 1.0);
    }

    #[test]
    fn the_showcase_lambda_grid_brackets_the_simulated_thresholds() {
        // sweeps/percolation.toml: σ 0.5, 1, 1.5 against λ 0.01, 0.03, 0.1, 0.3, 1.
        let rule = PercolationRule {
            seeds: 8,
            steps: 100,
            ..PercolationRule::default()
        };
        for (sigma, lo, hi) in [(0.5, 0.1, 0.3), (1.0, 0.03, 0.1), (1.5, 0.01, 0.03)] {
            let t = simulated_threshold(32, sigma, 1.0, &rule).unwrap().unwrap();
            assert!(
                lo < t && t < hi,
                "σ {sigma}: threshold {t} outside ({lo}, {hi})"
            );
        }
    }
}
