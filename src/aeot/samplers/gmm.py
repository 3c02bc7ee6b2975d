"""Gaussian mixture fitted to the latent codes by EM (scikit-learn), sampled with torch."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from aeot.errors import ConfigError
from aeot.samplers.base import LatentSampler, positive, sobol
from aeot.samplers.registry import register_sampler

__all__ = ["GMMSampler", "MixtureSampler", "sample_mixture"]


def sample_mixture(
    weights: torch.Tensor, means: torch.Tensor, chols: torch.Tensor, n: int, generator: torch.Generator,
    *, qmc: bool = False,
) -> torch.Tensor:
    """n draws of sum_k w_k N(mean_k, L_k L_k^T): pick k by the weights, then mean_k + L_k eps.

    weights (k,), means (k, d), chols (k, d, d) lower; returns (n, d) float64 on means' device.
    ``qmc``: the n uniforms (component, then eps by the inverse normal CDF) are one scrambled
    Sobol sequence in d + 1 dimensions, seeded by ``generator``, instead of i.i.d. draws.
    """
    k, d = means.shape
    cdf = torch.cumsum(weights, 0)  # (k,)
    if qmc:
        q = sobol(n, d + 1, generator, dtype=torch.float64).to(means.device)  # (n, d + 1) in [0, 1)
        u = q[:, 0] * cdf[-1]  # (n,)
        eps = torch.special.ndtri(q[:, 1:].clamp(1e-12, 1 - 1e-12)).unsqueeze(-1)  # (n, d, 1)
    else:
        u = torch.rand(n, generator=generator, device=means.device, dtype=torch.float64) * cdf[-1]  # (n,)
        eps = torch.randn(n, d, 1, generator=generator, device=means.device, dtype=torch.float64)  # (n, d, 1)
    comp = torch.searchsorted(cdf, u, right=True).clamp_(max=k - 1)  # (n,)
    return means[comp] + (chols[comp] @ eps).squeeze(-1)  # (n, d)


class MixtureSampler(LatentSampler):
    """A fitted Gaussian mixture (weights, means, full covariances) sampled by our generator.

    Shared by ``gmm`` and ``kmeans``; subclasses set the mixture in ``_fit`` via ``_set`` and
    name their one extra fitted number in ``_extra`` (state key, attribute).
    """

    _extra: ClassVar[tuple[str, str]] = ("", "")
    qmc_sample: bool = False  # a hyperparameter of the subclasses that offer it (kmeans)

    def _set(self, weights: torch.Tensor, means: torch.Tensor, covs: torch.Tensor) -> None:
        self.weights_ = weights  # (k,)
        self.means_ = means  # (k, d)
        self.covs_ = covs  # (k, d, d)
        self.chols_ = torch.linalg.cholesky(covs)  # (k, d, d) lower

    def _sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return sample_mixture(self.weights_, self.means_, self.chols_, n, generator, qmc=self.qmc_sample)

    def _fitted_state(self) -> dict[str, Any]:
        key, attr = self._extra
        return {"weights": self.weights_, "means": self.means_, "covs": self.covs_, key: getattr(self, attr)}

    def _load_fitted_state(self, state: dict[str, Any]) -> None:
        f64 = torch.float64
        w, m, c = state["weights"].to(f64), state["means"].to(f64), state["covs"].to(f64)
        if m.ndim != 2 or m.shape[1] != self.dim_ or w.shape != m.shape[:1] or c.shape != (*m.shape, m.shape[1]):
            raise ConfigError(f"{self.name} state has means {tuple(m.shape)}, weights {tuple(w.shape)}, covs "
                              f"{tuple(c.shape)} for dim {self.dim_}; load a state saved by {type(self).__name__}")
        self._set(w, m, c)
        key, attr = self._extra
        value = state.get(key)
        setattr(self, attr, float(value) if value is not None else math.nan)


@register_sampler
@dataclass(kw_only=True)
class GMMSampler(MixtureSampler):
    """A full-covariance Gaussian mixture (the GMM baseline of latent-space generative models).

    EM is scikit-learn's ``GaussianMixture(n_components, covariance_type="full", reg_covar,
    max_iter, n_init, random_state=seed)``; the fitted ``weights_`` (k,), ``means_`` (k, d) and
    ``covs_`` (k, d, d) are kept as float64 tensors on the codes' device, and samples are drawn
    with torch from the caller's generator (component by weight, then mean + chol @ eps).
    """

    name: ClassVar[str] = "gmm"
    _extra: ClassVar[tuple[str, str]] = ("lower_bound", "lower_bound_")
    n_components: int = 10
    reg_covar: float = 1e-6
    max_iter: int = 100
    n_init: int = 1
    seed: int = 0

    def _validate(self) -> None:
        positive("n_components", self.n_components, integer=True)
        positive("reg_covar", self.reg_covar)
        positive("max_iter", self.max_iter, integer=True)
        positive("n_init", self.n_init, integer=True)

    def _fit(self, z: torch.Tensor) -> None:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.mixture import GaussianMixture

        n = z.shape[0]
        if self.n_components > n:
            raise ValueError(f"n_components={self.n_components} exceeds the number of codes n={n}; "
                             "lower n_components or fit on more codes")
        gm = GaussianMixture(n_components=self.n_components, covariance_type="full", reg_covar=self.reg_covar,
                             max_iter=self.max_iter, n_init=self.n_init, random_state=int(self.seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm.fit(z.detach().to(torch.float64).cpu().numpy())
        if not gm.converged_:
            warnings.warn(f"GaussianMixture did not converge in max_iter={self.max_iter} EM iterations; "
                          "raise max_iter (or reg_covar)", RuntimeWarning, stacklevel=3)
        to = {"device": z.device, "dtype": torch.float64}
        self._set(torch.as_tensor(gm.weights_, **to), torch.as_tensor(gm.means_, **to),
                  torch.as_tensor(gm.covariances_, **to))
        self.lower_bound_ = float(gm.lower_bound_)
