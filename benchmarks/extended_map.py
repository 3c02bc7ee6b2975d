"""Speed and coverage of the extended map's modes (aeot.ot.extended), side by side.

For each (n, d) a power diagram is built from n random sites in [0, 1]^d (Voronoi cells;
mass centres estimated from ``--n-mc`` uniform points, as the solver estimates them);
m uniform source points go through each mode, alternating the modes ``--repeats`` times.
Printed per mode: seconds, latents per second, the time as a ratio to the plain map T
(the cell search every mode starts with), and the fractions of samples that lie inside a
simplex of centres and that are interpolated (epsilon = inf). Prints JSON, then Markdown
(``--markdown FILE`` also writes it).

    python benchmarks/extended_map.py                       # the docs/benchmarks table
    python benchmarks/extended_map.py --grid 64:10000:100000 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import torch

from aeot.ot.extended import MODES, Triangulation, apply_extended_map
from aeot.ot.semidiscrete import SemiDiscreteResult, cell_index

DEFAULT_GRID = "2:10000:100000,8:1000:2000,8:10000:2000,16:10000:20000,64:10000:100000,100:10000:20000"


def voronoi_problem(n: int, d: int, n_mc: int, seed: int) -> tuple[SemiDiscreteResult, torch.Tensor]:
    """Random sites, their Voronoi cells as power cells, mass centres by Monte Carlo; codes."""
    g = torch.Generator().manual_seed(seed)
    y = torch.rand(n, d, generator=g, dtype=torch.float64)
    h = -(y**2).sum(1) / 2  # argmax <w, y> + h = the nearest site
    u = torch.rand(n_mc, d, generator=g, dtype=torch.float64)
    cell = cell_index(u, y, h)
    cnt = torch.bincount(cell, minlength=n)
    centers = torch.zeros(n, d, dtype=torch.float64).index_add_(0, cell, u) / cnt.clamp_min(1)[:, None]
    centers[cnt == 0] = y[cnt == 0]
    result = SemiDiscreteResult(
        potential=(h - h.mean()).float(), targets=y.float(), weights=torch.full((n,), 1.0 / n, dtype=torch.float64),
        centers=centers, cell_mass=cnt.double() / n_mc, low=torch.zeros(d), high=torch.ones(d),
        errors=[], converged=True, n_iter=0, n_samples=n_mc, scale={})
    return result, torch.randn(n, d, generator=g)


def measure(n: int, d: int, m: int, *, modes: tuple[str, ...], repeats: int, n_mc: int, seed: int) -> list[dict]:
    result, codes = voronoi_problem(n, d, n_mc, seed)
    w = torch.rand(m, d, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    t0 = time.perf_counter()
    tri = Triangulation(result.centers)  # built once per fitted sampler
    build = time.perf_counter() - t0
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    stats: dict[str, dict] = {}
    for r in range(repeats):
        order = modes[r % len(modes):] + modes[: r % len(modes)]  # rotate: no mode always first
        for mode in order:
            t0 = time.perf_counter()
            out = apply_extended_map(w, result, codes, epsilon=math.inf, mode=mode, triangulation=tri)
            times[mode].append(time.perf_counter() - t0)
            stats[mode] = {"inside": float(out.inside.float().mean()),
                           "interpolated": float(out.interpolated.float().mean())}
    plain = min(times["plain"]) if "plain" in times else float("nan")
    rows = []
    for mode in modes:
        best = min(times[mode])
        rows.append({"n": n, "d": d, "m": m, "mode": mode, "seconds": best, "per_second": m / best,
                     "ratio_to_plain": best / plain, "triangulation_seconds": build, **stats[mode]})
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| d | n | m | mode | seconds | latents / s | x plain | inside | interpolated |",
             "|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['d']} | {r['n']} | {r['m']} | {r['mode']} | {r['seconds']:.2f} | {r['per_second']:,.0f} "
                     f"| {r['ratio_to_plain']:.2f} | {r['inside']:.3f} | {r['interpolated']:.3f} |")
    return "\n".join(lines)


def parse_grid(text: str) -> list[tuple[int, int, int]]:
    try:
        grid = [tuple(int(v) for v in cell.split(":")) for cell in text.split(",")]
    except ValueError:
        grid = []
    if not grid or any(len(c) != 3 or min(c) < 1 for c in grid):
        raise SystemExit(f"--grid must be d:n:m[,d:n:m...] with positive ints, got {text!r}")
    return grid  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--grid", default=DEFAULT_GRID, help="d:n:m cells, comma separated")
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--n-mc", type=int, default=200_000, help="uniform points for the mass centres")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--markdown", default=None, help="also write the Markdown table to this file")
    a = p.parse_args(argv)
    modes = tuple(a.modes.split(","))
    if any(mode not in MODES for mode in modes) or "plain" not in modes:
        print(f"--modes must be among {', '.join(MODES)} and include plain, got {a.modes!r}", file=sys.stderr)
        return 2
    if a.repeats < 1 or a.n_mc < 1:
        print("--repeats and --n-mc must be positive", file=sys.stderr)
        return 2
    rows = []
    for d, n, m in parse_grid(a.grid):
        rows += measure(n, d, m, modes=modes, repeats=a.repeats, n_mc=a.n_mc, seed=a.seed)
        print(json.dumps(rows[-len(modes):]), flush=True)
    table = markdown(rows)
    print(table)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
