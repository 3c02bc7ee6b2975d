"""Mode coverage from a classifier's labels: which classes the generated samples fall in.

A class counts as covered when it receives at least ``min_fraction`` of the samples (default 1%,
a tenth of its share under 10 balanced classes), so a few stray samples do not count as a mode.
The KL divergence KL(p_gen || p_real) compares the label histograms; it is 0 when they agree
and finite whenever the real distribution puts mass on every class.
"""

from __future__ import annotations

import math
from typing import Any

import torch


def label_histogram(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Counts (n_classes,) of integer ``labels`` (n,) in ``[0, n_classes)``."""
    if not isinstance(labels, torch.Tensor) or labels.ndim != 1 or labels.is_floating_point():
        raise ValueError(f"labels must be an integer tensor (n,), got "
                         f"{tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__}")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes}), got [{int(labels.min())}, {int(labels.max())}]")
    return torch.bincount(labels.cpu().long(), minlength=n_classes)


def mode_coverage(fake_labels: torch.Tensor, real_labels: torch.Tensor, n_classes: int, *,
                  min_fraction: float = 0.01) -> dict[str, Any]:
    """Classes covered by ``fake_labels``, the histograms, and KL(p_fake || p_real)."""
    if not 0 <= min_fraction < 1:
        raise ValueError(f"min_fraction must be in [0, 1), got {min_fraction!r}")
    h_fake = label_histogram(fake_labels, n_classes)
    h_real = label_histogram(real_labels, n_classes)
    if int(h_fake.sum()) == 0 or int(h_real.sum()) == 0:
        raise ValueError("mode coverage needs at least one fake and one real label")
    p = h_fake.double() / h_fake.sum()
    q = h_real.double() / h_real.sum()
    mask = p > 0
    kl = float((p[mask] * (p[mask] / q[mask]).log()).sum()) if bool((q[mask] > 0).all()) else math.inf
    covered = int((h_fake >= max(1, math.ceil(min_fraction * int(h_fake.sum())))).sum())
    return {"classes_covered": covered, "n_classes": n_classes, "kl_to_real": kl,
            "histogram": h_fake.tolist(), "real_histogram": h_real.tolist(), "min_fraction": min_fraction}
