"""Full-covariance Gaussian fitted to the latent codes (the Gaussian/VAE-style baseline)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from aeot.samplers.base import LatentSampler, positive
from aeot.samplers.registry import register_sampler


@register_sampler
@dataclass(kw_only=True)
class GaussianSampler(LatentSampler):
    """N(mean, cov) with the codes' empirical mean and covariance.

    ``ridge`` is added to the covariance diagonal (relative to its mean variance) so
    that a rank-deficient covariance (n <= d, collapsed dimensions) still factorises.
    """

    name: ClassVar[str] = "gaussian"
    source_space: ClassVar[str | None] = "standard normal noise"
    ridge: float = 1e-6
    seed: int = 0

    def _validate(self) -> None:
        positive("ridge", self.ridge)

    def _fit(self, z: torch.Tensor) -> None:
        z64 = z.to(torch.float64)
        self.mean_ = z64.mean(0)  # (d,)
        zc = z64 - self.mean_
        n = z.shape[0]
        cov = zc.T @ zc / max(n - 1, 1)  # (d, d)
        scale = float(cov.diagonal().mean()) or 1.0
        cov = cov + self.ridge * scale * torch.eye(z.shape[1], dtype=torch.float64, device=z.device)
        self.cov_ = cov
        self.chol_ = torch.linalg.cholesky(cov)  # (d, d) lower

    def _source(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randn(n, self.dim_, generator=generator, device=self.device_, dtype=torch.float64)  # (n, d)

    def _push(self, w: torch.Tensor) -> torch.Tensor:
        return self.mean_ + w @ self.chol_.T  # (n, d)

    def _sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return self._push(self._source(n, generator))

    def _fitted_state(self) -> dict[str, Any]:
        return {"mean": self.mean_, "cov": self.cov_}

    def _load_fitted_state(self, state: dict[str, Any]) -> None:
        self.mean_ = state["mean"].to(torch.float64)
        self.cov_ = state["cov"].to(torch.float64)
        self.chol_ = torch.linalg.cholesky(self.cov_)
