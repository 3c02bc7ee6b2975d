"""Where the semi-discrete solve spends its samples after the coarse-to-fine start, and variants.

    python benchmarks/sdot_fine_profile.py LATENTS --n 10000 [--variants base,grow4,radius10,factor4]
                                           [--tol 0.3] [--tol-max 1.5] [--threads 1] [--out F.jsonl]

LATENTS: a run's ``latents.safetensors`` (e.g. the fully connected autoencoder of
``aeot reproduce fashion-mnist --full-cpu``, ``OUT/ae-mlp/latents.safetensors``); its first
``--n`` codes are solved with ``solve_semidiscrete(codes, seed=0, tol, tol_max)`` (the defaults
otherwise), once per variant, each in this process one after the other. Variants change one
module constant for that solve: ``growG`` the trust-radius growth of a clipped cell
(``_sdot_newton.GROW``, default 2), ``radiusR`` the first trust radius in slab widths
(``RADIUS``, 3), ``factorF`` the fine targets per coarse cluster of the warm start
(``_sdot_multiscale.FACTOR``, 8). Prints (and appends to ``--out``) one JSON line per variant:
seconds, iterations, samples, the warm start, and (p95, max, empty cells, samples) of every
fine iteration. Iteration and sample counts do not depend on the machine's load; seconds do.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import torch

import aeot.ot._sdot_multiscale as ms
import aeot.ot._sdot_newton as newton
import aeot.ot.semidiscrete as sd
from aeot.io import load_checkpoint


def solve(codes: torch.Tensor, variant: str, tol: float, tol_max: float) -> dict:
    saved = (newton.GROW, newton.RADIUS, ms.FACTOR, sd.FACTOR)
    try:
        if variant.startswith("grow"):
            newton.GROW = float(variant[4:])
        elif variant.startswith("radius"):
            newton.RADIUS = float(variant[6:])
        elif variant.startswith("factor"):
            ms.FACTOR = sd.FACTOR = int(variant[6:])
        elif variant != "base":
            raise SystemExit(f"unknown variant {variant!r}: base, growG, radiusR or factorF")
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            r = sd.solve_semidiscrete(codes, seed=0, tol=tol, tol_max=tol_max)
        seconds = time.perf_counter() - t
    finally:
        newton.GROW, newton.RADIUS, ms.FACTOR, sd.FACTOR = saved
    warm = {k: r.warm_start[k] for k in ("n", "n_iter", "seconds", "p95")} if r.warm_start else None
    return {"n": codes.shape[0], "d": codes.shape[1], "variant": variant, "tol": tol, "tol_max": tol_max,
            "seconds": seconds, "iterations": r.n_iter, "samples": r.n_samples, "status": r.status, "warm": warm,
            "trace": [(e["p95"], e["max"], e["empty"], e["n_samples"]) for e in r.errors]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("latents", type=Path)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--variants", default="base,grow4,radius10,factor4")
    ap.add_argument("--tol", type=float, default=0.3)
    ap.add_argument("--tol-max", type=float, default=1.5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    lat, _ = load_checkpoint(args.latents, kind="Latents")
    codes = lat["z"][: args.n].to(torch.float32)
    for variant in args.variants.split(","):
        line = json.dumps(solve(codes, variant, args.tol, args.tol_max))
        print(line, flush=True)
        if args.out:
            with args.out.open("a") as f:
                f.write(line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
