"""OTgen: a network trained with a fresh exact OT matching of its predictions at every step."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch

from aeot.errors import ConfigError
from aeot.ot import assignment
from aeot.samplers._mapping import IndexStream, MappingSampler, pair_cost
from aeot.samplers.registry import register_sampler

__all__ = ["OTGenSampler", "diversity_term"]


def diversity_term(generated: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """D of OTgen (Zhang et al., §3.2): |mean pairwise distance of ``generated`` (k, d)
    - mean pairwise distance of ``real`` (k', d)|, a scalar with grad through ``generated``.

    The paper writes ``| 1/|N| sum_{n1,n2} (f(n1) - f(n2)) - 1/|Z| sum_{z1,z2} (z1 - z2) |_1``;
    read literally, a sum of signed differences over all ordered pairs is identically zero. Its
    text says what is meant: D "takes the average distance between two generated latent vectors
    and compares it to the average distance between two genuine latent vectors", so we use the
    mean Euclidean distance over the pairs i < j of each set and the absolute difference.
    """
    if generated.shape[0] < 2 or real.shape[0] < 2:
        return generated.new_zeros(())
    return (torch.pdist(generated).mean() - torch.pdist(real).mean()).abs()


@register_sampler
@dataclass(kw_only=True)
class OTGenSampler(MappingSampler):
    """OTgen (Zhang et al., "Optimal Transport Based Generative Autoencoders", §3.2, Algorithm 2).

    Each of ``steps`` Adam steps:

    1. draw a fresh prior batch N (``batch_size`` points, U(-1, 1)^prior_dim by default; a
       scrambled Sobol draw with ``qmc_train``) and a fresh batch of codes Z (shuffled epochs
       over the fitted codes);
    2. predictions P = f_w(N) and the exact optimal bijection sigma: P -> Z
       (:func:`aeot.ot.assignment` on the detached predictions; squared cost for ``loss="l2"``,
       the paper's, Euclidean cost for ``loss="l1"``);
    3. loss ``mean_i c(p_i, sigma(p_i)) + diversity_weight * D(P, Z)`` with D
       :func:`diversity_term` (the paper's lambda; 0 by default, as in all its experiments).

    Sampling is f_w(fresh prior draws). ``prior_dim`` may differ from the code dimension.
    """

    name: ClassVar[str] = "otgen"
    diversity_weight: float = 0.0

    def _validate(self) -> None:
        super()._validate()
        w = self.diversity_weight
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
            raise ConfigError(f"diversity_weight must be a non-negative number (the paper's lambda), got {w!r}")

    def _prepare(self, zs: torch.Tensor, generator: torch.Generator) -> Callable[[], torch.Tensor]:
        n = zs.shape[0]
        k = self.batch_size
        stream = IndexStream(n, k, generator, zs.device)
        lam = float(self.diversity_weight)

        def step_loss() -> torch.Tensor:
            z = zs[stream.next()]  # (k, d)
            p = self.net_(self._draw_prior(k, generator, qmc=self.qmc_train))  # (k, d)
            perm = assignment(p.detach(), z, cost=self.cost)  # p[i] -> z[perm[i]]
            loss = pair_cost(p, z[perm.to(z.device)], self.loss)
            if lam > 0:
                loss = loss + lam * diversity_term(p, z)
            return loss

        return step_loss
