"""Reference values for bump-analysis's tests (numpy + scikit-learn + scipy).

Writes tests/fixtures/reference.json with random point sets (no distance ties) and
scikit-learn's trustworthiness (and continuity = trustworthiness with roles swapped), plus
scipy's Procrustes disparity.  Run:  python3 scripts/make_fixtures.py
"""
import json
import os

import numpy as np
from scipy.spatial import procrustes
from sklearn.manifold import trustworthiness

rng = np.random.default_rng(12345)
n = 80
coords = rng.uniform(0, 32, size=(n, 2))
acts = np.concatenate([np.sin(coords @ rng.normal(size=(2, 12)) / 8.0), rng.normal(size=(n, 4)) * 0.3], axis=1)
cases = []
for k in (5, 10):
    cases.append({
        "k": k,
        "trustworthiness": float(trustworthiness(coords, acts, n_neighbors=k)),
        "continuity": float(trustworthiness(acts, coords, n_neighbors=k)),
    })
emb = coords @ np.array([[0.8, -0.6], [0.6, 0.8]]) * 3.0 + rng.normal(size=(n, 2)) * 0.5
_, _, disparity = procrustes(coords, emb)
doc = {
    "coords": coords.tolist(),
    "acts": acts.tolist(),
    "cases": cases,
    "procrustes_embedding": emb.tolist(),
    "procrustes_disparity": float(disparity),
}
here = os.path.dirname(os.path.abspath(__file__))
path = os.path.join(here, "..", "tests", "fixtures", "reference.json")
with open(path, "w") as fh:
    json.dump(doc, fh)
print("wrote", path, cases, disparity)
