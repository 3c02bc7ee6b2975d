"""How much could exact candidate pruning save in the power-cell argmax? (issue 20, item 2)

    python benchmarks/sdot_pruning.py [--threads N]

Prints one JSON object with three measurements on the Gaussian-mixture codes of
benchmarks/sdot.py, placed in the box as the solver places them (``0.5 + 0.4 / sqrt(d) * u``,
u the centred codes at unit RMS scale):

(a) box grid: the box cut into g^d sub-boxes; a target j is a candidate of sub-box B unless
    the best target k at B's centre o beats it everywhere in B, i.e. unless
    ``s_k(o) - s_j(o) > halfwidth * |y_k - y_j|_1`` (exact for a box).  Mean fraction of the
    targets left, for the potential of a solve to tol = 0.2 (n = 3000, d = 8).
(b) target clusters: k-means of the targets into K clusters; a cluster is skipped for a sample
    x when ``<x', c_C> + max_{j in C} (h'_j + |x'| r_j)`` (Cauchy-Schwarz, origin at the box
    centre) is below x's best score.  Mean fraction of clusters left (the exact best is used,
    the most favourable lower bound), Voronoi start potential.
(c) exact nearest neighbour on lifted points (scipy cKDTree in d + 1 dimensions,
    ``(y_j, sqrt(W - |y_j|^2 - 2 h_j))``), against the solver's chunked kernel: time ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sdot import mixture_codes

import aeot.ot.semidiscrete as sd
from aeot.ot._power import PowerScorer


def placed(n: int, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    u = mixture_codes(n, d).double()
    u = (u - u.mean(0)) / (u - u.mean(0)).pow(2).mean().sqrt()
    t = 0.5 + 0.4 / d**0.5 * u  # (n, d)
    return t, -0.5 * t.pow(2).sum(1)  # Voronoi start potential


def box_grid(n: int = 3000, d: int = 8) -> list[dict]:
    with warnings.catch_warnings(record=True):
        res = sd.solve_semidiscrete(mixture_codes(n, d), tol=0.2, seed=0)
    t, h = res.targets.double(), res.potential.double()
    out = []
    for g in (2, 3, 4):
        hw, ax, boxes = 0.5 / g, (torch.arange(g, dtype=torch.float64) + 0.5) / g, g**d
        idx = torch.arange(boxes)
        cent = torch.stack([ax[(idx // g**k) % g] for k in range(d)], 1)  # (boxes, d)
        total = 0
        for i in range(0, boxes, 512):
            s = cent[i : i + 512] @ t.T + h  # (b, n)
            kb = s.argmax(1)
            total += int((s.gather(1, kb[:, None]) - s <= hw * torch.cdist(t[kb], t, p=1)).sum())
        out.append({"n": n, "d": d, "grid": g, "boxes": boxes, "candidate_fraction": total / boxes / n})
    return out


def clusters(n: int, d: int, m: int = 8192) -> list[dict]:
    t, h = placed(n, d)
    o = torch.full((d,), 0.5, dtype=torch.float64)
    hp = h + t @ o
    g = torch.Generator().manual_seed(0)
    x = torch.rand(m, d, generator=g, dtype=torch.float64) - 0.5  # x' = x - o
    best = (x @ t.T + hp).max(1).values
    out = []
    for k in (n // 256, n // 64, n // 16):
        c = t[torch.randperm(n, generator=g)[:k]].clone()
        for _ in range(10):
            a = torch.cdist(t, c).argmin(1)
            c = torch.zeros_like(c).index_add_(0, a, t) / torch.bincount(a, minlength=k).clamp_min(1)[:, None].double()
        a = torch.cdist(t, c).argmin(1)
        r = (t - c[a]).norm(dim=1)
        xn = x.norm(dim=1)
        lev = torch.linspace(0, float(xn.max()), 17, dtype=torch.float64)
        tab = torch.stack([torch.full((k,), -1e300, dtype=torch.float64).scatter_reduce(0, a, hp + v * r, "amax")
                           for v in lev])  # (17, k): max over the cluster of h' + |x'| r, |x'| rounded up
        ub = x @ c.T + tab[torch.bucketize(xn, lev).clamp(max=16)]
        out.append({"n": n, "d": d, "clusters": k, "cluster_fraction_left": float((ub >= best[:, None]).double().mean())})
    return out


def kdtree(n: int, d: int, m: int = 20000) -> dict:
    from scipy.spatial import cKDTree

    t, h = placed(n, d)
    x = torch.rand(m, d, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    scorer = PowerScorer(t.float(), h.float())
    t0 = time.perf_counter()
    kern = torch.cat([scorer.argmax(x[i : i + 512].float())[1] for i in range(0, m, 512)])
    t_kernel = time.perf_counter() - t0
    w = t.pow(2).sum(1) + 2 * h
    lift = torch.cat([t, (w.max() - w).sqrt().unsqueeze(1)], 1).numpy()
    t0 = time.perf_counter()
    tree = cKDTree(lift)
    _, nn = tree.query(np.concatenate([x.numpy(), np.zeros((m, 1))], 1), k=1)
    t_tree = time.perf_counter() - t0
    return {"n": n, "d": d, "kernel_s": t_kernel, "kdtree_s": t_tree, "kdtree_speedup": t_kernel / t_tree,
            "agree": float((torch.from_numpy(nn) == kern).double().mean())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    r = {"box_grid": box_grid(), "clusters": clusters(10_000, 8) + clusters(10_000, 64),
         "kdtree": [kdtree(10_000, 8), kdtree(60_000, 8)]}
    print(json.dumps(r, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
