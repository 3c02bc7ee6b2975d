"""Benchmark: the exact assignment at the papers' sizes (AE-OTtrans matching all codes).

    python benchmarks/assignment_scale.py [--sizes 10000 30000 60000] [--d 8] [--dense-max-n 10000]
                                          [--timeout 900] [--threads 2] [--seed 0]
                                          [--json out.json] [--markdown out.md]

The OTtrans case of Zhang et al. (2019), Algorithm 1: n prior points x ~ U(-1, 1)^d matched to n
codes y (a mixture of 10 Gaussians, centres ~ N(0, 4 I_d), spread 0.5: the optimal matching moves
points far from their nearest neighbours), squared Euclidean cost. Every (solver, n) runs in a
fresh process (so its peak resident memory is its own, read from ``resource.getrusage``), one
after the other. Solvers: aeot.ot.assignment (from the points); POT's ``ot.emd`` (the network
simplex the authors used) and scipy's ``linear_sum_assignment`` on the dense float64 matrix,
built in that process and timed apart, run only up to ``--dense-max-n`` (above it the row says
how much memory the dense matrix alone would take; at n = 60,000 it is 27 GiB, more than this
machine has). A run past ``--timeout`` seconds is stopped and reported as such. The optimal costs
of the solvers that finish are checked to agree to 1e-9 relative (exit status 1 otherwise).
Prints JSON and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time

import numpy as np
import torch

REL_TOL = 1e-9
SOLVERS = ("aeot", "POT ot.emd", "scipy linear_sum_assignment")


def make_points(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """x ~ U(-1, 1)^d (the OTtrans prior), y from a mixture of 10 Gaussians (the codes)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, (n, d))
    centres = 2.0 * rng.standard_normal((10, d))
    y = centres[rng.integers(0, 10, n)] + 0.5 * rng.standard_normal((n, d))
    return x, y


def _cost_of(x: np.ndarray, y: np.ndarray, perm: np.ndarray) -> float:
    diff = x - y[perm]
    return float(np.einsum("ij,ij->", diff, diff))


def one(solver: str, n: int, d: int, seed: int, threads: int) -> dict:
    """Run one solver on one instance in this process; the peak RSS is this process's."""
    import resource

    torch.set_num_threads(threads)
    x, y = make_points(n, d, seed)
    out: dict = {"solver": solver, "n": n, "d": d}
    if solver == "aeot":
        from aeot.ot import assignment

        t = time.perf_counter()
        perm = assignment(torch.from_numpy(x), torch.from_numpy(y)).numpy()
        out["seconds"] = time.perf_counter() - t
    else:
        t = time.perf_counter()
        c = torch.cdist(torch.from_numpy(x), torch.from_numpy(y)).pow_(2).numpy()  # (n, n) float64
        out["matrix_seconds"] = time.perf_counter() - t
        t = time.perf_counter()
        if solver == "POT ot.emd":
            import ot

            w = np.full(n, 1.0 / n)
            g = ot.emd(w, w, c, numItermax=max(100_000, 50 * n * n))
            perm = np.asarray(g.argmax(1), dtype=np.int64)
        else:
            from scipy.optimize import linear_sum_assignment

            perm = np.asarray(linear_sum_assignment(c)[1], dtype=np.int64)
        out["seconds"] = time.perf_counter() - t
    assert np.array_equal(np.sort(perm), np.arange(n)), f"{solver} did not return a permutation"
    out["cost"] = _cost_of(x, y, perm)
    out["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return out


def run(sizes: list[int], d: int, dense_max_n: int, timeout: float, threads: int, seed: int) -> dict:
    rows = []
    for n in sizes:
        for solver in SOLVERS:
            if solver != "aeot" and n > dense_max_n:
                rows.append({"solver": solver, "n": n, "d": d, "status": "not run",
                             "why": f"above --dense-max-n: its dense float64 matrix is {8 * n * n / 2**30:.1f} GiB"
                                    + (" (+ the transport plan, as large)" if solver == "POT ot.emd" else "")})
                continue
            cmd = [sys.executable, __file__, "--one", solver, "--sizes", str(n), "--d", str(d),
                   "--seed", str(seed), "--threads", str(threads)]
            t = time.perf_counter()
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                rows.append({"solver": solver, "n": n, "d": d, "status": "timeout", "seconds": timeout})
                continue
            if proc.returncode != 0:
                rows.append({"solver": solver, "n": n, "d": d, "status": "failed",
                             "why": (proc.stderr.strip().splitlines() or ["?"])[-1][:200]})
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            row.update(status="ok", process_seconds=time.perf_counter() - t)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    ok = True
    for n in sizes:
        costs = [r["cost"] for r in rows if r["n"] == n and r.get("status") == "ok"]
        if costs and max(costs) - min(costs) > REL_TOL * abs(min(costs)):
            ok = False
    return {
        "machine": f"{platform.platform()}, Python {platform.python_version()}, torch threads {threads}",
        "versions": _versions(), "d": d, "seed": seed, "rows": rows, "costs_agree": ok,
    }


def _versions() -> dict:
    from importlib import metadata

    out = {}
    for dist in ("aeot", "torch", "numpy", "scipy", "POT", "lap"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def markdown(report: dict) -> str:
    lines = [
        "| n | d | solver | status | solve seconds | cost-matrix seconds | peak RSS (GiB) | optimal cost |",
        "|---:|---:|---|---|---:|---:|---:|---:|",
    ]
    for r in report["rows"]:
        status = r["status"] + (f": {r['why']}" if r.get("why") else "")
        sec = f"{r['seconds']:.1f}" if "seconds" in r else "-"
        mat = f"{r['matrix_seconds']:.1f}" if "matrix_seconds" in r else ("included" if r["solver"] == "aeot" and r["status"] == "ok" else "-")
        rss = f"{r['peak_rss_gib']:.2f}" if "peak_rss_gib" in r else "-"
        cost = f"{r['cost']:.6f}" if "cost" in r else "-"
        lines.append(f"| {r['n']:,} | {r['d']} | {r['solver']} | {status} | {sec} | {mat} | {rss} | {cost} |")
    lines.append("")
    lines.append(f"Machine: {report['machine']}. Versions: "
                 + ", ".join(f"{k} {v}" for k, v in report["versions"].items() if v) + ".")
    lines.append("Optimal costs of the solvers that finished agree to 1e-9 relative: "
                 + ("yes." if report["costs_agree"] else "NO."))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10000, 30000, 60000])
    ap.add_argument("--d", type=int, default=8)
    ap.add_argument("--dense-max-n", type=int, default=10000)
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    ap.add_argument("--one", choices=SOLVERS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one, args.sizes[0], args.d, args.seed, args.threads)))
        return 0
    report = run(args.sizes, args.d, args.dense_max_n, args.timeout, args.threads, args.seed)
    print(json.dumps(report, indent=1))
    md = markdown(report)
    print(md)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(md)
    return 0 if report["costs_agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
