"""Latent metrics: how far generated codes are from held-out codes of real images.

``ot_divergence`` is the mean distance moved under exact OT (W1, Zhang et al. (2019) §4); ``w2`` the
2-Wasserstein distance from the exact optimal assignment under squared Euclidean cost. Both on
equal numbers of points (the larger set is subsampled deterministically).
"""

from __future__ import annotations

import math

import torch

from aeot.ot import assignment, ot_divergence


def w2_distance(x: torch.Tensor, y: torch.Tensor) -> float:
    """2-Wasserstein distance between the uniform empirical measures of ``x`` (n, d) and ``y`` (n, d)."""
    perm = assignment(x, y, cost="sqeuclidean").cpu()
    diff = x.detach().to("cpu", torch.float64) - y.detach().to("cpu", torch.float64)[perm]  # (n, d)
    return math.sqrt(float((diff * diff).sum(1).mean()))


def latent_metrics(fake: torch.Tensor, held_out: torch.Tensor, *, seed: int = 0) -> dict[str, float]:
    """``{"ot_divergence", "w2", "n"}`` between generated and held-out codes on ``n = min`` points each."""
    n = min(fake.shape[0], held_out.shape[0])
    g = torch.Generator().manual_seed(seed)
    a = fake.detach().cpu()[torch.randperm(fake.shape[0], generator=g)[:n]]
    b = held_out.detach().cpu()[torch.randperm(held_out.shape[0], generator=g)[:n]]
    return {"ot_divergence": ot_divergence(a, b), "w2": w2_distance(a, b), "n": int(n)}
