"""Inception Score (Salimans et al. 2016, "Improved techniques for training GANs") from class logits.

IS = exp(E_x KL(p(y|x) || p(y))), averaged over ``n_splits`` disjoint splits (10, as in the
papers' tables). Here the classifier is the domain classifier (aeot.metrics.classifier), as in the
Zhang et al. (2019) tables for MNIST / Fashion-MNIST; its maximum is the number of classes.
"""

from __future__ import annotations

import math

import torch


def inception_score(logits: torch.Tensor, *, n_splits: int = 10) -> tuple[float, float]:
    """``(mean, std)`` of the Inception Score over ``n_splits`` splits of ``logits`` (n, k)."""
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape[1] < 2:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"logits must be a tensor (n, k) with k >= 2 classes, got {shape}")
    if isinstance(n_splits, bool) or not isinstance(n_splits, int) or not 1 <= n_splits <= logits.shape[0]:
        raise ValueError(f"n_splits must be an int in [1, {logits.shape[0]}] (the number of samples), got {n_splits!r}")
    logp = torch.log_softmax(logits.detach().to("cpu", torch.float64), dim=1)  # (n, k)
    if not torch.isfinite(logp).all():
        raise ValueError("logits have NaN or inf entries; check the classifier input")
    scores = []
    for part in torch.tensor_split(logp, n_splits):
        p = part.exp()
        log_marginal = torch.logsumexp(part, dim=0) - math.log(part.shape[0])  # (k,) log p(y)
        kl = (p * (part - log_marginal)).sum(1).mean()
        scores.append(float(kl.exp()))
    t = torch.tensor(scores)
    return float(t.mean()), float(t.std(unbiased=False))
