"""AE-OT of Liu et al. (2018): a network D approximates a Kantorovich potential; samples are z + grad D(z)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from aeot._validation import check_real
from aeot.errors import AeotError, ConfigError
from aeot.nets.mapping import make_mapping_network, resolve_mapping_hidden
from aeot.samplers._mapping import EMIT_EVERY, IndexStream
from aeot.samplers.base import LatentSampler, flag, positive
from aeot.samplers.registry import register_sampler

__all__ = ["KantorovichSampler", "semi_dual_loss"]

SAMPLE_CHUNK = 16384


def semi_dual_loss(d_prior: torch.Tensor, prior: torch.Tensor, codes: torch.Tensor, reg: float) -> torch.Tensor:
    """The negated batch semi-dual of OT for ``c(x, y) = |x - y|^2 / 2``, to minimise over D.

    ``d_prior`` (m,): D at the prior points ``prior`` (m, d); ``codes`` (k, d). With
    ``phi = -D`` the prior side's Kantorovich potential, the code side's is its c-transform on
    the batch, ``psi(y) = softmin_reg_i (c(x_i, y) + D(x_i))``: ``-reg log mean_i exp(-(.) / reg)``
    for ``reg > 0`` (entropic regularisation), the plain minimum for ``reg = 0``. Returns
    ``mean_i D(x_i) - mean_j psi(y_j)`` = -(E phi + E psi). Adding a constant to D leaves it
    unchanged.
    """
    c = 0.5 * torch.cdist(prior, codes).square()  # (m, k)
    t = c + d_prior[:, None]  # (m, k)
    if reg > 0:
        psi = -reg * (torch.logsumexp(-t / reg, dim=0) - math.log(t.shape[0]))  # (k,)
    else:
        psi = t.min(dim=0).values  # (k,)
    return d_prior.mean() - psi.mean()


@register_sampler
@dataclass(kw_only=True)
class KantorovichSampler(LatentSampler):
    """AE-OT of Liu et al., "Latent space optimal transport for generative models" (2018), as
    Zhang et al., "Optimal Transport Based Generative Autoencoders" (2019) §2.3 and §5.1 describe
    and run it (their "AE-OT" baseline; not the semi-discrete AE-OT of the ``sdot`` sampler).

    From Zhang et al. §2.3: a network D is trained on the latent codes and noise from a
    Gaussian prior to approximate the Kantorovich potential between them (high where the codes
    are); a prior draw z is mapped to ``z + grad D(z)`` and decoded, ``P(z + grad D(z))`` with P
    the autoencoder's decoder (here the sampler returns the code; the decoder is the model's).
    From §5.1: lambda = 0.1 ("as is suggested in [Liu et al.]"), batch size 128.

    Zhang et al. give no objective, network or optimiser for D, and do not say what lambda
    weighs; Liu et al.'s text was not available to us. Our choices, each stated:

    * Cost ``c(x, y) = |x - y|^2 / 2``, so that by Brenier's theorem the optimal map is
      ``x - grad phi(x)`` with phi the prior side's Kantorovich potential; ``D = -phi`` gives
      the paper's ``z + grad D(z)`` exactly.
    * Objective: the semi-dual ``max_phi E_prior[phi] + E_codes[phi^c]``, with the c-transform
      phi^c taken over each minibatch of prior points (:func:`semi_dual_loss`), softened at
      temperature ``reg``: the entropic regularisation of the transport, and the only role a
      lambda of 0.1 can take in this objective without changing its optimum's form. ``reg = 0``
      is the hard minimum. With ``reg > 0`` the map is the entropic (barycentric) map, which
      pulls samples slightly towards the conditional means (a shrinkage of order reg in
      standardised units).
    * D: the LeakyReLU MLP of :mod:`aeot.nets.mapping` with ``hidden`` widths and one output,
      Adam(``lr``) for ``steps`` steps; each step draws ``batch_size`` fresh prior points and
      ``batch_size`` codes (shuffled epochs).
    * ``standardize=True`` (default): trained on ``(z - mean) / s`` with s the root mean
      variance of the codes, so the prior is ``N(mean, s^2 I)`` in code units; this is the same
      OT problem (one translation and one positive scale of both sides keep the optimal map).
      ``standardize=False``: the prior is ``N(0, I)`` in the codes' own units.

    After ``fit``, ``net_`` is D and ``loss_history_`` the mean loss per ``EMIT_EVERY`` steps
    (the negated semi-dual, in standardised units).
    """

    name: ClassVar[str] = "kantorovich"
    reg: float = 0.1
    hidden: str | tuple[int, ...] = (512, 512, 512)
    steps: int = 10000
    lr: float = 3e-4
    batch_size: int = 128
    standardize: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.hidden, list):  # JSON round trip of a config gives lists
            self.hidden = tuple(self.hidden)

    def _validate(self) -> None:
        check_real("reg", self.reg, low=0.0)
        resolve_mapping_hidden(self.hidden)
        positive("steps", self.steps, integer=True)
        positive("lr", self.lr)
        positive("batch_size", self.batch_size, integer=True)
        flag("standardize", self.standardize)

    def _build(self, generator: torch.Generator | None) -> None:
        self.net_ = make_mapping_network(self.dim_, 1, hidden=self.hidden, generator=generator, device=self.device_)

    def _fit(self, z: torch.Tensor) -> None:
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
        stream = IndexStream(zs.shape[0], min(self.batch_size, zs.shape[0]), g, zs.device)
        opt = torch.optim.Adam(self.net_.parameters(), lr=self.lr)
        reg = float(self.reg)
        history: list[float] = []
        running, count = torch.zeros((), device=self.device_), 0
        for step in range(1, self.steps + 1):
            x = torch.randn(self.batch_size, self.dim_, generator=g, device=self.device_)  # (m, d)
            loss = semi_dual_loss(self.net_(x)[:, 0], x, zs[stream.next()], reg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            running += loss.detach()
            count += 1
            if step % EMIT_EVERY == 0 or step == self.steps:
                mean = float(running) / count
                if not math.isfinite(mean):
                    raise AeotError(f"kantorovich: the training loss is {mean} at step {step}; lower lr "
                                    f"(got {self.lr}) or keep standardize=True")
                history.append(mean)
                self._emit_step(step, self.steps, loss=mean)
                running.zero_()
                count = 0
        self.loss_history_ = torch.tensor(history, dtype=torch.float64)  # (ceil(steps / 50),)
        self.net_.requires_grad_(False)

    def transport(self, x: torch.Tensor) -> torch.Tensor:
        """The learned map ``x + grad D(x)`` on standardised points ``x`` (m, d) -> (m, d)."""
        self._check_fitted()
        with torch.enable_grad():
            xg = x.detach().to(torch.float32).requires_grad_(True)
            (grad,) = torch.autograd.grad(self.net_(xg).sum(), xg)  # (m, d)
        return xg.detach() + grad

    def _sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        out = torch.empty(n, self.dim_, device=self.device_, dtype=torch.float32)  # (n, d)
        for i in range(0, n, SAMPLE_CHUNK):
            m = min(SAMPLE_CHUNK, n - i)
            x = torch.randn(m, self.dim_, generator=generator, device=self.device_)  # (m, d)
            out[i:i + m] = self.transport(x)
        return out.mul_(self.scale_).add_(self.shift_)

    def _fitted_state(self) -> dict[str, Any]:
        hist = self.loss_history_
        return {
            "net": {k: v.detach() for k, v in self.net_.state_dict().items()},
            "shift": self.shift_,
            "scale": float(self.scale_),
            "loss_history": hist,
            "loss_every": EMIT_EVERY,
            "loss_final": float(hist[-1]) if hist.numel() else math.nan,
        }

    def _load_fitted_state(self, state: dict[str, Any]) -> None:
        self.shift_ = state["shift"].to(self.device_, torch.float32)
        self.scale_ = float(state["scale"])
        self.loss_history_ = state["loss_history"].to(torch.float64).cpu()
        self._build(torch.Generator(device=self.device_))  # placeholder weights, overwritten below
        weights = {k: v.to(self.device_, torch.float32) for k, v in state["net"].items()}
        try:
            self.net_.load_state_dict(weights)
        except RuntimeError as e:
            first = str(e).splitlines()[0]
            raise ConfigError(f"kantorovich state does not fit hidden={self.hidden!r} ({first}); "
                              "load it with the parameters it was saved with") from None
        self.net_.requires_grad_(False)
