"""The piecewise-linear extended semi-discrete OT map of AE-OT / AE-OT-GAN.

A solved semi-discrete problem (:func:`aeot.ot.semidiscrete.solve_semidiscrete`) splits the
source box into power cells ``W_i = {w : <w, y_i> + h_i is maximal}``; the plain map ``T``
sends every ``w`` in ``W_i`` to the code ``z_i``. The extended map ``T~`` (An et al.,
AE-OT, ICLR 2020; AE-OT-GAN, §3.2, Fig. 3 and Theorem 1) interpolates between codes:

1. find ``w``'s cell ``i`` and its neighbours, the top ``k`` cells by ``<w, y_j> + h_j``
   (``k = d + 1`` by default, so the neighbours' mass centres ``c_j`` span a simplex);
2. barycentric coordinates ``lambda`` of ``w`` with respect to those centres,
   ``w = sum_j lambda_j c_j`` with ``lambda_j >= 0`` and ``sum_j lambda_j = 1``;
3. if the codes of the centres that carry weight, together with ``z_i``, are pairwise
   within ``epsilon`` (a simplex of the complex ``sigma_epsilon``), output
   ``sum_j lambda_j z_j``; otherwise output ``z_i``.

Choices the papers leave open, made here:

* **w outside the simplex, or degenerate centres** (``k < d + 1``, coincident centres,
  empty cells): ``lambda`` are the barycentric coordinates of the *projection* of ``w``
  onto the convex hull of the centres, ``argmin_{lambda in simplex} ||sum_j lambda_j c_j
  - w||``. Inside the hull that is the exact answer, found by one equality-constrained
  solve (a tiny ridge ~ ``|c_j - w|^2`` makes it unique for degenerate centres and, when
  ``k > d + 1``, leans on the nearest centres); rows where it has negative entries get
  ``_PGD_STEPS`` accelerated projected-gradient steps and an exact solve on the face they
  find. ``lambda`` is always finite and convex; a failed solve falls back to ``z_i``.
* **Which simplex is tested**: weights below ``1e-9`` are dropped, and the ``epsilon``
  test covers the remaining support plus ``i``. So a sample at a centre ``c_j`` maps to
  ``z_j`` exactly, and ``||T~(w) - T(w)|| <= epsilon`` for every ``w``: the coupling
  ``(T(w), T~(w))`` gives ``W2(T~#U, T#U) <= epsilon`` (Theorem 1).
* **Default epsilon** (:func:`default_epsilon`): the ``quantile`` (0.8) of the diameters
  of the simplices used by a probe sample of the source, so about that fraction of the
  source interpolates and the largest simplices (those straddling gaps between modes
  first) map to their own code; capped at 3x the median diameter for data where more
  than a fifth of the simplices straddle gaps. A quantile of the codes' nearest-neighbour
  distances interpolates almost nowhere once d >= 8 (measured: < 1%), since a
  (d+1)-simplex of neighbouring codes spans several nearest-neighbour gaps.
  Limitation: when modes hold fewer than about d + 1 codes, nearly every (d+1)-simplex
  straddles modes and no epsilon separates them; use ``mode="pairs"`` there.

``mode="pairs"`` is the generation step of the reference code pyOMT (Guo, Lei et al.):
among the top ``k`` (default 2) cells, the best-ranked neighbour ``j`` whose supporting
plane ``(y_j, -1)`` makes an angle of at most ``angle`` radians with ``(y_i, -1)`` (and
whose code is within ``epsilon`` of ``z_i``; pass ``math.inf`` for the reference's
behaviour) gives ``(1 - pair_weight) z_i + pair_weight z_j`` (reference: angle 0.7,
weight 0.75); without such a neighbour the output is ``z_i``. The angles are measured
on the solver's (scaled) targets. (The reference scans the top 20 cells of each sample and
keeps one pair per cell, a filter rather than a map; here every sample gets an output.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from aeot.ot.semidiscrete import cell_index, power_scores_topk

MODES = ("simplex", "pairs")
_SUPPORT_TOL = 1e-9  # barycentric weights below this are dropped (then renormalised)
_RIDGE = 1e-10  # relative ridge of the barycentric solve (uniqueness for degenerate centres)
_PGD_STEPS = 150  # projected-gradient steps for samples outside their simplex
_GAP_RATIO = 3.0  # default_epsilon never exceeds this multiple of the median simplex diameter


@dataclass(frozen=True)
class ExtendedSamples:
    """Output of :func:`apply_extended_map` for m source samples."""

    values: Tensor  # (m, d_z) T~(w), dtype and device of the codes
    cells: Tensor  # (m,) long, the cell i of each w (T(w) = codes[cells])
    interpolated: Tensor  # (m,) bool, True where T~(w) is an interpolation (not z_i)
    diameter: Tensor  # (m,) longest code distance in the tested simplex (inf: pairs mode, no neighbour)


def sample_source(n: int, low: Tensor | float, high: Tensor | float, generator: torch.Generator | None = None,
                  *, dim: int | None = None) -> Tensor:
    """n points uniform in the box ``[low, high]`` (per-dimension tensors (d,), or floats with ``dim``)."""
    low_t = torch.as_tensor(low)
    high_t = torch.as_tensor(high, dtype=low_t.dtype, device=low_t.device)
    if not low_t.is_floating_point():
        low_t, high_t = low_t.double(), high_t.double()
    if low_t.ndim == 0:
        if dim is None:
            raise ValueError("sample_source needs dim when low and high are scalars")
        low_t, high_t = low_t.expand(dim), high_t.expand(dim)
    if n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    u = torch.rand(n, low_t.shape[0], generator=generator, device=low_t.device, dtype=low_t.dtype)
    return low_t + (high_t - low_t) * u  # (n, d)


def default_epsilon(result: Any, codes: Tensor, *, quantile: float = 0.8, n_probe: int = 1000,
                    generator: torch.Generator | None = None, k: int | None = None, mode: str = "simplex",
                    angle: float = 0.7, chunk_size: int = 2048) -> float:
    """The ``quantile`` of the diameters of the simplices the extended map would use.

    ``n_probe`` uniform source samples go through :func:`apply_extended_map` with
    ``epsilon = inf``; each records the longest code distance of its simplex (pairs mode:
    of its pair). With the returned epsilon about a ``quantile`` fraction of the source
    interpolates, and the largest simplices (first of all those straddling gaps between
    modes) map to their own code. The result is capped at 3 times the median positive
    diameter: when more than ``1 - quantile`` of the simplices straddle gaps (many modes,
    high d) the quantile lands among them, and the cap keeps epsilon at the within-mode
    scale. 0 when no sample has a simplex.
    """
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"quantile must be in [0, 1], got {quantile!r}")
    w = sample_source(n_probe, result.low, result.high, generator)  # (n_probe, d)
    diam = apply_extended_map(w, result, codes, epsilon=math.inf, k=k, mode=mode, angle=angle,
                              chunk_size=chunk_size).diameter
    diam = diam[torch.isfinite(diam)]
    if not diam.numel():
        return 0.0
    eps = float(torch.quantile(diam, quantile))
    pos = diam[diam > 0]
    return min(eps, _GAP_RATIO * float(pos.median())) if pos.numel() else eps


def ot_map(w: Tensor, result: Any, codes: Tensor) -> Tensor:
    """The semi-discrete OT map T(w) = z_i for w in cell W_i; w (m, d) -> (m, d_z)."""
    idx = cell_index(w.to(result.targets.dtype), result.targets, result.potential)  # (m,)
    return codes[idx.to(codes.device)]


def extended_map(w: Tensor, result: Any, codes: Tensor, *, epsilon: float, k: int | None = None,
                 mode: str = "simplex", angle: float = 0.7, pair_weight: float = 0.75,
                 chunk_size: int = 2048) -> Tensor:
    """The extended OT map T~(w) of AE-OT-GAN §3.2 (see the module docstring); (m, d) -> (m, d_z)."""
    return apply_extended_map(w, result, codes, epsilon=epsilon, k=k, mode=mode, angle=angle,
                              pair_weight=pair_weight, chunk_size=chunk_size).values


def apply_extended_map(w: Tensor, result: Any, codes: Tensor, *, epsilon: float, k: int | None = None,
                       mode: str = "simplex", angle: float = 0.7, pair_weight: float = 0.75,
                       chunk_size: int = 2048) -> ExtendedSamples:
    """:func:`extended_map` plus each sample's cell and whether it was interpolated.

    ``result`` needs ``targets`` (n, d), ``potential`` (n,) and ``centers`` (n, d);
    ``codes`` (n, d_z) are what the cells map to. ``k`` neighbours (default ``d + 1`` for
    ``"simplex"``, 2 for ``"pairs"``) are capped at n. Processes ``chunk_size`` samples
    at a time; never returns NaN for finite inputs.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    eps = float(epsilon)
    if math.isnan(eps) or eps < 0:
        raise ValueError(f"epsilon must be >= 0 (math.inf allowed), got {epsilon!r}")
    if w.ndim != 2 or w.shape[1] != result.targets.shape[1]:
        raise ValueError(f"w must have shape (m, {result.targets.shape[1]}), got {tuple(w.shape)}")
    n = result.targets.shape[0]
    if codes.ndim != 2 or codes.shape[0] != n:
        raise ValueError(f"codes must have shape ({n}, d_z) to match the solver's targets, got {tuple(codes.shape)}")
    if k is None:
        k = w.shape[1] + 1 if mode == "simplex" else 2
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if not (isinstance(chunk_size, int) and chunk_size >= 1):
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
    if mode == "pairs" and not 0.0 <= pair_weight <= 1.0:
        raise ValueError(f"pair_weight must be in [0, 1], got {pair_weight!r}")
    k = min(k, n)
    m = w.shape[0]
    dev = codes.device
    values = torch.empty(m, codes.shape[1], dtype=codes.dtype, device=dev)
    cells = torch.empty(m, dtype=torch.long, device=dev)
    interp = torch.empty(m, dtype=torch.bool, device=dev)
    diam = torch.empty(m, dtype=torch.float64, device=dev)
    targets, potential = result.targets, result.potential
    if mode == "simplex":
        centers = result.centers.to(torch.float64)
    else:
        normals = _plane_normals(targets)  # (n, d + 1)
    for s in range(0, m, chunk_size):
        wc = w[s:s + chunk_size].to(targets.dtype)  # (c, d)
        _, idx = power_scores_topk(wc, targets, potential, k)  # (c, k), best first
        idx = idx.to(dev)
        if mode == "simplex":
            v, it, dm = _simplex_chunk(wc.to(centers.device), idx.to(centers.device), centers, codes, eps)
        else:
            v, it, dm = _pairs_chunk(idx, normals.to(dev), codes, eps, angle, pair_weight)
        sl = slice(s, s + chunk_size)
        values[sl], cells[sl], interp[sl], diam[sl] = v, idx[:, 0], it, dm
    return ExtendedSamples(values=values, cells=cells, interpolated=interp, diameter=diam)


