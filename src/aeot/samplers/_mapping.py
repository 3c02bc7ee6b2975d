"""What OTtrans and OTgen share: a prior, a mapping MLP f_w trained with Adam, and its state.

Zhang et al., "Optimal Transport Based Generative Autoencoders" (§3-§5): both samplers train
``f_w: prior -> codes`` and sample ``f_w(fresh prior draws)``. The subclass supplies the loss of
one training step (:meth:`MappingSampler._prepare`).

Standardisation (``standardize=True``, not in the paper, which trains on raw codes): the network
is trained on ``(z - shift) / scale`` with ``shift`` the codes' mean (d,) and ``scale`` one
number, the root mean variance over the dimensions, and samples are mapped back by
``shift + scale * f_w(n)``. One scale for all dimensions keeps the geometry: the optimal
matching for the squared cost is unchanged by translating one side and scaling it by a positive
number, so the pairs are the paper's; only the output range the network must reach changes
(image codes can have a scale far from the unit range of the prior and the initial network).
The reported losses (progress callback, ``loss_history_``) are in these standardised units.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from aeot.errors import AeotError, ConfigError
from aeot.nets.mapping import make_mapping_network, resolve_mapping_hidden
from aeot.samplers.base import LatentSampler, flag, positive, sobol

__all__ = ["IndexStream", "MappingSampler", "pair_cost"]

PRIORS = ("uniform", "gaussian")
LOSSES = {"l2": "sqeuclidean", "l1": "euclidean"}  # loss -> cost of the exact matching
LR_SCHEDULES = ("constant", "cosine")
EMIT_EVERY = 50
SAMPLE_CHUNK = 65536


def pair_cost(a: torch.Tensor, b: torch.Tensor, loss: str) -> torch.Tensor:
    """Mean over rows of c(a_i, b_i): squared Euclidean (``"l2"``, the paper's) or L1 (``"l1"``)."""
    diff = a - b  # (k, d)
    return diff.square().sum(1).mean() if loss == "l2" else diff.abs().sum(1).mean()


class IndexStream:
    """Minibatches of indices into n items: shuffled epochs (a data loader without replacement),
    refilled with a fresh permutation whenever fewer than ``batch_size`` indices are left."""

    def __init__(self, n: int, batch_size: int, generator: torch.Generator, device: torch.device):
        self.n, self.b, self.g, self.device = n, batch_size, generator, device
        self.buf = torch.empty(0, dtype=torch.long, device=device)

    def next(self) -> torch.Tensor:
        while self.buf.numel() < self.b:
            perm = torch.randperm(self.n, generator=self.g, device=self.device)
            self.buf = torch.cat([self.buf, perm])
        out, self.buf = self.buf[: self.b], self.buf[self.b:]
        return out  # (batch_size,)


@dataclass(kw_only=True)
class MappingSampler(LatentSampler):
    """Base of the OT mapping-network samplers (not registered; see ``ottrans`` and ``otgen``).

    Hyperparameters (defaults: the paper's §4): ``prior`` "uniform" (U(-1, 1)^prior_dim, the
    paper's) or "gaussian" (N(0, I)); ``prior_dim`` (None: the code dimension); ``hidden`` a
    preset of :data:`aeot.nets.mapping.MAPPING_PRESETS` ("2d": 4 x 512, "image": 6 x 512, the
    "seven layers" of §5.1), ``"auto"`` ("2d" for 2-D codes, else "image") or a sequence of
    widths; ``steps`` 10000 Adam steps at ``lr`` 3e-4 on minibatches of ``batch_size`` 128;
    ``lr_schedule`` "constant" (the paper's) or "cosine" (lr decays to 0 over the steps);
    ``loss`` "l2" (squared cost, the paper's) or "l1"; ``ema`` in [0, 1): 0 (the paper's) samples
    with the last weights, otherwise with their exponential moving average over the steps (decay
    ``ema`` per step, e.g. 0.999: Polyak averaging, which smooths the minibatch noise of the last
    steps); ``standardize`` (see the module doc);
    ``qmc_sample``: draw the prior of :meth:`sample` from a scrambled Sobol sequence (seeded by
    the generator) instead of i.i.d., so that every block of 2^k consecutive samples is spread
    evenly over the prior (quasi-Monte Carlo). ``qmc_train``: the same for the prior points of
    training (each OTgen step's batch is a fresh scrambled Sobol draw; OTtrans's matched prior
    set is one). The 2-D table of Zhang et al. (2019) §4 compares with real batches that are stratified the same
    way (``aeot toy``, docs/toy.md).
    """

    name: ClassVar[str] = "mapping"
    prior: str = "uniform"
    prior_dim: int | None = None
    hidden: str | tuple[int, ...] = "auto"
    steps: int = 10000
    lr: float = 3e-4
    batch_size: int = 128
    loss: str = "l2"
    standardize: bool = True
    qmc_sample: bool = False
    qmc_train: bool = False
    lr_schedule: str = "constant"
    ema: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.hidden, list):  # JSON round trip of a config gives lists
            self.hidden = tuple(self.hidden)

    # -- validation ------------------------------------------------------------------
    def _validate(self) -> None:
        if self.prior not in PRIORS:
            raise ConfigError(f"prior must be one of {', '.join(PRIORS)}, got {self.prior!r}")
        if self.prior_dim is not None:
            positive("prior_dim", self.prior_dim, integer=True)
        if self.hidden != "auto":
            resolve_mapping_hidden(self.hidden)
        positive("steps", self.steps, integer=True)
        positive("lr", self.lr)
        positive("batch_size", self.batch_size, integer=True)
        if self.loss not in LOSSES:
            raise ConfigError(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        flag("standardize", self.standardize)
        flag("qmc_sample", self.qmc_sample)
        flag("qmc_train", self.qmc_train)
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if isinstance(self.ema, bool) or not isinstance(self.ema, (int, float)) or not 0.0 <= self.ema < 1.0:
            raise ConfigError(f"ema must be a decay in [0, 1) (0: no averaging, e.g. 0.999), got {self.ema!r}")

    # -- building blocks ------------------------------------------------------------------
    def _hidden_for(self, dim: int) -> list[int]:
        if self.hidden == "auto":
            return resolve_mapping_hidden("2d" if dim == 2 else "image")
        return resolve_mapping_hidden(self.hidden)

    def _draw_prior(self, n: int, generator: torch.Generator, *, qmc: bool = False) -> torch.Tensor:
        """``n`` prior points (n, p): i.i.d., or with ``qmc`` one scrambled Sobol sequence."""
        shape, kw = (n, self.prior_dim_), {"generator": generator, "device": self.device_, "dtype": torch.float32}
        if qmc:
            u = sobol(n, self.prior_dim_, generator).to(self.device_)  # (n, p) in [0, 1)
            if self.prior == "uniform":
                return u.mul_(2.0).sub_(1.0)
            return torch.special.ndtri(u.clamp_(1e-7, 1 - 1e-7))  # N(0, I) by the inverse CDF
        if self.prior == "uniform":
            return torch.rand(shape, **kw).mul_(2.0).sub_(1.0)  # (n, p) in [-1, 1)
        return torch.randn(shape, **kw)  # (n, p)

    def _build(self, generator: torch.Generator | None) -> None:
        self.net_ = make_mapping_network(self.prior_dim_, self.dim_, hidden=self._hidden_for(self.dim_),
                                         generator=generator, device=self.device_)

    @property
    def cost(self) -> str:
        """The cost of the exact matchings (aeot.ot.assignment), from ``loss``."""
        return LOSSES[self.loss]

    # -- fit ---------------------------------------------------------------------------
    def _prepare(self, zs: torch.Tensor, generator: torch.Generator) -> Callable[[], torch.Tensor]:
        """Set up training on standardised float32 codes ``zs`` (n, d); return the function that
        computes the scalar loss of one training step (with grad through ``self.net_``)."""
        raise NotImplementedError  # pragma: no cover

    def _fit(self, z: torch.Tensor) -> None:
        self.prior_dim_ = int(self.prior_dim or self.dim_)
        z32 = z.detach().to(torch.float32)  # (n, d)
        if self.standardize:
            self.shift_ = z32.mean(0)  # (d,)
            var = float((z32 - self.shift_).square().mean())
            self.scale_ = math.sqrt(var) if var > 0 else 1.0
        else:
            self.shift_, self.scale_ = torch.zeros(self.dim_, device=z.device), 1.0
        zs = (z32 - self.shift_) / self.scale_  # (n, d)
        g = self.generator_  # fit advances the sampler's generator: init, prior draws, batches
        self._build(g)
        self._train(self._prepare(zs, g))

    def _train(self, step_loss: Callable[[], torch.Tensor]) -> None:
        opt = torch.optim.Adam(self.net_.parameters(), lr=self.lr)
        sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.steps)
                 if self.lr_schedule == "cosine" else None)
        history: list[float] = []
        running, count = torch.zeros((), device=self.device_), 0
        params = list(self.net_.parameters())
        avg = [p.detach().clone() for p in params] if self.ema > 0 else None
        for step in range(1, self.steps + 1):
            loss = step_loss()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            if avg is not None:  # starts at the initial weights, whose share after s steps is ema**s
                with torch.no_grad():
                    for a, p in zip(avg, params):
                        a.lerp_(p, 1.0 - self.ema)
            running += loss.detach()
            count += 1
            if step % EMIT_EVERY == 0 or step == self.steps:
                mean = float(running) / count
                if not math.isfinite(mean):
                    raise AeotError(f"{self.name}: the training loss is {mean} at step {step}; lower lr "
                                    f"(got {self.lr}) or keep standardize=True")
                history.append(mean)
                self._emit_step(step, self.steps, loss=mean)
                running.zero_()
                count = 0
        self.loss_history_ = torch.tensor(history, dtype=torch.float64)  # (ceil(steps / 50),)
        if avg is not None:  # sample with the averaged weights (the state saves them)
            with torch.no_grad():
                for p, a in zip(params, avg):
                    p.copy_(a)
        self.net_.requires_grad_(False)

    # -- sample ------------------------------------------------------------------------
    def _sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        out = torch.empty(n, self.dim_, device=self.device_, dtype=torch.float32)  # (n, d)
        with torch.no_grad():
            for i in range(0, n, SAMPLE_CHUNK):
                m = min(SAMPLE_CHUNK, n - i)
                out[i:i + m] = self.net_(self._draw_prior(m, generator, qmc=self.qmc_sample))  # (m, d)
        return out.mul_(self.scale_).add_(self.shift_)

    # -- state -------------------------------------------------------------------------
    def _fitted_state(self) -> dict[str, Any]:
        hist = self.loss_history_
        return {
            "net": {k: v.detach() for k, v in self.net_.state_dict().items()},
            "prior_dim": self.prior_dim_,
            "shift": self.shift_,
            "scale": float(self.scale_),
            "loss_history": hist,
            "loss_every": EMIT_EVERY,
            "loss_final": float(hist[-1]) if hist.numel() else math.nan,
        }

    def _load_fitted_state(self, state: dict[str, Any]) -> None:
        self.prior_dim_ = int(state["prior_dim"])
        self.shift_ = state["shift"].to(self.device_, torch.float32)
        self.scale_ = float(state["scale"])
        self.loss_history_ = state["loss_history"].to(torch.float64).cpu()
        self._build(torch.Generator(device=self.device_))  # placeholder weights, overwritten below
        weights = {k: v.to(self.device_, torch.float32) for k, v in state["net"].items()}
        try:
            self.net_.load_state_dict(weights)
        except RuntimeError as e:
            first = str(e).splitlines()[0]
            raise ConfigError(f"{self.name} state does not fit hidden={self.hidden!r} ({first}); "
                              "load it with the parameters it was saved with") from None
        self.net_.requires_grad_(False)
