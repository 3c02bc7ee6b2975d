"""k-means clusters, each approximated by a Gaussian: the "Cluster (k)" baseline."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import ClassVar

import torch

from aeot.samplers.base import flag, positive
from aeot.samplers.gmm import MixtureSampler
from aeot.samplers.registry import register_sampler

__all__ = ["KMeansSampler"]


@register_sampler
@dataclass(kw_only=True)
class KMeansSampler(MixtureSampler):
    """Gaussians on k-means clusters (Zhang et al., "Optimal Transport Based Generative
    Autoencoders", §4.1: "We apply K-means clustering to our data before approximating each
    cluster with a normal distribution"; Cluster (k=8) and (k=16) in their table).

    scikit-learn ``KMeans(n_clusters, n_init, random_state=seed)`` partitions the codes; cluster
    j gets weight ``n_j / n`` (samples are drawn in proportion to cluster size), the mean of its
    codes and their full (unbiased) covariance plus ``ridge`` times the mean variance of all codes
    on the diagonal, so singleton and flat clusters still factorise. ``qmc_sample``: draw from a
    scrambled Sobol sequence instead of i.i.d. (as the mapping samplers' knob; docs/toy.md).
    """

    name: ClassVar[str] = "kmeans"
    _extra: ClassVar[tuple[str, str]] = ("inertia", "inertia_")
    n_clusters: int = 8
    n_init: int = 10
    ridge: float = 1e-6
    qmc_sample: bool = False
    seed: int = 0

    def _validate(self) -> None:
        flag("qmc_sample", self.qmc_sample)
        positive("n_clusters", self.n_clusters, integer=True)
        positive("n_init", self.n_init, integer=True)
        positive("ridge", self.ridge)

    def _fit(self, z: torch.Tensor) -> None:
        from sklearn.cluster import KMeans
        from sklearn.exceptions import ConvergenceWarning

        n, d = z.shape
        if self.n_clusters > n:
            raise ValueError(f"n_clusters={self.n_clusters} exceeds the number of codes n={n}; "
                             "lower n_clusters or fit on more codes")
        z64 = z.detach().to(torch.float64)
        km = KMeans(n_clusters=self.n_clusters, n_init=self.n_init, random_state=int(self.seed))
        with warnings.catch_warnings():  # duplicate codes: fewer distinct clusters than asked
            warnings.simplefilter("ignore", ConvergenceWarning)
            labels = torch.as_tensor(km.fit_predict(z64.cpu().numpy()), dtype=torch.long, device=z.device)  # (n,)
        k = self.n_clusters
        counts = torch.bincount(labels, minlength=k).to(torch.float64)  # (k,)
        if int((counts == 0).sum()):
            warnings.warn(f"k-means left {int((counts == 0).sum())} of n_clusters={k} clusters empty "
                          "(duplicate codes); they get weight 0 - lower n_clusters", RuntimeWarning, stacklevel=3)
        means = torch.zeros(k, d, dtype=torch.float64, device=z.device).index_add_(0, labels, z64)
        means /= counts.clamp(min=1)[:, None]  # (k, d)
        zc = z64 - means[labels]  # (n, d)
        covs = torch.zeros(k, d, d, dtype=torch.float64, device=z.device)
        covs.index_add_(0, labels, zc[:, :, None] * zc[:, None, :])  # (k, d, d) scatter
        covs /= (counts - 1).clamp(min=1)[:, None, None]
        scale = float(z64.var(0, unbiased=False).mean()) or 1.0
        covs += self.ridge * scale * torch.eye(d, dtype=torch.float64, device=z.device)
        self._set(counts / n, means, covs)
        self.inertia_ = float(km.inertia_)
