"""k-NN precision and recall (Kynkäänniemi et al. 2019, "Improved precision and recall metric for
assessing generative models") and the Kernel Inception Distance (Bińkowski et al. 2018,
"Demystifying MMD GANs"), in any feature space.

Precision: the fraction of generated features inside the real manifold, the union of balls around
each real feature with radius its distance to its k-th nearest real neighbour. Recall: the
fraction of real features inside the generated manifold (same construction, roles swapped).
KID: the unbiased MMD^2 with the cubic polynomial kernel ``(x.y / d + 1)^3``, averaged over
random subsets.
"""

from __future__ import annotations

import torch

from aeot._validation import check_positive_int
from aeot.metrics._checks import check_features, check_same_dim


def _knn_radii(f: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    """Distance of each row of ``f`` (n, d) to its k-th nearest other row; (n,)."""
    out = []
    for i in range(0, f.shape[0], chunk):
        d = torch.cdist(f[i : i + chunk], f)  # (c, n); the row itself is at distance 0 (k+1-th smallest)
        out.append(d.kthvalue(k + 1, dim=1).values)
    return torch.cat(out)


def _inside(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk: int) -> torch.Tensor:
    """Fraction of ``points`` within ``radii[j]`` of some ``centres[j]``."""
    hits = 0
    for i in range(0, points.shape[0], chunk):
        d = torch.cdist(points[i : i + chunk], centres)  # (c, m)
        hits += int((d <= radii[None, :]).any(dim=1).sum())
    return hits / points.shape[0]


def precision_recall(real: torch.Tensor, fake: torch.Tensor, *, k: int = 3, chunk: int = 1024) -> tuple[float, float]:
    """``(precision, recall)`` of ``fake`` (m, d) against ``real`` (n, d) with k-NN manifolds (k = 3 as in the paper)."""
    real = check_features(real, name="real features", min_rows=k + 1)
    fake = check_features(fake, name="fake features", min_rows=k + 1)
    check_same_dim(real, fake)
    check_positive_int("k", k, error=ValueError)
    precision = _inside(fake, real, _knn_radii(real, k, chunk), chunk)
    recall = _inside(real, fake, _knn_radii(fake, k, chunk), chunk)
    return precision, recall


def kid(real: torch.Tensor, fake: torch.Tensor, *, subset_size: int = 1000, n_subsets: int = 100,
        seed: int = 0) -> tuple[float, float]:
    """``(mean, std)`` of the unbiased polynomial-kernel MMD^2 over ``n_subsets`` random subsets.

    The subset size is ``min(subset_size, n, m)``; 0 in expectation for samples of one distribution.
    """
    real = check_features(real, name="real features", min_rows=2)
    fake = check_features(fake, name="fake features", min_rows=2)
    check_same_dim(real, fake)
    check_positive_int("n_subsets", n_subsets, error=ValueError)
    d = real.shape[1]
    s = min(subset_size, real.shape[0], fake.shape[0])
    g = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(n_subsets):
        x = real[torch.randperm(real.shape[0], generator=g)[:s]]  # (s, d)
        y = fake[torch.randperm(fake.shape[0], generator=g)[:s]]
        kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
        off = s * (s - 1)
        mmd = ((kxx.sum() - kxx.diagonal().sum()) / off + (kyy.sum() - kyy.diagonal().sum()) / off
               - 2 * kxy.mean())
        values.append(float(mmd))
    t = torch.tensor(values, dtype=torch.float64)
    return float(t.mean()), float(t.std(unbiased=False))
