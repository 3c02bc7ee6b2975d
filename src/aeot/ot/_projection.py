"""Projection barycentric coordinates, used by the ``"projection"`` mode of the extended map.

The coordinates of the Euclidean projection of ``w`` onto the convex hull of ``k`` given
centres: exact barycentric coordinates when ``w`` is inside their simplex. This was
aeot's first extended map (top ``d + 1`` cells); it is not the paper's map (see
:mod:`aeot.ot.extended`), kept under the name it has.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

SUPPORT_TOL = 1e-9  # barycentric weights below this count as zero
_RIDGE = 1e-10  # relative ridge of the barycentric solve (uniqueness for degenerate centres)
_PGD_STEPS = 150  # projected-gradient steps for samples outside their simplex


def barycentric(w: Tensor, c: Tensor, *, steps: int = _PGD_STEPS) -> Tensor:
    """Convex weights lam (m, k) minimising ||sum_j lam_j c_j - w||; w (m, d), c (m, k, d).

    Exact barycentric coordinates when w is inside the simplex of the centres; the
    coordinates of w's projection onto their convex hull otherwise (``steps``
    accelerated projected-gradient steps). Rows whose solve fails get (1, 0, ..., 0).
    """
    m, k, _ = c.shape
    a = c - w[:, None, :]  # (m, k, d); sum_j lam_j c_j - w = sum_j lam_j a_j
    g = a @ a.transpose(1, 2)  # (m, k, k) Gram matrix
    scale = g.diagonal(dim1=1, dim2=2).mean(1)  # (m,)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    kkt = torch.zeros(m, k + 1, k + 1, dtype=g.dtype, device=g.device)
    kkt[:, :k, :k] = g
    kkt[:, :k, k] = 1.0
    kkt[:, k, :k] = 1.0
    rhs = torch.zeros(m, k + 1, 1, dtype=g.dtype, device=g.device)
    rhs[:, k] = 1.0
    # min lam'G lam s.t. sum lam = 1: the KKT system with a tiny ridge sum_j r_j lam_j^2,
    # r_j ~ |c_j - w|^2, so that degenerate centres (coincident, k > d + 1) still give a
    # unique answer leaning on the nearest centres (w = c_j gives e_j); two refinement
    # steps against the unridged system remove the ridge's bias elsewhere.
    ridge = _RIDGE * (g.diagonal(dim1=1, dim2=2) + 1e-12 * scale[:, None])  # (m, k)
    lu, piv, info = torch.linalg.lu_factor_ex(kkt + torch.diag_embed(torch.cat([ridge, ridge[:, :1] * 0], 1)))
    sol = torch.linalg.lu_solve(lu, piv, rhs)
    for _ in range(2):
        sol = sol + torch.linalg.lu_solve(lu, piv, rhs - kkt @ sol)
    lam = sol[:, :k, 0]
    g = g + torch.diag_embed(ridge)
    first = torch.zeros_like(lam)
    first[:, 0] = 1.0
    good = (info == 0) & torch.isfinite(lam).all(1)
    lam = torch.where(good[:, None], lam, first)
    outside = good & (lam.min(1).values < -SUPPORT_TOL)
    if outside.any():
        rows = outside.nonzero().squeeze(1)
        lam[rows] = _project_pgd(g[rows], project_simplex(lam[rows]), steps)
    return lam.clamp_min(0.0)


def _project_pgd(g: Tensor, x: Tensor, steps: int) -> Tensor:
    """min 0.5 x'Gx over the probability simplex; g (r, k, k), x (r, k) feasible.

    FISTA with gradient-based restarts finds the active face; one exact solve on that
    face then polishes the answer where it stays nonnegative.
    """
    v = torch.ones_like(x)[..., None] / math.sqrt(x.shape[1])
    for _ in range(30):  # power iteration for the largest eigenvalue of g
        v = g @ v
        v = v / v.norm(dim=1, keepdim=True).clamp_min(1e-300)
    lip = 1.2 * (v.transpose(1, 2) @ g @ v)[:, 0, 0]  # (r,) with a safety margin
    lip = torch.where(lip > 0, lip, torch.ones_like(lip))[:, None]
    y, t = x, torch.ones_like(lip)
    for _ in range(steps):
        x_new = project_simplex(y - (g @ y[..., None])[..., 0] / lip)
        t_new = 0.5 * (1.0 + torch.sqrt(1.0 + 4.0 * t * t))
        restart = ((y - x_new) * (x_new - x)).sum(1, keepdim=True) > 0  # momentum points uphill
        t_new = torch.where(restart, torch.ones_like(t_new), t_new)
        y = torch.where(restart, x_new, x_new + ((t - 1.0) / t_new) * (x_new - x))
        x, t = x_new, t_new
    return _polish(g, x)


def _polish(g: Tensor, x: Tensor) -> Tensor:
    """Exact minimiser of x'Gx with sum x = 1 on the support of x, where it is nonnegative."""
    r, k = x.shape
    free = x > 1e-7  # (r, k)
    pair = free[:, :, None] & free[:, None, :]
    eye = torch.eye(k, dtype=g.dtype, device=g.device).expand(r, k, k)
    kkt = torch.zeros(r, k + 1, k + 1, dtype=g.dtype, device=g.device)
    kkt[:, :k, :k] = torch.where(pair, g, eye)  # fixed coordinates: x_j = 0
    kkt[:, :k, k] = free.to(g.dtype)
    kkt[:, k, :k] = free.to(g.dtype)
    rhs = torch.zeros(r, k + 1, 1, dtype=g.dtype, device=g.device)
    rhs[:, k] = 1.0
    sol, info = torch.linalg.solve_ex(kkt, rhs)
    exact = sol[:, :k, 0]
    ok = (info == 0) & torch.isfinite(exact).all(1) & (exact.min(1).values >= 0)
    return torch.where(ok[:, None], exact, x)


def project_simplex(v: Tensor) -> Tensor:
    """Euclidean projection of each row of v (m, k) onto the probability simplex."""
    k = v.shape[1]
    u, _ = torch.sort(v, dim=1, descending=True)
    css = u.cumsum(1) - 1.0
    ind = torch.arange(1, k + 1, dtype=v.dtype, device=v.device)
    rho = (u - css / ind > 0).sum(1, keepdim=True).clamp_min(1)  # (m, 1)
    theta = css.gather(1, rho - 1) / rho.to(v.dtype)
    return (v - theta).clamp_min(0.0)
