"""The piecewise-linear extended semi-discrete OT map of AE-OT / AE-OT-GAN.

A solved semi-discrete problem (:func:`aeot.ot.semidiscrete.solve_semidiscrete`) splits the
source box into power cells ``W_i = {w : <w, y_i> + h_i is maximal}``; the plain map ``T``
sends every ``w`` in ``W_i`` to the code ``z_i``. The extended map ``T~`` (An et al.,
"AE-OT-GAN: Training GANs from data specific latent distribution", ECCV 2020, §3.2, Fig. 3
and Theorem 1; An et al., "AE-OT", ICLR 2020) interpolates between codes. Modes:

``"paper"`` (the paper's map, default)
    ``lambda`` are the barycentric coordinates of ``w`` in the simplex of mass centres
    ``c_j`` that contains it, ``w = sum_j lambda_j c_j``, ``lambda_j in [0, 1]``, summing
    to 1. The simplices are those of the Delaunay triangulation of the centres, one
    global triangulation, so each simplex of centres is mapped linearly onto its simplex
    of codes and ``T~`` is continuous and piecewise linear where it interpolates (Fig. 3).
    In any dimension the simplex is found per sample by a small linear programme
    (the lifting characterisation of Delaunay, :mod:`aeot.ot._delaunay`) on nearby
    centres, certified against all centres. ``T~(w) = sum_j lambda_j z_j`` when the codes
    of the simplex's vertices *and* ``z_i`` (``w``'s own cell) are pairwise within
    ``epsilon`` (a simplex of ``sigma_epsilon``), else ``z_i``. Adding ``z_i`` to the test
    keeps ``||T~(w) - T(w)|| <= epsilon`` pointwise, the coupling behind Theorem 1's
    ``W2 <= epsilon``. **Rule outside the hull:** a ``w`` outside the convex hull of the
    centres lies in no simplex of centres, so the paper's formula has no solution;
    ``T~(w) = z_i`` there. In high dimension this is most of the box: n << 2^d mass
    centres span a small part of ``[0, 1]^d`` (measured: docs/extended_map.md), and the
    paper's map is then mostly the plain map.
``"pyomt-pairs"``
    The generation step of the reference code pyOMT (Guo, Lei et al.): among the top ``k``
    (default 2) cells, the best-ranked neighbour ``j`` whose supporting plane
    ``(y_j, -1)`` makes an angle of at most ``angle`` radians with ``(y_i, -1)`` (and
    whose code is within ``epsilon`` of ``z_i``; pass ``math.inf`` for the reference's
    behaviour) gives ``(1 - pair_weight) z_i + pair_weight z_j`` (reference: angle 0.7,
    weight 0.75); otherwise ``z_i``. Its push-forward is a finite set of points (one per
    pair of cells): not a continuous distribution.
``"projection"``
    aeot's first map (formerly ``"simplex"``): the top ``k`` (default ``d + 1``) cells by
    power score and the barycentric coordinates of the *projection* of ``w`` onto the
    hull of their centres (:mod:`aeot.ot._projection`). It jumps where the ranked cells
    change, so it is neither continuous nor the paper's; kept for comparison.
``"plain"``
    ``T`` itself: every sample is a training code.

Every mode reports, per sample, whether ``w`` lies in the simplex its weights came from
(``inside``) and the diameter of the tested simplex, from which :func:`default_epsilon`
takes a quantile. Old names: ``"simplex"`` means ``"projection"``, ``"pairs"`` means
``"pyomt-pairs"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from aeot.ot._delaunay import Triangulation
from aeot.ot._projection import SUPPORT_TOL, barycentric, project_simplex
from aeot.ot.semidiscrete import cell_index, power_scores_topk

__all__ = ["MODES", "ExtendedSamples", "Triangulation", "apply_extended_map", "barycentric", "default_epsilon",
           "extended_map", "ot_map", "project_simplex", "resolve_mode", "sample_source"]

MODES = ("paper", "pyomt-pairs", "projection", "plain")
_ALIASES = {"simplex": "projection", "pairs": "pyomt-pairs"}  # names used before issue 19
_GAP_RATIO = 3.0  # default_epsilon never exceeds this multiple of the median simplex diameter


def resolve_mode(mode: str) -> str:
    """The mode's current name (old names accepted); ValueError for unknown modes."""
    mode = _ALIASES.get(mode, mode)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


