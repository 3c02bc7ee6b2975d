"""Coarse-to-fine warm start of the semi-discrete solve (Merigot, CGF 2011, "A multiscale approach").

Helpers of :func:`aeot.ot.semidiscrete.solve_semidiscrete`.  The placed targets ``t`` (n, d)
are grouped into about ``n / FACTOR`` clusters by a few Lloyd iterations in float64 (so the
grouping does not depend on how a float32 kernel sums near-ties); the clusters, at their
centroids with the summed masses, are a semi-discrete problem ``FACTOR^2`` times cheaper per
sample budget.  Its solution ``h_c`` is carried to the fine targets by giving every target the
power weight of its cluster: with ``w_j = h_j + |t_j|^2 / 2`` (the score is
``<x, t_j> + h_j = -|x - t_j|^2 / 2 + |x|^2 / 2 + w_j``), ``w_i = w_c(i)``, i.e.

    h_i = h_c(i) + |t_c(i)|^2 / 2 - |t_i|^2 / 2,

so that each coarse cell, which already holds about its cluster's mass, is split among the
cluster's targets by their Voronoi diagram.  The fine solve then starts near its answer and
spends its cheap early iterations on the within-cluster split only.  The fine solve's stopping
rule is unchanged, so the result meets the same tolerance with or without the warm start.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

FACTOR = 8  # fine targets per coarse cluster
MIN_N = 4096  # below this many targets the solve starts from the Voronoi diagram (read at call time)
LLOYD_ITERS = 2
_ROWS = 4096  # rows of the float64 distance tile



def nearest_center(t: Tensor, c: Tensor) -> Tensor:
    """Index (n,) of the nearest row of ``c`` (k, d) for each row of ``t`` (n, d), in float64.

    Exact ties (duplicate centres) go to the lowest index (``argmin`` is first-wins); the
    float64 distances make a near-tie that float32 would break machine-dependently harmless.
    """
    t64, c64 = t.to(torch.float64), c.to(torch.float64)
    cn = c64.pow(2).sum(1)  # (k,)
    out = torch.empty(t.shape[0], dtype=torch.long, device=t.device)
    for i in range(0, t.shape[0], _ROWS):
        blk = t64[i : i + _ROWS]
        out[i : i + _ROWS] = (cn - 2.0 * blk @ c64.T).argmin(1)  # |t|^2 is constant per row
    return out


def cluster(t: Tensor, nu: Tensor, k: int, *, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """Group the targets ``t`` (n, d) with masses ``nu`` (n,) into at most ``k`` clusters.

    Returns (assign (n,) long in [0, k'), centroids (k', d) float64, masses (k',) float64 summing
    to ``nu.sum()``), with empty clusters dropped.  Seeds: ``k`` distinct targets drawn with a
    CPU generator (the same on every machine), then ``LLOYD_ITERS`` mass-weighted Lloyd steps.
    """
    n = t.shape[0]
    t64 = t.to(torch.float64)
    g = torch.Generator().manual_seed(int(seed))
    centers = t64[torch.randperm(n, generator=g)[:k].to(t.device)]
    for it in range(LLOYD_ITERS + 1):
        assign = nearest_center(t64, centers)
        mass = torch.zeros(centers.shape[0], dtype=torch.float64, device=t.device).index_add_(0, assign, nu)
        keep = mass > 0
        relabel = torch.cumsum(keep.long(), 0) - 1  # old cluster -> new index
        assign, mass = relabel[assign], mass[keep]
        sums = torch.zeros(mass.numel(), t.shape[1], dtype=torch.float64, device=t.device)
        centers = sums.index_add_(0, assign, t64 * nu.unsqueeze(1)) / mass.unsqueeze(1)
        if it == LLOYD_ITERS:
            return assign, centers, mass
    raise AssertionError("unreachable")


def carry_potential(t: Tensor, assign: Tensor, sites: Tensor, h_coarse: Tensor, cell_centers: Tensor,
                    cell_mass: Tensor, volume: float) -> Tensor:
    """Fine potential (n,) float64 from the coarse solve.

    The dual potential ``phi = u*`` of the coarse Brenier potential has ``phi(t_c) = -h_c`` and
    gradient ``g_c`` (the centroid of cell ``c``) at the coarse sites; its second-order
    expansion with an isotropic curvature ``s_c`` gives, with ``d_i = t_i - t_c``,

        h_i = h_c - <g_c, d_i> - s_c |d_i|^2 / 2,

    whose scores ``<x, t_c> + h_c + <x - g_c, d_i> - s_c |d_i|^2 / 2`` split cell ``c`` by the
    Voronoi diagram of the virtual sites ``g_c + s_c d_i``: the cluster's targets, shrunk or
    grown by ``s_c`` so that their spread matches the cell's (a ball of the cell's volume), and
    centred on the cell.  t (n, d), assign (n,), sites / cell_centers (k, d), h_coarse /
    cell_mass (k,) (fractions of the box), volume: the box's volume.
    """
    t64 = t.to(torch.float64)
    dvec = t64 - sites.to(torch.float64)[assign]  # (n, d)
    dim = t.shape[1]
    k = sites.shape[0]
    sq = dvec.pow(2).sum(1)  # (n,)
    spread = torch.zeros(k, dtype=torch.float64, device=t.device).index_add_(0, assign, sq)
    count = torch.bincount(assign, minlength=k).clamp_min(1).to(torch.float64)
    spread = (spread / count).sqrt()  # (k,) rms distance of each cluster's targets to its site
    # rms radius of a d-ball of the cell's volume: sqrt(d / (d + 2)) (V / V_d)^(1/d)
    log_vd = 0.5 * dim * math.log(math.pi) - math.lgamma(0.5 * dim + 1.0)
    vol = cell_mass.to(torch.float64).clamp_min(1e-300) * volume
    radius = math.sqrt(dim / (dim + 2.0)) * torch.exp((vol.log() - log_vd) / dim)  # (k,)
    curv = torch.where(spread > 0, radius / spread.clamp_min(1e-300), torch.zeros_like(spread))  # (k,) s_c
    g = cell_centers.to(torch.float64)[assign]  # (n, d)
    h = h_coarse.to(torch.float64)[assign] - (g * dvec).sum(1) - 0.5 * curv[assign] * sq
    return h - h.mean()
