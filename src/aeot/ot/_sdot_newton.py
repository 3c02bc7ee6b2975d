"""Sampled Hessian of the semi-discrete dual and the damped Newton step.

For the power cells ``W_i(h)`` of the uniform measure on a box, the Jacobian of the cell
measures is a weighted graph Laplacian (Kitagawa, Merigot, Thibert, JEMS 2019):
``d mu_i / d h_j = -w_ij`` for ``j != i`` and ``d mu_i / d h_i = sum_j w_ij`` with
``w_ij = area(facet_ij) / |y_i - y_j|``.  A sample ``x`` in ``W_i`` whose score for ``j`` is
within ``delta_i`` of its best score lies in a slab of width ``delta_i / |y_i - y_j|`` along
the facet, so ``w_ij ~ (c_ij / delta_i + c_ji / delta_j) / (2 M)`` where ``c_ij`` counts such
samples among ``M``; each cell's ``delta_i`` is set so that about a quarter of its samples
lie in its slabs (a narrower slab for a thin cell or a close pair of codes, which would
otherwise fill it and look flatter than it is).  The counts are integers (exact across
ranks); the estimate is smoothed by an exponential moving average over iterations, and the
Newton system is solved by Jacobi-preconditioned conjugate gradients with a
Levenberg-Marquardt term ``lam * diag(L)`` that bounds the step where the sampled graph is
too sparse.  :class:`NewtonStepper` adds the safeguards measured to be needed: a per-cell
trust radius (Rprop-like) and an exact one-cell raise of empty cells.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

LAM = 0.001  # Levenberg-Marquardt damping of the Newton system (relative to the degree); 0.05 stalled on 2-D curve data (moons)
BETA = 0.7  # moving-average weight of the previous Hessian estimate
SLAB_FRACTION = 0.25  # target fraction of a cell's samples lying in its slabs (sets delta_i)
RADIUS = 3.0  # first trust radius of each potential, in units of its delta
RADIUS_MAX = 100.0  # largest trust radius, in units of delta
GROW = 2.0  # growth of the trust radius of a clipped cell whose error keeps its sign
FLIP_Z = 3.0  # errors beyond this many noise std count as significant for the trust radius


def pair_keys(rows_cell: Tensor, cols_other: Tensor, n: int) -> Tensor:
    """Directed edge keys ``i * n + j`` (p,) int64 of slab pairs (sample in cell i, near cell j)."""
    return rows_cell * n + cols_other


class SampledLaplacian:
    """Exponential moving average of the sampled facet weights, stored as an edge list."""

    def __init__(self, n: int, *, beta: float, device):
        self.n, self.beta = n, float(beta)
        self.keys = torch.empty(0, dtype=torch.long, device=device)  # (e,) sorted unique keys
        self.w = torch.empty(0, dtype=torch.float64, device=device)  # (e,) weights

    def update(self, keys: Tensor, counts: Tensor, n_samples: int, delta: Tensor) -> None:
        """Fold in one iteration's slab counts: directed ``keys`` (e,) unique, ``counts`` (e,),
        with the slab width ``delta`` (n,) of each cell: ``w_ij = (c_ij / delta_i + c_ji / delta_j) / 2M``."""
        i = torch.div(keys, self.n, rounding_mode="floor")
        j = keys % self.n
        w_dir = counts.to(torch.float64) / (2.0 * n_samples * delta[i])
        und, inv = torch.unique(torch.minimum(i, j) * self.n + torch.maximum(i, j), return_inverse=True)
        w_new = torch.zeros(und.numel(), dtype=torch.float64, device=keys.device).index_add_(0, inv, w_dir)
        keys = und
        if self.keys.numel() == 0 or self.beta == 0.0:
            self.keys, self.w = keys, w_new
            return
        allk = torch.cat([self.keys, keys])
        allw = torch.cat([self.beta * self.w, (1.0 - self.beta) * w_new])
        self.keys, inv = torch.unique(allk, return_inverse=True)
        self.w = torch.zeros(self.keys.numel(), dtype=torch.float64, device=allw.device).index_add_(0, inv, allw)

    def _ends(self) -> tuple[Tensor, Tensor]:
        return torch.div(self.keys, self.n, rounding_mode="floor"), self.keys % self.n

    def degree(self) -> Tensor:
        a, b = self._ends()
        deg = torch.zeros(self.n, dtype=torch.float64, device=self.w.device)
        return deg.index_add_(0, a, self.w).index_add_(0, b, self.w)  # (n,)

    def solve(self, g: Tensor, *, lam: float, tol: float = 1e-3, max_iter: int = 100) -> Tensor:
        """``p`` (n,) with ``(L + lam * D~) p = g - mean(g)``, by preconditioned CG.

        ``D~`` is the degree, with isolated cells (no sampled facet) given the smallest
        positive degree, so that their step is large and gets clipped by the caller.
        """
        a, b = self._ends()
        deg = self.degree()
        pos = deg > 0
        floor = deg[pos].min() if bool(pos.any()) else torch.tensor(1.0, dtype=deg.dtype, device=deg.device)
        dt = torch.where(pos, deg, floor)  # (n,)
        prec = (deg + lam * dt).clamp_min(lam * floor)

        def matvec(v: Tensor) -> Tensor:
            diff = self.w * (v[a] - v[b])  # (e,)
            lv = torch.zeros_like(v).index_add_(0, a, diff).index_add_(0, b, -diff)
            return lv + lam * dt * v

        r = g - g.mean()
        x = torch.zeros_like(r)
        z = r / prec
        p = z.clone()
        rz = r @ z
        r0 = r.norm()
        if float(r0) == 0.0:
            return x
        for _ in range(max_iter):
            ap = matvec(p)
            alpha = rz / (p @ ap)
            x += alpha * p
            r -= alpha * ap
            if float(r.norm()) <= tol * float(r0):
                break
            z = r / prec
            rz_new = r @ z
            p = z + (rz_new / rz) * p
            rz = rz_new
        return x - x.mean()


class NewtonStepper:
    """State of the damped Newton iteration on ``h``: Hessian average, slab widths, trust radii.

    ``step(...)`` returns the change ``-p`` to add to ``h`` (n,) from one iteration's estimate.
    """

    def __init__(self, n: int, delta0: float, *, device):
        self.lap = SampledLaplacian(n, beta=BETA, device=device)
        self.delta = torch.full((n,), float(delta0), dtype=torch.float64, device=device)  # (n,) slab widths
        self.radius = RADIUS * self.delta.clone()  # (n,) largest |step| of each potential
        self._z = self._clipped = None

    def state_dict(self) -> dict:
        """Everything the next step reads (for :mod:`aeot.ot._sdot_checkpoint`)."""
        return {"keys": self.lap.keys, "w": self.lap.w, "delta": self.delta, "radius": self.radius,
                "z": self._z, "clipped": self._clipped}

    def load_state_dict(self, state: dict) -> None:
        dev = self.delta.device
        self.lap.keys, self.lap.w = state["keys"].to(dev), state["w"].to(dev)
        self.delta, self.radius = state["delta"].to(dev), state["radius"].to(dev)
        self._z = None if state["z"] is None else state["z"].to(dev)
        self._clipped = None if state["clipped"] is None else state["clipped"].to(dev)

    def step(self, mu: Tensor, nu: Tensor, n_total: int, est: dict, n_hess: int) -> Tensor:
        """mu, nu (n,); ``est`` holds the slab keys/counts and per-cell slab statistics of the
        ``n_hess`` Hessian samples; ``n_total`` samples estimated ``mu``."""
        if est["keys"].numel():
            self.lap.update(est["keys"], est["key_counts"], n_hess, self.delta)
        # trust radius, on significant errors only: a cell whose error changes sign had too long
        # a step (the sampled Hessian misses some curvature), one that was clipped and kept
        # its sign had too short a one (big cells must shrink by many slab widths)
        z = (mu - nu) / (nu * (1 - nu) / n_total).sqrt()  # (n,) error in noise std
        flip = torch.zeros_like(z, dtype=torch.bool)
        if self._z is not None:
            sig = (z.abs() > FLIP_Z) & (self._z.abs() > FLIP_Z)
            flip = sig & (z * self._z < 0)
            # a flip halves this step and the radius (not below its start: a persistent cut
            # would freeze a pair of close cells, whose difference oscillates while their sum
            # must still move); a clipped cell that kept its sign gets a doubled radius
            r = torch.where(flip, torch.maximum(0.5 * self.radius, RADIUS * self.delta), self.radius)
            r = torch.where(sig & (z * self._z > 0) & self._clipped, GROW * r, r)
            self.radius = torch.minimum(torch.maximum(r, 0.05 * self.delta), RADIUS_MAX * self.delta)
        p = self.lap.solve(mu - nu, lam=LAM)
        self._clipped = p.abs() > self.radius
        p = torch.maximum(torch.minimum(p, self.radius), -self.radius)
        p = torch.where(flip, 0.5 * p, p)
        self._z = z
        # slab widths: about SLAB_FRACTION of each cell's Hessian samples in its slabs
        hc, sl = est["hess_counts"], est["slabbed"]
        frac = sl.to(torch.float64) / hc.clamp_min(1)
        factor = torch.where(frac > 0, SLAB_FRACTION / frac, torch.full_like(frac, 2.0)).clamp_(0.5, 2.0)
        self.delta = torch.where(hc >= 8, self.delta * factor, self.delta)
        med = self.delta.median()
        self.delta = self.delta.clamp_(0.01 * med, 4.0 * med)
        return -p


def capture_raise(t32: Tensor, h: Tensor, cells: Tensor, nu: Tensor, kept: list, comm, total: int) -> Tensor:
    """Raise (e,) of the potential of each empty cell so that it would win ``nu_i * total`` kept samples.

    The k-th largest of ``<x, t_i> + h_i - best(x)`` over the kept samples ``x`` (each rank
    its own, merged exactly): a one-cell exact solve that ignores the other empty cells.
    """
    k = max(1, min(total, math.ceil(float(nu[cells].max()) * total)))
    yt = t32[cells].T.contiguous()  # (d, e)
    he = h[cells].to(torch.float32)
    top = torch.full((k, cells.numel()), float("-inf"), device=h.device)
    for x, best in kept:
        sc = torch.addmm(he, x, yt) - best.unsqueeze(1)  # (s, e) how far below the upper envelope
        top = torch.cat([top, sc]).topk(k, 0).values  # (k, e) best first
    if comm.world_size > 1:
        allv = comm.all_gather_cat(top.flatten()).view(comm.world_size * k, -1)
        top = allv.topk(k, 0).values
    ki = (nu[cells] * total).ceil().long().clamp_(1, k) - 1  # (e,) each cell's own count
    need = top.gather(0, ki.unsqueeze(0)).squeeze(0).to(torch.float64)  # (e,) <= 0
    return (-need).clamp_min(0.0)
