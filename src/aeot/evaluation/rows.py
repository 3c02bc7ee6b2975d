"""The rows of an evaluation's metrics tables, as pure functions of features.

In every feature space the generated images give one row against all real reference images;
at the floor's n, ``generated vs real A`` (as many generated images as real half A) sits beside
``real B (floor)`` (the disjoint real half B against A): a FID grows as n shrinks, so the floor
bounds only rows at its own n. Then A against B blurred (Gaussian, sigma 1 px at 28 px) and A
against B with class 0 removed. Every row records its n.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from aeot.metrics import copy_fraction, fid_from_features, inception_score, kid, mode_coverage, precision_recall

__all__ = ["FLOOR_PEER", "FLOOR_ROW", "LATENT_REFERENCE", "REMOVED_CLASS", "blur", "calibration_pairs",
           "halves", "memorization_record", "metric_rows", "subset"]

# Row names: the floor, the generated row at the floor's n, the latent reference.
FLOOR_ROW, FLOOR_PEER = "real B (floor)", "generated vs real A"
LATENT_REFERENCE = "training codes (reference)"
REMOVED_CLASS = 0

Features = dict[str, torch.Tensor]  # {"features": (n, f)} and, in classifier space, {"logits": (n, k)}


def blur(x: torch.Tensor, *, sigma_at_28: float = 1.0) -> torch.Tensor:
    """Gaussian blur of images (N, C, H, W), sigma scaled with the image size (1 px at 28 px)."""
    sigma = sigma_at_28 * x.shape[-1] / 28
    r = max(1, math.ceil(2 * sigma))
    t = torch.arange(-r, r + 1, dtype=x.dtype)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    c = x.shape[1]
    pad = F.pad(x, (r, r, r, r), mode="reflect")
    out = F.conv2d(pad, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(out, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c).clamp(0, 1)


def subset(s: Features, idx: torch.Tensor) -> Features:
    """The rows ``idx`` of every tensor of ``s``."""
    return {k: v[idx] for k, v in s.items()}


def halves(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of the disjoint real halves A and B of ``n`` reference images (sorted, ``n // 2`` each)."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[: n // 2].sort().values, perm[n // 2 : 2 * (n // 2)].sort().values


def metric_rows(a: Features, pairs: list[tuple[str, Features]], *, vs: str, with_labels: bool,
                real_labels: torch.Tensor | None, n_classes: int | None) -> list[dict[str, Any]]:
    """Metrics of each (name, set) against the reference set ``a``: FID, precision, recall, KID (+ IS, coverage)."""
    rows = []
    for name, b in pairs:
        fa, fb = a["features"], b["features"]
        p, r = precision_recall(fa, fb)
        k_mean, k_std = kid(fa, fb, n_subsets=50)
        row = {"row": name, "n": f"{fb.shape[0]} vs {fa.shape[0]}", "vs": vs, "fid": fid_from_features(fa, fb),
               "precision": p, "recall": r, "kid": k_mean, "kid_std": k_std}
        if with_labels and "logits" in b:
            is_mean, is_std = inception_score(b["logits"], n_splits=10)
            row.update(inception_score=is_mean, inception_score_std=is_std)
            if real_labels is not None:
                cov = mode_coverage(b["logits"].argmax(1), real_labels, n_classes)
                row.update(classes_covered=cov["classes_covered"], kl_to_real=cov["kl_to_real"],
                           histogram=cov["histogram"])
        rows.append(row)
    return rows


def calibration_pairs(real_b: Features, blurred_b: Features, labels_b: torch.Tensor | None) -> list[tuple[str, Features]]:
    """The real rows compared with half A: the floor (half B), B blurred, B without class 0."""
    pairs = [(FLOOR_ROW, real_b), ("real B blurred", blurred_b)]
    if labels_b is not None:
        keep = labels_b != REMOVED_CLASS
        pairs.append((f"real B without class {REMOVED_CLASS}", subset(real_b, keep.nonzero().squeeze(1))))
    return pairs


def memorization_record(generated: torch.Tensor, train: torch.Tensor, held_out: torch.Tensor, *, seed: int,
                        reconstructions: torch.Tensor | None = None) -> dict[str, Any]:
    """Near-copies of training images among generated ones (features (n, f) each), as the report's record.

    ``held_out`` real features calibrate the threshold (:func:`aeot.metrics.copy_fraction`);
    ``reconstructions``: features of decoded training codes, scored the same way.
    """
    cf = copy_fraction(generated, train, held_out, seed=seed)
    out = {"space": "classifier", "generated": cf.generated, "real": cf.real, "tau": cf.tau,
           "quantile": cf.quantile, "n_generated": cf.n_generated, "n_real": cf.n_real,
           "n_train": int(train.shape[0])}
    if reconstructions is not None:
        out.update(reconstructions=copy_fraction(reconstructions, train, held_out, seed=seed).generated,
                   n_reconstructions=int(reconstructions.shape[0]))
    return out
