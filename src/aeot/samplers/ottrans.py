"""OTtrans: a network regresses ONE exact optimal bijection from prior samples to the codes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch

from aeot.ot import assignment
from aeot.samplers._mapping import IndexStream, MappingSampler, pair_cost
from aeot.samplers.base import positive
from aeot.samplers.registry import register_sampler

__all__ = ["OTTransSampler"]


@register_sampler
@dataclass(kw_only=True)
class OTTransSampler(MappingSampler):
    """OTtrans (Zhang et al., "Optimal Transport Based Generative Autoencoders", §3.1, Algorithm 1).

    1. Draw m prior points N (U(-1, 1)^d by default; one scrambled Sobol draw with
       ``qmc_train``) and take m codes Z.
    2. Compute the exact optimal bijection sigma: N -> Z for the squared cost, once
       (:func:`aeot.ot.assignment`).
    3. Train f_w with Adam on minibatches of the pairs (n_i, sigma(n_i)) (shuffled epochs), loss
       ``mean_i c(f_w(n_i), sigma(n_i))`` with c the squared Euclidean distance (``loss="l2"``,
       the paper's) or the L1 distance (``loss="l1"``; the matching then uses the Euclidean cost,
       the nearest cost :func:`aeot.ot.assignment` offers).

    Sampling is f_w(fresh prior draws). The prior dimension must equal the code dimension here
    (sigma compares prior points and codes directly).

    ``n_pairs`` caps m (default 5000): m = min(n, n_pairs). With more codes than that, a random
    subset of n_pairs codes (without replacement) enters the matching, since the exact bijection
    costs O(m^2) memory and about O(m^3) time (60000 MNIST codes would need a 60000^2 cost
    matrix; on 2-D moons one CPU core took about 5 s for m=2000, 60 s for m=5000 and 520 s for
    m=10000 with scipy's solver, while the divergence reached after training did not depend on m
    in that range). With fewer codes, m = n: every code is matched exactly once (duplicating
    codes adds nothing to a bijection but cost). After ``fit``, ``pairs_prior_`` (m, d) holds the prior
    points and ``pairs_code_index_`` (m,) the index of the code each is matched to.
    """

    name: ClassVar[str] = "ottrans"
    n_pairs: int = 5000

    def _validate(self) -> None:
        super()._validate()
        positive("n_pairs", self.n_pairs, integer=True)

    def _prepare(self, zs: torch.Tensor, generator: torch.Generator) -> Callable[[], torch.Tensor]:
        n, d = zs.shape
        if self.prior_dim_ != d:
            raise ValueError(f"ottrans matches prior points to codes directly, so prior_dim must equal the "
                             f"code dimension {d}, got prior_dim={self.prior_dim}; leave prior_dim=None")
        m = min(n, self.n_pairs)
        if m < n:
            idx = torch.randperm(n, generator=generator, device=zs.device)[:m]  # (m,)
        else:
            idx = torch.arange(n, device=zs.device)  # (m,)
        prior = self._draw_prior(m, generator, qmc=self.qmc_train)  # (m, d)
        perm = assignment(prior, zs[idx], cost=self.cost)  # prior[i] -> zs[idx[perm[i]]]
        self.pairs_prior_ = prior
        self.pairs_code_index_ = idx[perm.to(idx.device)]  # (m,)
        target = zs[self.pairs_code_index_]  # (m, d)
        stream = IndexStream(m, min(self.batch_size, m), generator, zs.device)

        def step_loss() -> torch.Tensor:
            b = stream.next()  # (batch,)
            return pair_cost(self.net_(prior[b]), target[b], self.loss)

        return step_loss
