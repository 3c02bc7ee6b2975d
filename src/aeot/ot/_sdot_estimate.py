"""One Monte Carlo estimate of the power cells, and the pilot's placement of the codes.

Helpers of :func:`aeot.ot.semidiscrete.solve_semidiscrete` (AE-OT-GAN section 3.2): the
estimate scores each chunk of the iteration's sample stream with the chunked kernel of
:mod:`aeot.ot._power` and accumulates integer histograms (exact across ranks), the slab pairs
of the sampled Hessian (:mod:`aeot.ot._sdot_newton`) and the cell centre sums.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from aeot.ot._power import PowerScorer
from aeot.ot._sdot_newton import SLAB_FRACTION, pair_keys
from aeot.ot.distributed import ChunkStream, Comm

PLACEMENTS = (0.25, 0.5, 1.0, 2.0, 4.0)  # multiples of 0.4 / sqrt(d) tried for the initial placement


def estimate(scorer: PowerScorer, stream: ChunkStream, comm: Comm, c0: int, m: int, m_hess: int,
              m_cap: int, delta: Tensor, n: int) -> dict:
    """One Monte Carlo estimate over chunks ``[c0, c0 + m)`` (this rank's share of them).

    Global: cell counts (n,); for the first ``m_hess`` chunks the directed slab pair keys and
    counts, each cell's number of those samples and of those in one of its slabs (n,).
    Local: centre sums (n, d), and (samples, best scores) of the first ``m_cap`` chunks.
    """
    lo, hi = comm.share(m)
    dev = scorer.device
    counts = torch.zeros(n, dtype=torch.long, device=dev)
    hess = torch.zeros(n, dtype=torch.long, device=dev)
    slabbed = torch.zeros(n, dtype=torch.long, device=dev)
    csum = torch.zeros(n, scorer.d, dtype=torch.float64, device=dev)
    keys, kept = [], []
    width, cell_width = float(delta.max()), delta.to(torch.float32)
    for c in range(lo, hi):
        x = stream.draw(c0 + c)  # (s, d)
        if c < m_hess:
            best, idx, rows, cols = scorer.argmax(x, slab=width, cell_slab=cell_width)
            keys.append(pair_keys(idx[rows], cols, n))
            hess += torch.bincount(idx, minlength=n)
            slabbed += torch.bincount(idx[torch.unique(rows)], minlength=n)
        else:
            best, idx = scorer.argmax(x)
        if c < m_cap:
            kept.append((x, best))
        counts += torch.bincount(idx, minlength=n)
        csum.index_add_(0, idx, x.to(torch.float64))
    for t in (counts, hess, slabbed):
        comm.all_reduce_(t)
    local = torch.cat(keys) if keys else torch.empty(0, dtype=torch.long, device=dev)
    k, kc = torch.unique(local, return_counts=True)
    k, kc = comm.all_gather_cat(k), comm.all_gather_cat(kc)
    if comm.world_size > 1 and k.numel():
        k, inv = torch.unique(k, return_inverse=True)
        kc = torch.zeros(k.numel(), dtype=torch.long, device=dev).index_add_(0, inv, kc)
    return {"counts": counts, "center_sums": csum, "keys": k, "key_counts": kc, "hess_counts": hess,
            "slabbed": slabbed, "kept": kept}


def choose_placement(u: Tensor, nu: Tensor, box_mid: Tensor, side: float, stream: ChunkStream, comm: Comm,
                      m: int, target_chunk: int) -> tuple[float, float]:
    """Pick the scale alpha of ``box_mid + alpha * side * u`` whose Voronoi cells are most balanced.

    Criterion: mean |log((c_i + 1) / (nu_i P + 1))| on the same pilot points for every candidate.
    Returns (alpha, delta) with delta = SLAB_FRACTION x the mean gap between the two best scores.
    """
    n, d = u.shape
    lo, hi = comm.share(m)
    xs = [stream.draw(c) for c in range(lo, hi)]
    total = m * stream.chunk
    best = None
    for f in PLACEMENTS:
        alpha = f * 0.4 / math.sqrt(d)
        t = box_mid + alpha * side * u  # (n, d)
        h = -0.5 * t.pow(2).sum(1)
        scorer = PowerScorer(t.to(torch.float32), h - h.mean(), target_chunk=target_chunk)
        counts = torch.zeros(n, dtype=torch.long, device=u.device)
        gap_sums = []
        for x in xs:
            v, i = scorer.topk(x, 2)
            counts += torch.bincount(i[:, 0], minlength=n)
            gap_sums.append((v[:, 0] - v[:, 1]).to(torch.float64).sum())
        comm.all_reduce_(counts)
        local = torch.stack(gap_sums) if gap_sums else torch.empty(0, dtype=torch.float64, device=u.device)
        gap_mean = float(comm.all_gather_cat(local).sum()) / total  # summed in chunk order on every rank
        crit = float(((counts.to(torch.float64) + 1) / (nu * total + 1)).log().abs().mean())
        if best is None or crit < best[0]:
            best = (crit, alpha, gap_mean)
    return best[1], SLAB_FRACTION * best[2]