@dataclass(frozen=True)
class ExtendedSamples:
    """Output of :func:`apply_extended_map` for m source samples."""

    values: Tensor  # (m, d_z) T~(w), dtype and device of the codes
    cells: Tensor  # (m,) long, the cell i of each w (T(w) = codes[cells])
    interpolated: Tensor  # (m,) bool, True where T~(w) is an interpolation (not z_i)
    diameter: Tensor  # (m,) longest code distance in the tested simplex (inf: no simplex / neighbour)
    inside: Tensor  # (m,) bool, w lies in the simplex of centres its weights came from


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
                    generator: torch.Generator | None = None, k: int | None = None, mode: str = "paper",
                    angle: float = 0.7, chunk_size: int = 2048, triangulation: Triangulation | None = None) -> float:
    """The ``quantile`` of the diameters of the simplices the extended map would use.

    ``n_probe`` uniform source samples go through :func:`apply_extended_map` with
    ``epsilon = inf``; each sample that has a simplex records the longest code distance
    in it (with its own cell's code; pairs mode: of its pair). With the returned epsilon
    about a ``quantile`` fraction of those samples interpolates, and the largest
    simplices (first of all those straddling gaps between modes) map to their own code.
    The result is capped at 3 times the median positive diameter: when more than
    ``1 - quantile`` of the simplices straddle gaps (many modes, high d) the quantile
    lands among them, and the cap keeps epsilon at the within-mode scale. 0 when no
    sample has a simplex.
    """
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"quantile must be in [0, 1], got {quantile!r}")
    w = sample_source(n_probe, result.low, result.high, generator)  # (n_probe, d)
    diam = apply_extended_map(w, result, codes, epsilon=math.inf, k=k, mode=mode, angle=angle,
                              chunk_size=chunk_size, triangulation=triangulation).diameter
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
                 mode: str = "paper", angle: float = 0.7, pair_weight: float = 0.75,
                 chunk_size: int = 2048, triangulation: Triangulation | None = None) -> Tensor:
    """The extended OT map T~(w) of AE-OT-GAN §3.2 (see the module docstring); (m, d) -> (m, d_z)."""
    return apply_extended_map(w, result, codes, epsilon=epsilon, k=k, mode=mode, angle=angle,
                              pair_weight=pair_weight, chunk_size=chunk_size, triangulation=triangulation).values


def apply_extended_map(w: Tensor, result: Any, codes: Tensor, *, epsilon: float, k: int | None = None,
                       mode: str = "paper", angle: float = 0.7, pair_weight: float = 0.75,
                       chunk_size: int = 2048, triangulation: Triangulation | None = None) -> ExtendedSamples:
    """:func:`extended_map` plus each sample's cell, whether it was interpolated, and more.

    ``result`` needs ``targets`` (n, d), ``potential`` (n,) and ``centers`` (n, d);
    ``codes`` (n, d_z) are what the cells map to. ``k`` neighbours (``"projection"``:
    default ``d + 1``; ``"pyomt-pairs"``: default 2) are capped at n; the paper's map
    takes no ``k``. ``triangulation``: a :class:`Triangulation` of ``result.centers``
    built once by the caller (the paper's map builds one per call otherwise). Processes
    ``chunk_size`` samples at a time; never returns NaN for finite inputs.
    """
    mode = resolve_mode(mode)
    eps = float(epsilon)
    if math.isnan(eps) or eps < 0:
        raise ValueError(f"epsilon must be >= 0 (math.inf allowed), got {epsilon!r}")
    if w.ndim != 2 or w.shape[1] != result.targets.shape[1]:
        raise ValueError(f"w must have shape (m, {result.targets.shape[1]}), got {tuple(w.shape)}")
    n = result.targets.shape[0]
    if codes.ndim != 2 or codes.shape[0] != n:
        raise ValueError(f"codes must have shape ({n}, d_z) to match the solver's targets, got {tuple(codes.shape)}")
    if k is None:
        k = w.shape[1] + 1 if mode == "projection" else 2
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if not (isinstance(chunk_size, int) and chunk_size >= 1):
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
    if mode == "pyomt-pairs" and not 0.0 <= pair_weight <= 1.0:
        raise ValueError(f"pair_weight must be in [0, 1], got {pair_weight!r}")
    k = min(k, n) if mode in ("projection", "pyomt-pairs") else 1
    m = w.shape[0]
    dev = codes.device
    values = torch.empty(m, codes.shape[1], dtype=codes.dtype, device=dev)
    cells = torch.empty(m, dtype=torch.long, device=dev)
    interp = torch.empty(m, dtype=torch.bool, device=dev)
    inside = torch.empty(m, dtype=torch.bool, device=dev)
    diam = torch.empty(m, dtype=torch.float64, device=dev)
    targets, potential = result.targets, result.potential
    if mode == "paper" and triangulation is None:
        triangulation = Triangulation(result.centers)
    if mode == "projection":
        centers = result.centers.to(torch.float64)
    if mode == "pyomt-pairs":
        normals = _plane_normals(targets).to(dev)  # (n, d + 1)
    # (m, k) best first; top[:, 0] = cell_index. One call: the kernel lays the targets out once.
    top = power_scores_topk(w.to(targets.dtype), targets, potential, k)[1].to(dev) if m else None
    for s in range(0, m, chunk_size):
        wc = w[s:s + chunk_size].to(targets.dtype)  # (c, d)
        idx = top[s:s + chunk_size]  # (c, k)
        if mode == "paper":
            out = _paper_chunk(w[s:s + chunk_size], idx[:, 0], triangulation, codes, eps)
        elif mode == "projection":
            out = _projection_chunk(wc.to(centers.device), idx.to(centers.device), centers, codes, eps)
        elif mode == "pyomt-pairs":
            out = _pairs_chunk(idx, normals, codes, eps, angle, pair_weight)
        else:
            none = torch.zeros(idx.shape[0], dtype=torch.bool, device=dev)
            out = codes[idx[:, 0]], none, torch.full(none.shape, math.inf, dtype=torch.float64, device=dev), none
        sl = slice(s, s + chunk_size)
        values[sl], interp[sl], diam[sl], inside[sl] = out
        cells[sl] = idx[:, 0]
    return ExtendedSamples(values=values, cells=cells, interpolated=interp, diameter=diam, inside=inside)


