"""Memorisation: how many generated samples are (near-)copies of training samples.

A generator that resamples its training codes (the plain semi-discrete map T, or a
finite set of interpolations) can score a good FID while creating nothing new. Two
measures, in the spirit of the data-copying test of Meehan, Chaudhuri and Dasgupta
("A non-parametric test to detect data-copying in generative models", AISTATS 2020)
and the authenticity of Alaa et al. ("How faithful is your synthetic data?", ICML 2022):

* :func:`copy_fraction`: in a feature space, a sample is a *near-copy* when its nearest
  training feature is closer than ``tau``, the ``quantile`` (default 0.05) of the
  nearest-training distances of real held-out images. ``tau`` is set on one half of
  the held-out images; the other half is scored with the same ``tau`` as the real-data
  calibration row, which measures (not assumes) how often fresh real images count as
  copies: about ``quantile``. A generator of new images scores near that row; one that
  copies its training set scores near 1.
* :func:`latent_copy_fraction`: the fraction of generated latent codes that equal a
  training code (within ``rtol`` of the codes' median nearest-neighbour distance).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from aeot.metrics._checks import check_features, check_same_dim


@dataclass(frozen=True)
class CopyFraction:
    """Output of :func:`copy_fraction`."""

    generated: float  # fraction of generated samples closer to the training set than tau
    real: float  # the same fraction for held-out real samples (calibration half B)
    tau: float  # the distance threshold (quantile of real half A's nearest-training distances)
    n_generated: int
    n_real: int  # rows of half B
    quantile: float


def nearest_distance(x: torch.Tensor, ref: torch.Tensor, *, chunk: int = 1024) -> torch.Tensor:
    """Euclidean distance of each row of ``x`` (m, d) to its nearest row of ``ref`` (n, d): (m,)."""
    out = [torch.cdist(x[i : i + chunk], ref, compute_mode="donot_use_mm_for_euclid_dist").min(1).values
           for i in range(0, x.shape[0], chunk)]
    return torch.cat(out) if out else torch.empty(0, dtype=x.dtype)


def copy_fraction(generated: torch.Tensor, train: torch.Tensor, held_out: torch.Tensor, *,
                  quantile: float = 0.05, seed: int = 0) -> CopyFraction:
    """Fraction of ``generated`` (m, d) features that are near-copies of ``train`` (n, d).

    ``held_out`` (r, d), r >= 4: real features not in ``train`` (the test split), split at
    random (``seed``) into half A, which sets ``tau``, and half B, the calibration row.
    """
    gen = check_features(generated, name="generated features")
    tr = check_features(train, name="training features")
    ho = check_features(held_out, name="held-out features", min_rows=4)
    check_same_dim(tr, gen)
    check_same_dim(tr, ho)
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {quantile!r}")
    perm = torch.randperm(ho.shape[0], generator=torch.Generator().manual_seed(seed))
    half = ho.shape[0] // 2
    a, b = ho[perm[:half]], ho[perm[half:]]
    tau = float(torch.quantile(nearest_distance(a, tr), quantile))
    return CopyFraction(
        generated=float((nearest_distance(gen, tr) < tau).double().mean()),
        real=float((nearest_distance(b, tr) < tau).double().mean()),
        tau=tau, n_generated=gen.shape[0], n_real=b.shape[0], quantile=quantile)


def latent_copy_fraction(z_generated: torch.Tensor, z_train: torch.Tensor, *, rtol: float = 1e-6) -> float:
    """Fraction of generated codes (m, d) within ``rtol`` x (median nearest-neighbour distance
    of the training codes) of a training code (n, d), n >= 2."""
    gen = check_features(z_generated, name="generated codes")
    tr = check_features(z_train, name="training codes", min_rows=2)
    check_same_dim(tr, gen)
    probe = tr[: min(tr.shape[0], 2000)]
    d = torch.cdist(probe, tr, compute_mode="donot_use_mm_for_euclid_dist")
    d[torch.arange(probe.shape[0]), torch.arange(probe.shape[0])] = float("inf")
    scale = float(d.min(1).values.median())
    tol = rtol * scale if scale > 0 else 0.0
    return float((nearest_distance(gen, tr) <= tol).double().mean())
