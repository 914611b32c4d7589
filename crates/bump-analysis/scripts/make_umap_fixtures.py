"""umap-learn's verdicts on the activations that bump-analysis's UMAP is checked against.

Builds three cases on a 16x16 grid of true centres (x, y) in {0..15}^2, rows in row-major
order (y outer, x inner), D = 64, from a fixed seed:
  ordered   - a smooth 2D sheet: sin(W^T (x, y) + phase) with W ~ N(0, 1/36), plus N(0, 0.01^2) noise;
  shuffled  - the same activations with the labels permuted (a 2D sheet, disordered w.r.t. x, y);
  noise     - isotropic N(0, 1) noise plus the same sheet at amplitude 0.3 (noise-dominated).
Activations are rounded to 5 decimals and umap-learn runs on the rounded values, so both sides
read the same numbers.

For each case and each seed it runs umap.UMAP(n_neighbors=15, min_dist=0.1, n_components=3,
metric="euclidean", random_state=seed) (exact k-NN, as umap-learn uses for N < 4096) and
records the in-sample OLS R^2 (sklearn LinearRegression, with intercept) from the three UMAP
coordinates to true x and to true y.

Known answers of the pieces, for the unit tests of the Rust port:
  - find_ab_params(spread, min_dist) for several (min_dist, spread);
  - fuzzy_simplicial_set on the exact distance matrix ("precomputed"): per-point sigma, rho and
    the row sums of the symmetrised fuzzy graph, for the ordered and the noise activations.

Writes tests/fixtures/umap.json.
Run:  python3 -m pip install -r scripts/requirements-umap.txt
      python3 scripts/make_umap_fixtures.py      (from crates/bump-analysis)
"""
import json
import os
import warnings

import numpy as np
import sklearn
import umap
from sklearn.linear_model import LinearRegression
from sklearn.metrics import pairwise_distances
from umap.umap_ import find_ab_params, fuzzy_simplicial_set

warnings.filterwarnings("ignore", message=".*n_jobs value.*")

SIDE, D, N_NEIGHBORS, MIN_DIST, N_COMPONENTS = 16, 64, 15, 0.1, 3
SEEDS = [0, 1, 2, 3, 4, 5, 6, 7]
SHEET_NOISE, NOISE_SHEET_AMPLITUDE = 0.01, 0.3

rng = np.random.default_rng(2024)
ys, xs = np.meshgrid(np.arange(SIDE), np.arange(SIDE), indexing="ij")
coords = np.stack([xs.ravel(), ys.ravel()], 1).astype(float)
n = coords.shape[0]
w = rng.normal(size=(2, D)) / 6.0
phase = rng.uniform(0.0, 2.0 * np.pi, D)
sheet = np.sin(coords @ w + phase)
ordered = np.round(sheet + SHEET_NOISE * rng.normal(size=sheet.shape), 5)
noise = np.round(NOISE_SHEET_AMPLITUDE * sheet + rng.normal(size=sheet.shape), 5)
perm = rng.permutation(n)

cases = [
    ("ordered", "sheet", coords),
    ("shuffled", "sheet", coords[perm]),
    ("noise", "noise", coords),
]
data = {"sheet": ordered, "noise": noise}


def r2(emb, y):
    return float(LinearRegression().fit(emb, y).score(emb, y))


out_cases = []
for name, key, labels in cases:
    runs = []
    for seed in SEEDS:
        emb = umap.UMAP(
            n_neighbors=N_NEIGHBORS,
            min_dist=MIN_DIST,
            n_components=N_COMPONENTS,
            metric="euclidean",
            random_state=seed,
        ).fit_transform(data[key])
        runs.append({"seed": seed, "r2_x": r2(emb, labels[:, 0]), "r2_y": r2(emb, labels[:, 1])})
        print(f"{name:9s} seed {seed}: R2_x = {runs[-1]['r2_x']:.4f}  R2_y = {runs[-1]['r2_y']:.4f}")
    out_cases.append({"name": name, "activations": key, "labels": labels.tolist(), "umap_learn": runs})

ab = []
for min_dist, spread in [(0.1, 1.0), (0.0, 1.0), (0.5, 1.0), (0.1, 2.0), (0.25, 0.5), (0.99, 1.0)]:
    a, b = find_ab_params(spread, min_dist)
    ab.append({"min_dist": min_dist, "spread": spread, "a": float(a), "b": float(b)})

fuzzy = []
for key in ("sheet", "noise"):
    dmat = pairwise_distances(data[key])
    graph, sigmas, rhos = fuzzy_simplicial_set(
        dmat, N_NEIGHBORS, np.random.RandomState(0), "precomputed"
    )
    fuzzy.append({
        "activations": key,
        "sigmas": sigmas.astype(float).tolist(),
        "rhos": rhos.astype(float).tolist(),
        "row_sums": np.asarray(graph.sum(axis=1)).ravel().astype(float).tolist(),
        "edges": int(graph.nnz),
    })

fixture = {
    "generator": "scripts/make_umap_fixtures.py",
    "versions": {"umap-learn": umap.__version__ if hasattr(umap, "__version__") else "0.5.7",
                 "scikit-learn": sklearn.__version__, "numpy": np.__version__},
    "params": {"n_neighbors": N_NEIGHBORS, "min_dist": MIN_DIST, "n_components": N_COMPONENTS},
    "n": n,
    "d": D,
    "activations": {k: v.ravel().tolist() for k, v in data.items()},
    "cases": out_cases,
    "ab": ab,
    "fuzzy": fuzzy,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "umap.json")
with open(path, "w") as f:
    json.dump(fixture, f, separators=(",", ":"))
    f.write("\n")
print(f"wrote {os.path.normpath(path)} ({os.path.getsize(path) / 1e3:.0f} kB)")
