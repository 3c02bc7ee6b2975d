"""Fréchet Inception Distance (Heusel et al. 2017, "GANs trained by a two time-scale update rule
converge to a local Nash equilibrium"), in any feature space.

``frechet_distance`` is the closed form ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2)``
between two Gaussians, computed in float64 from symmetric eigen-decompositions (no complex
``sqrtm``). :class:`FID` follows torchmetrics: ``update(images, real=...)``, ``compute()``,
``reset()``, and takes any feature-extractor module mapping images to ``(N, D)`` features.
"""

from __future__ import annotations

import torch
from torch import nn

from aeot.metrics._checks import check_features, check_images, check_same_dim


def feature_statistics(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (d,) and unbiased covariance (d, d) of features (n, d), in float64."""
    f = check_features(f, min_rows=2)
    mu = f.mean(0)  # (d,)
    fc = f - mu
    return mu, fc.T @ fc / (f.shape[0] - 1)  # (d,), (d, d)


def _sqrt_psd(s: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a positive semi-definite matrix (negative rounding clipped)."""
    vals, vecs = torch.linalg.eigh((s + s.T) / 2)
    return (vecs * vals.clamp_min(0).sqrt()) @ vecs.T


def frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor) -> float:
    """Fréchet (2-Wasserstein squared) distance between N(mu1, sigma1) and N(mu2, sigma2); float64, >= 0."""
    mu1, mu2 = mu1.to(torch.float64).cpu(), mu2.to(torch.float64).cpu()
    s1, s2 = sigma1.to(torch.float64).cpu(), sigma2.to(torch.float64).cpu()
    d = mu1.shape[0]
    if mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(f"statistics shapes do not match: mu {tuple(mu1.shape)}, {tuple(mu2.shape)}; "
                         f"sigma {tuple(s1.shape)}, {tuple(s2.shape)}")
    r1 = _sqrt_psd(s1)
    m = r1 @ s2 @ r1  # (d, d) symmetric PSD; its square root has the trace of (S1 S2)^1/2
    tr_covmean = torch.linalg.eigvalsh((m + m.T) / 2).clamp_min(0).sqrt().sum()
    value = float(((mu1 - mu2) ** 2).sum() + torch.trace(s1) + torch.trace(s2) - 2 * tr_covmean)
    return max(value, 0.0)


def fid_from_features(real: torch.Tensor, fake: torch.Tensor) -> float:
    """FID between two feature sets (n, d) and (m, d), n, m >= 2.

    With fewer points than dimensions (``n + m < d``: a few hundred Inception features of 2048
    dimensions) the covariances have rank below d and the same closed form is computed from the
    centred features A (n, d), B (m, d) without any d x d matrix: the nonzero eigenvalues of
    ``S1 S2 = A^T A B^T B / ((n - 1)(m - 1))`` are the squared singular values of ``A B^T`` over
    that constant, so ``tr (S1^1/2 S2 S1^1/2)^1/2`` is the nuclear norm of ``A B^T`` divided by
    ``sqrt((n - 1)(m - 1))``. Same value (a test checks it against the eigen-decomposition), about
    8 s less per FID at d = 2048 on one CPU core."""
    real, fake = check_features(real, name="real features", min_rows=2), check_features(fake, name="fake features", min_rows=2)
    check_same_dim(real, fake)
    n, m, d = real.shape[0], fake.shape[0], real.shape[1]
    if n + m >= d:
        return frechet_distance(*feature_statistics(real), *feature_statistics(fake))
    a, b = real.to(torch.float64).cpu(), fake.to(torch.float64).cpu()
    mu1, mu2 = a.mean(0), b.mean(0)  # (d,), (d,)
    a, b = a - mu1, b - mu2  # (n, d), (m, d) centred
    c = (n - 1) * (m - 1)
    tr_covmean = torch.linalg.svdvals(a @ b.T).sum() / c**0.5  # nuclear norm of (n, m)
    value = float(((mu1 - mu2) ** 2).sum() + (a * a).sum() / (n - 1) + (b * b).sum() / (m - 1) - 2 * tr_covmean)
    return max(value, 0.0)


@torch.no_grad()
def extract_features(extractor: nn.Module, images: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
    """``extractor`` applied to ``images`` (N, C, H, W) in batches on the extractor's device; (N, D) float64 CPU."""
    check_images(images)
    try:
        device = next(extractor.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    out = [extractor(images[i : i + batch_size].to(device)).to("cpu", torch.float64)
           for i in range(0, images.shape[0], batch_size)]
    feats = torch.cat(out)
    if feats.ndim != 2:
        raise ValueError(f"the feature extractor returned shape {tuple(feats.shape)}; it must return (N, D)")
    return feats


class FID:
    """FID metric with torchmetrics' interface and a pluggable feature extractor.

    >>> fid = FID(extractor)            # any module: images (N, C, H, W) in [0, 1] -> (N, D)
    >>> fid.update(real_images, real=True); fid.update(fake_images, real=False)
    >>> fid.compute()                   # float, 0 for identical feature sets

    Features are accumulated (not only their moments), so the same state also serves
    precision/recall and KID. ``set_real_features`` installs cached real features.
    """

    def __init__(self, feature_extractor: nn.Module, *, batch_size: int = 256):
        self.feature_extractor = feature_extractor
        self.batch_size = batch_size
        self.reset()

    def reset(self) -> None:
        self._real: list[torch.Tensor] = []
        self._fake: list[torch.Tensor] = []

    def update(self, images: torch.Tensor, *, real: bool) -> None:
        feats = extract_features(self.feature_extractor, images, batch_size=self.batch_size)
        (self._real if real else self._fake).append(feats)

    def set_real_features(self, features: torch.Tensor) -> None:
        self._real = [check_features(features, name="real features")]

    @property
    def real_features(self) -> torch.Tensor:
        return self._cat(self._real, "real")

    @property
    def fake_features(self) -> torch.Tensor:
        return self._cat(self._fake, "fake")

    @staticmethod
    def _cat(parts: list[torch.Tensor], which: str) -> torch.Tensor:
        if not parts:
            raise ValueError(f"FID has no {which} images yet; call update(images, real={which == 'real'}) first")
        return torch.cat(parts)

    def compute(self) -> float:
        return fid_from_features(self.real_features, self.fake_features)
