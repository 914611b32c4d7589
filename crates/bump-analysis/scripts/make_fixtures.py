"""Reference values for bump-analysis's tests (numpy + scikit-learn + scipy).

Writes tests/fixtures/reference.json with random point sets (no distance ties) and
- scikit-learn's trustworthiness (and continuity = trustworthiness with roles swapped);
- scipy's Procrustes disparity;
- scikit-learn's Isomap (geodesic distance matrix and 2D embedding);
- scipy's Spearman rho of pairwise distances (all pairs and local pairs);
- numpy's covariance spectrum (D < N and D > N);
- numpy implementations of k-NN overlap, leave-one-out k-NN R², TwoNN, the lattice-calibrated
  multiscale TwoNN and Levina-Bickel (independent re-implementations of the documented formulas).
Run:  python3 scripts/make_fixtures.py   (numpy 2.4, scipy 1.17, scikit-learn 1.9 were used)
"""
import json
import os

import numpy as np
from scipy.spatial import procrustes
from scipy.spatial.distance import cdist, pdist
from scipy.stats import spearmanr
from sklearn.manifold import Isomap, trustworthiness

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

# --- Everything below draws after the values above, so they are unchanged. ---
K = 10
iso = Isomap(n_neighbors=K, n_components=2)
iso_emb = iso.fit_transform(acts)

dc, da = cdist(coords, coords), cdist(acts, acts)


def neighbours(dist, k):
    d = dist.copy()
    np.fill_diagonal(d, np.inf)
    return np.argsort(d, axis=1, kind="stable")[:, :k]


nc, na = neighbours(dc, K), neighbours(da, K)
local_pairs = [(i, j) for i in range(n) for j in nc[i]]
rho_all = spearmanr(pdist(coords), pdist(acts)).statistic
rho_local = spearmanr([dc[i, j] for i, j in local_pairs], [da[i, j] for i, j in local_pairs]).statistic
overlap = np.mean([len(set(nc[i]) & set(na[i])) / K for i in range(n)])


def knn_r2(nb, y):
    pred = y[nb].mean(axis=1)
    return 1 - ((y - pred) ** 2).sum() / ((y - y.mean()) ** 2).sum()


def sorted_nn_dist(dist, k):
    return np.take_along_axis(dist, neighbours(dist, k), axis=1)


r = sorted_nn_dist(da, 12)
twonn = n / np.log(r[:, 1] / r[:, 0]).sum()
multiscale = np.mean([np.log(2) / np.log(r[:, 2 * m - 1] / r[:, m - 1]).mean() for m in range(3, 7)])
lb = n / (np.log(r[:, K - 1:K] / r[:, :K - 1]).sum(axis=1) / (K - 1)).sum()

wide = rng.normal(size=(30, 50)) * np.linspace(3.0, 0.1, 50)
spectrum = lambda x: np.sort(np.linalg.eigvalsh(np.cov(x.T)))[::-1][: min(x.shape[0] - 1, x.shape[1])]

doc = {
    "coords": coords.tolist(),
    "acts": acts.tolist(),
    "cases": cases,
    "procrustes_embedding": emb.tolist(),
    "procrustes_disparity": float(disparity),
    "k": K,
    "isomap_geodesic": iso.dist_matrix_.tolist(),
    "isomap_embedding": iso_emb.tolist(),
    "spearman_all": float(rho_all),
    "spearman_local": float(rho_local),
    "knn_overlap": float(overlap),
    "knn_r2_x": float(knn_r2(na, coords[:, 0])),
    "knn_r2_y": float(knn_r2(na, coords[:, 1])),
    "twonn": float(twonn),
    "twonn_multiscale_3_6": float(multiscale),
    "levina_bickel_10": float(lb),
    "pca_spectrum": spectrum(acts).tolist(),
    "wide": wide.tolist(),
    "pca_spectrum_wide": spectrum(wide).tolist(),
}
here = os.path.dirname(os.path.abspath(__file__))
path = os.path.join(here, "..", "tests", "fixtures", "reference.json")
with open(path, "w") as fh:
    json.dump(doc, fh)
print("wrote", path, cases, disparity)