# --------------------------------------------------------------------------- simplex mode
def _simplex_chunk(w: Tensor, idx: Tensor, centers: Tensor, codes: Tensor, eps: float) -> tuple[Tensor, ...]:
    lam = barycentric(w.to(torch.float64), centers[idx])  # (c, k)
    lam = torch.where(lam < _SUPPORT_TOL, torch.zeros_like(lam), lam)
    lam = lam / lam.sum(1, keepdim=True)  # the largest entry is >= 1/k, so the sum is > 0
    idx = idx.to(codes.device)
    lam = lam.to(codes.device)
    z = codes[idx]  # (c, k, d_z)
    support = lam > 0
    support[:, 0] = True  # the own cell i always belongs to the tested simplex
    dist = torch.cdist(z.to(torch.float64), z.to(torch.float64))  # (c, k, k)
    pair = support[:, :, None] & support[:, None, :]
    diameter = torch.where(pair, dist, torch.zeros_like(dist)).amax(dim=(1, 2))  # (c,)
    ok = diameter <= eps
    mixed = torch.einsum("ck,ckd->cd", lam, z.to(torch.float64)).to(codes.dtype)
    ok = ok & torch.isfinite(mixed).all(1)
    out = torch.where(ok[:, None], mixed, z[:, 0])
    return out, ok & (lam[:, 0] < 1), diameter


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
    outside = good & (lam.min(1).values < -_SUPPORT_TOL)
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


