"""Adam on the Brenier potential: the update of the AE-OT reference code, as an option.

The reference code (pyOMT) descends ``E(h)`` with Adam on the gradient ``mu - nu``. Here the
gradient is taken relative to the target masses, ``(mu_i - nu_i) / nu_i``, so that a cell's
step does not depend on its size, with bias correction, and with the step length in units of
the mean gap between the two best power scores (the pilot's ``delta0 / SLAB_FRACTION``), so
that one ``lr`` suits any scaling of the codes. The learning rate halves when the error
(p95 plus a fifth of the max) has not dropped by 3% for ``PATIENCE`` iterations. Measured
(benchmarks/sdot.py): slower than the damped Newton step of :mod:`aeot.ot._sdot_newton`, but
it needs no Hessian samples; it is kept so the two can be compared.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

LR = 30.0  # first step length, in units of the pilot's slab width delta0
BETAS = (0.9, 0.99)
PATIENCE = 10  # iterations without a 3% drop of the error before the step halves


class AdamStepper:
    """State of Adam on ``h``; ``step(mu, nu, ...)`` returns the change (n,) to add to ``h``."""

    def __init__(self, n: int, delta0: float, *, device, lr: float = 1.0):
        self.delta = torch.full((n,), float(delta0), dtype=torch.float64, device=device)  # (n,) unused slabs
        self.lr = lr * LR * float(delta0)
        self.m = torch.zeros(n, dtype=torch.float64, device=device)  # (n,) first moment
        self.v = torch.zeros(n, dtype=torch.float64, device=device)  # (n,) second moment
        self.t, self.best, self.bad = 0, math.inf, 0

    def state_dict(self) -> dict:
        """Everything the next step reads (for :mod:`aeot.ot._sdot_checkpoint`)."""
        return {"delta": self.delta, "m": self.m, "v": self.v, "t": self.t, "bad": self.bad,
                "lr": torch.tensor(self.lr, dtype=torch.float64), "best": torch.tensor(self.best, dtype=torch.float64)}

    def load_state_dict(self, state: dict) -> None:
        dev = self.m.device
        self.delta, self.m, self.v = state["delta"].to(dev), state["m"].to(dev), state["v"].to(dev)
        self.t, self.bad = int(state["t"]), int(state["bad"])
        self.lr, self.best = float(state["lr"]), float(state["best"])

    def step(self, mu: Tensor, nu: Tensor, n_total: int, est: dict, n_hess: int) -> Tensor:
        b1, b2 = BETAS
        g = (mu - nu) / nu  # (n,) relative gradient
        self.t += 1
        self.m.mul_(b1).add_(g, alpha=1 - b1)
        self.v.mul_(b2).addcmul_(g, g, value=1 - b2)
        m_hat = self.m / (1 - b1**self.t)
        v_hat = self.v / (1 - b2**self.t)
        err = float(torch.quantile(g.abs(), 0.95)) + float(g.abs().max()) / 5
        if err < 0.97 * self.best:
            self.best, self.bad = err, 0
        else:
            self.bad += 1
        if self.bad >= PATIENCE:
            self.lr, self.best, self.bad = 0.5 * self.lr, err, 0
        return -self.lr * m_hat / (v_hat.sqrt() + 1e-12)