# --------------------------------------------------------------------------- paper mode
def _paper_chunk(w: Tensor, cells: Tensor, tri: Triangulation, codes: Tensor, eps: float) -> tuple[Tensor, ...]:
    idx, lam, inside = tri.locate(w)  # (c, d + 1) each, (c,): the Delaunay simplex containing w
    idx, lam, inside = idx.to(codes.device), lam.to(codes.device), inside.to(codes.device)
    values = codes[cells].clone()  # (c, d_z): z_i, kept outside the interpolated region
    diameter = torch.full(inside.shape, math.inf, dtype=torch.float64, device=codes.device)
    ok = torch.zeros_like(inside)
    rows = inside.nonzero().squeeze(1)  # only samples inside a simplex are interpolated
    if rows.numel():
        ci, li, ii = cells[rows], lam[rows], idx[rows]
        tested = torch.cat([ci[:, None], ii], 1)  # (r, d + 2): w's own cell and the simplex
        used = torch.cat([torch.ones_like(ci, dtype=torch.bool)[:, None], li > 0], 1)
        z = codes[tested].to(torch.float64)  # (r, d + 2, d_z)
        pair = used[:, :, None] & used[:, None, :]
        diam = torch.where(pair, torch.cdist(z, z), torch.zeros((), dtype=z.dtype, device=z.device)).amax((1, 2))
        mixed = torch.einsum("ck,ckd->cd", li, z[:, 1:]).to(codes.dtype)
        good = (diam <= eps) & torch.isfinite(mixed).all(1)
        diameter[rows], ok[rows] = diam, good
        values[rows[good]] = mixed[good]
    only_i = ((lam * (idx != cells[:, None])).sum(1) <= SUPPORT_TOL)  # all weight on the own cell
    return values, ok & ~only_i, diameter, inside


# --------------------------------------------------------------------------- projection mode
def _projection_chunk(w: Tensor, idx: Tensor, centers: Tensor, codes: Tensor, eps: float) -> tuple[Tensor, ...]:
    w64 = w.to(torch.float64)
    c = centers[idx]  # (c, k, d)
    lam = barycentric(w64, c)  # (c, k)
    lam = torch.where(lam < SUPPORT_TOL, torch.zeros_like(lam), lam)
    lam = lam / lam.sum(1, keepdim=True)  # the largest entry is >= 1/k, so the sum is > 0
    resid = (torch.einsum("ck,ckd->cd", lam, c) - w64).norm(dim=1)
    inside = resid <= 1e-7 * (1.0 + w64.norm(dim=1))  # w itself, not its projection
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
    return out, ok & (lam[:, 0] < 1), diameter, inside.to(codes.device)


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
        return zi, none, torch.full(none.shape, math.inf, dtype=torch.float64, device=idx.device), none
    nbr = idx[:, 1:]  # (c, k - 1)
    cos = (normals[idx[:, :1]] * normals[nbr]).sum(-1).clamp(-1.0, 1.0)  # (c, k - 1)
    dist = (codes[nbr].to(torch.float64) - zi[:, None].to(torch.float64)).norm(dim=-1)
    ok = (torch.acos(cos) <= angle) & (dist <= eps)  # (c, k - 1)
    has = ok.any(1)
    first = ok.to(torch.int8).argmax(1)  # best-ranked admissible neighbour
    diameter = torch.where(has, dist.gather(1, first[:, None])[:, 0], math.inf)
    zj = codes[nbr.gather(1, first[:, None])[:, 0]]
    mixed = ((1.0 - weight) * zi.to(torch.float64) + weight * zj.to(torch.float64)).to(codes.dtype)
    return torch.where(has[:, None], mixed, zi), has & (weight > 0), diameter, torch.zeros_like(has)
