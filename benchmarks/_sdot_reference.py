"""A faithful re-implementation of the reference semi-discrete OT scheme (pyOMT_raw, Yang Guo /
Na Lei, used by AE-OT and AE-OT-GAN), for benchmarks/sdot.py only.

What it keeps from the reference: raw codes against the box [-0.5, 0.5]^d; unscrambled Sobol
points *reset every iteration* (the same points each iteration); the measure estimate
``mu = histogram(argmax_j P_j . x + h_j) / n_points`` computed as ``(n, batch)`` score
matrices reduced with ``torch.max(dim=0)``, averaged over ``num_bat`` batches; Adam *without
bias correction* (``m = 0.9 m + 0.1 g``, ``v = 0.999 v + 0.001 g^2``,
``h -= lr m / (sqrt(v) + 1e-8)``), then ``h -= mean(h)``; the budget ``num_bat`` doubles after
30 iterations without a new best ``|g|_2``.  Uniform target masses, as in the reference.
"""

from __future__ import annotations

import time

import torch


def reference_solve(codes: torch.Tensor, *, max_iter: int, lr: float = 5e-2, batch: int = 10_000,
                    num_bat: int = 10, record=None) -> torch.Tensor:
    """Run the reference iteration on ``codes`` (n, d); returns h (n,).

    ``record(iteration, seconds, h, samples_per_iteration)`` is called after every update;
    its own run time is excluded from ``seconds``, and a true return value stops the run.
    """
    n, d = codes.shape
    p = codes.to(torch.float32)  # (n, d) raw codes, box [-0.5, 0.5]^d
    h = torch.zeros(n)
    m = torch.zeros(n)
    v = torch.zeros(n)
    qrng = torch.quasirandom.SobolEngine(dimension=d)  # unscrambled, as in the reference
    best_norm, bad = float("inf"), 0
    t0 = time.perf_counter()
    for it in range(max_iter):
        qrng.reset()  # the same points every iteration
        g = torch.zeros(n, dtype=torch.float64)
        for _ in range(num_bat):
            x = qrng.draw(batch) - 0.5  # (batch, d)
            u = torch.addmm(h.unsqueeze(1), p, x.T)  # (n, batch) scores
            idx = torch.max(u, 0).indices
            g += torch.bincount(idx, minlength=n).double() / batch
        g = (g / num_bat - 1.0 / n).float()  # mu - nu
        m.mul_(0.9).add_(0.1 * g)
        v.mul_(0.999).add_(0.001 * g * g)
        h -= lr * m / (v.sqrt() + 1e-8)
        h -= h.mean()
        if record is not None:
            t_rec = time.perf_counter()
            stop = record(it + 1, t_rec - t0, h, batch * num_bat)
            t0 += time.perf_counter() - t_rec  # the caller's evaluation is not the solver's time
            if stop:
                break
        g_norm = float(g.norm())
        if g_norm <= best_norm:
            best_norm, bad = g_norm, 0
        else:
            bad += 1
        if bad > 30:
            num_bat *= 2
            best_norm, bad = float("inf"), 0
    return h