# --------------------------------------------------------------------------- pairs mode
def _plane_normals(targets: Tensor) -> Tensor:
    """Unit normals (y_j, -1) / ||(y_j, -1)|| of the supporting planes; (n, d) -> (n, d + 1)."""
    y = targets.to(torch.float64)
    nm = torch.cat([y, -torch.ones(y.shape[0], 1, dtype=y.dtype, device=y.device)], dim=1)
    return nm / nm.norm(dim=1, keepdim=True)


def _pairs_chunk(idx: Tensor, normals: Tensor, codes: Tensor, eps: float, angle: float,
                 weight: float) -> tuple[Tensor, ...]:
    zi = codes[idx[:, 0]]  # (c, d_z)
    if idx.shape[1] < 2:
        none = torch.zeros(idx.shape[0], dtype=torch.bool, device=idx.device)
        return zi, none, torch.full(none.shape, math.inf, dtype=torch.float64, device=idx.device)
    nbr = idx[:, 1:]  # (c, k - 1)
    cos = (normals[idx[:, :1]] * normals[nbr]).sum(-1).clamp(-1.0, 1.0)  # (c, k - 1)
    dist = (codes[nbr].to(torch.float64) - zi[:, None].to(torch.float64)).norm(dim=-1)
    ok = (torch.acos(cos) <= angle) & (dist <= eps)  # (c, k - 1)
    has = ok.any(1)
    first = ok.to(torch.int8).argmax(1)  # best-ranked admissible neighbour
    diameter = torch.where(has, dist.gather(1, first[:, None])[:, 0], math.inf)
    zj = codes[nbr.gather(1, first[:, None])[:, 0]]
    mixed = ((1.0 - weight) * zi.to(torch.float64) + weight * zj.to(torch.float64)).to(codes.dtype)
    return torch.where(has[:, None], mixed, zi), has & (weight > 0), diameter
