#!/usr/bin/env python3
"""Per-axis numbers of the imbalance runs quoted in docs/imbalance.md.

Reads docs/runs/imbalance/<dataset>-seed<k>.metrics.jsonl.gz (copies of the runs'
metrics.jsonl) and prints, per dataset, the mean over seeds at the last checkpoint of: accuracy
at 1 px per axis, accuracy at half the axis's spacing, mean absolute error per axis, ridge-probe
and UMAP R^2 per axis, and the mean principal cosine between the x- and y-difference subspaces
(with its value at step 0). Usage: python3 docs/runs/imbalance/axes_table.py
"""
import gzip, json, pathlib, statistics as st

here = pathlib.Path(__file__).parent
rows = {}
for f in sorted(here.glob("*.metrics.jsonl.gz")):
    dataset = f.name.split("-seed")[0]
    recs = [json.loads(l) for l in gzip.open(f, "rt")]
    first, last = recs[0], recs[-1]
    a = last["axes"]
    rows.setdefault(dataset, []).append({
        "acc x/y (1 px)": (last["acc_x"], last["acc_y"]),
        "acc x/y (half spacing)": (a["acc_half_x"], a["acc_half_y"]),
        "err x/y (px)": (a["err_x"], a["err_y"]),
        "probe R2 x/y": (last["r2_x"], last["r2_y"]),
        "UMAP R2 x/y": (last["umap_r2_x"], last["umap_r2_y"]),
        "principal cos step 0 / last": (first["axes"]["factorization"]["mean_principal_cosine"],
                                         a["factorization"]["mean_principal_cosine"]),
    })
keys = list(next(iter(rows.values()))[0].keys())
print("| dataset | seeds | " + " | ".join(keys) + " |")
print("|---" * (len(keys) + 2) + "|")
for d in ["imbalanced", "mirror", "balanced"]:
    if d not in rows:
        continue
    cells = []
    for k in keys:
        xs = [r[k][0] for r in rows[d]]
        ys = [r[k][1] for r in rows[d]]
        cells.append(f"{st.mean(xs):.3f} / {st.mean(ys):.3f}")
    print(f"| {d} | {len(rows[d])} | " + " | ".join(cells) + " |")
