"""The score of the map OTtrans regresses, without the network: a floor for OTtrans in the toy table.

    python benchmarks/toy_exact_map.py DATASET [--m 10240] [--seeds 0 1 2] [--prior sobol|iid]
                                       [--n-batches 20]

OTtrans (Zhang et al. (2019) Algorithm 1) trains a network f to reproduce one exact OT bijection sigma from m
prior points to m real points, then samples f(fresh prior points). The best f can do is the OT
map itself. This script skips the network: it draws m prior points (U(-1, 1)^2; ``sobol``: one
scrambled Sobol sequence, as the table's "Sobol" rows sample, or ``iid``), takes m training
points of ``aeot toy``'s DATASET (moons or circles, the table's noise and factor), computes the
exact optimal bijection (:func:`aeot.ot.assignment`, squared cost) and uses the real point
matched to each of the first n_batches * 128 prior points as the "generated" point. As m grows
this is the exact OT map evaluated on the prior draws. The generated batches (consecutive
blocks of 128 prior points, as ``sample()`` draws them) are scored against the same real
batches as the table (mean OT divergence over n_batches batches of 128).

Prints one JSON line per seed, then a summary JSON line (mean and standard deviation over seeds)
and a Markdown row. docs/toy.md quotes it: on circles the exact map with a Sobol prior scores
about 0.077, above the paper's OTtrans value 0.075, so no network regressing that map can be
expected to reach 0.075 under this sampling.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch

from aeot.ot import assignment
from aeot.samplers.base import sobol
from aeot.experiments.toy import ToyConfig, batched_divergence, real_batches, training_points


def exact_map_score(dataset: str, m: int, seed: int, prior: str, n_batches: int) -> dict:
    """Score of the exact OT map from m prior draws to m training points (see the module doc)."""
    cfg = ToyConfig(n_train=m, n_batches=n_batches).validate()
    data = training_points(cfg, dataset, seed)  # (m, 2)
    g = torch.Generator().manual_seed(seed)
    u = sobol(m, 2, g, dtype=torch.float64) if prior == "sobol" else torch.rand(m, 2, generator=g,
                                                                                  dtype=torch.float64)
    p = u * 2.0 - 1.0  # (m, 2): U(-1, 1)^2, OTtrans's default prior
    t = time.perf_counter()
    perm = assignment(p, data)  # p[i] -> data[perm[i]]
    seconds = time.perf_counter() - t
    k = n_batches * cfg.batch_size
    gen = data[perm[:k]]  # (k, 2): the images of the first k prior draws, in draw order
    real = real_batches(dataset, cfg, seed, split="test")  # (k, 2): the table's real batches
    scores = batched_divergence(gen, real, cfg.batch_size)
    return {"dataset": dataset, "prior": prior, "m": m, "seed": seed, "n_batches": n_batches,
            "divergence": round(sum(scores) / len(scores), 4), "assignment_seconds": round(seconds, 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", choices=["moons", "circles"])
    parser.add_argument("--m", type=int, default=10240, help="prior and real points matched (default 10240)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--prior", choices=["sobol", "iid"], default="sobol")
    parser.add_argument("--n-batches", type=int, default=20, help="scored batches of 128 (default 20, the table's)")
    args = parser.parse_args(argv)
    if args.n_batches < 1:
        parser.error(f"--n-batches must be >= 1, got {args.n_batches}")
    if args.m < args.n_batches * 128:
        parser.error(f"--m must be at least n_batches * 128 = {args.n_batches * 128} (every scored point is "
                     f"the image of a distinct prior draw), got {args.m}")
    rows = []
    for seed in args.seeds:
        rows.append(exact_map_score(args.dataset, args.m, seed, args.prior, args.n_batches))
        print(json.dumps(rows[-1]), flush=True)
    vals = torch.tensor([r["divergence"] for r in rows], dtype=torch.float64)
    std = float(vals.std()) if len(rows) > 1 else math.nan
    summary = {"dataset": args.dataset, "prior": args.prior, "m": args.m, "seeds": args.seeds,
               "mean": round(float(vals.mean()), 4), "std": round(std, 4)}
    print(json.dumps(summary))
    print(f"| exact OT map ({args.prior} prior, m = {args.m}) | {args.dataset} | "
          f"{summary['mean']:.3f} ± {std:.3f} |")


if __name__ == "__main__":
    main()
