"""Benchmark: exact assignment solvers side by side in one process.

    python benchmarks/assignment.py [--sizes 128 1024 4096] [--dims 8 64] [--repeats 3]
                                    [--data gaussian uniform clustered] [--slow 20] [--max-seconds 60]
                                    [--seed 0]
                                    [--json out.json] [--markdown out.md]

For each (data, n, d), n points each (seeded): "gaussian" x, y ~ N(0, I_d); "uniform" x, y ~
U(0, 1)^d; "clustered" x and y
drawn independently from the same mixture of 10 unit Gaussians with centres ~ N(0, 25 I_d) (the
cluster sizes differ between x and y, so mass must move between clusters: hard for
Jonker-Volgenant); "shifted" x ~ N(0, I_d), y ~ N(2, I_d); "uniform-moons" x ~ U(-1, 1)^d,
y = scikit-learn's two moons (noise 0.05) in the first two coordinates and N(0, 0.05^2) in the
others (the OTtrans matching of a uniform prior to data on curves: points move far from their
nearest neighbours, the hard case of aeot's sparse rounds). The squared Euclidean cost matrix is
built once in float64 (torch.cdist, timed separately) and handed to every third-party solver;
aeot.ot.assignment is timed from the points, cost matrix included. Solvers run round-robin within
each repeat, in an order rotated from repeat to repeat (so machine noise and the state a solver
leaves behind, such as spinning thread pools, hit all alike); the reported time is the minimum
over repeats (millisecond cases get more repeats, about 1 s in all, at most 50, as timeit does).
A solver that took longer than --slow seconds is not run again in later repeats of that case.

Every exact solver's permutation is evaluated on the costs recomputed from the coordinate
differences; all must agree with the best to 1e-9 relative, else the script exits with status 1.
lapjv's default mode casts the matrix to float32 (inexact); it is timed for reference only and
excluded from the check and from "fastest other".

Prints JSON (times, ratios vs POT and vs the fastest other exact solver) and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from importlib import metadata

import numpy as np
import torch

from aeot.ot import assignment

REL_TOL = 1e-9
MAX_REPEATS = 50  # cases where the slowest solver takes under 1 / repeats s get more repeats


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _solvers() -> list[tuple[str, bool, object]]:
    """(name, exact, fn(cost matrix (n, n) float64) -> perm (n,)) for every importable solver."""
    out: list[tuple[str, bool, object]] = []
    import ot  # POT: the network simplex the AE-OTgen authors used (Zhang et al. (2019) §3.3)

    def pot_emd(c):
        n = c.shape[0]
        w = np.full(n, 1.0 / n)
        plan = ot.emd(w, w, c, numItermax=100_000_000)  # default 1e5 stops early for n >= ~1000
        return plan.argmax(axis=1)  # a vertex of the Birkhoff polytope: one entry per row

    out.append(("POT ot.emd", True, pot_emd))
    from scipy.optimize import linear_sum_assignment

    out.append(("scipy linear_sum_assignment", True, lambda c: linear_sum_assignment(c)[1]))
    try:
        import lap

        if hasattr(lap, "lapjvc"):  # lapx installs itself as `lap`
            out.append(("lapx lapjv", True, lambda c: lap.lapjv(c, return_cost=False)[0]))
            out.append(("lapx lapjvc", True, lambda c: lap.lapjvc(c, return_cost=False)[1]))
        else:
            out.append(("lap lapjv", True, lambda c: lap.lapjv(c, return_cost=False)[0]))
    except ImportError:
        pass
    try:
        import lapjv

        out.append(("lapjv (force_doubles)", True, lambda c: lapjv.lapjv(c, force_doubles=True)[0]))
        out.append(("lapjv (default: float32)", False, lambda c: lapjv.lapjv(c)[0]))
    except ImportError:
        pass
    try:
        import fastlap

        out.append(("fastlap lapjv", True, lambda c: np.asarray(fastlap.solve_lap(c)[1])))
    except ImportError:
        pass
    return out


AEOT = "aeot assignment (incl. cost matrix)"
CDIST = "cost matrix (torch.cdist)"


def _true_cost(x: np.ndarray, y: np.ndarray, perm: np.ndarray) -> float:
    perm = np.asarray(perm, dtype=np.int64)
    if sorted(perm.tolist()) != list(range(len(x))):
        return float("nan")  # not a permutation
    diff = x - y[perm]
    return float(np.einsum("ij,ij->", diff, diff))


DATA = ("gaussian", "uniform", "clustered", "shifted", "uniform-moons")
# The issue's setting (why: the paragraph markdown() writes above the target table); the other
# kinds are stress cases, reported alongside with the same test.
ISSUE_DATA = ("gaussian", "uniform")


def make_points(kind: str, n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Point sets x, y (n, d) of one kind (see the module docstring)."""
    rng = np.random.default_rng([seed, n, d])
    if kind == "gaussian":
        return rng.standard_normal((n, d)), rng.standard_normal((n, d))
    if kind == "uniform":
        return rng.random((n, d)), rng.random((n, d))
    if kind == "clustered":
        centres = rng.standard_normal((10, d)) * 5.0
        return (centres[rng.integers(0, 10, n)] + rng.standard_normal((n, d)),
                centres[rng.integers(0, 10, n)] + rng.standard_normal((n, d)))
    if kind == "shifted":
        return rng.standard_normal((n, d)), rng.standard_normal((n, d)) + 2.0
    if kind == "uniform-moons":  # the OTtrans matching: uniform prior -> data on two curves
        from sklearn.datasets import make_moons

        if d < 2:
            raise ValueError(f"uniform-moons needs d >= 2 (the moons are 2-D); got d={d}")

        y = np.zeros((n, d))
        y[:, :2] = make_moons(n, noise=0.05, random_state=int(rng.integers(2**31)))[0]
        y[:, 2:] = 0.05 * rng.standard_normal((n, d - 2))
        return rng.uniform(-1.0, 1.0, (n, d)), y
    raise ValueError(f"data must be one of {DATA}; got {kind!r}")


def run(sizes: list[int], dims: list[int], repeats: int, seed: int,
        data: tuple[str, ...] = ("gaussian",), slow: float = float("inf"),
        max_seconds: float = float("inf")) -> dict:
    solvers = _solvers()
    rows = []
    failures = []
    last: dict[tuple[str, int, str], tuple[int, float]] = {}  # (data, d, solver) -> (n, seconds)
    for kind, n, d in ((k, n, d) for k in data for n in sorted(sizes) for d in dims):
        x, y = make_points(kind, n, d, seed)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        times: dict[str, list[float]] = {name: [] for name, _, _ in solvers}
        times[AEOT] = []
        times[CDIST] = []
        costs: dict[str, float] = {}
        skipped: dict[str, float] = {}  # solver -> its extrapolated seconds (never POT, the reference)
        for name, _, _ in solvers:
            if name != "POT ot.emd" and (kind, d, name) in last:
                n0, s0 = last[(kind, d, name)]
                estimate = s0 * (n / n0) ** 3  # the O(n^3) worst case of the shortest-path solvers
                if estimate > max_seconds:
                    skipped[name] = estimate
                    del times[name]
        rep, reps = 0, repeats
        entries = [(name, fn) for name, _, fn in solvers] + [(AEOT, None)]
        while rep < reps:
            rep += 1
            t = time.perf_counter()
            c = torch.cdist(xt, yt).square_().numpy()  # (n, n) float64
            times[CDIST].append(time.perf_counter() - t)
            shift = (rep - 1) % len(entries)  # rotate the order: each runs first, last, ... in turn
            for name, fn in entries[shift:] + entries[:shift]:
                if name in skipped:
                    continue
                if times[name] and min(times[name]) > slow:
                    continue  # too slow to repeat
                t = time.perf_counter()
                perm = fn(c) if fn is not None else assignment(xt, yt).numpy()
                times[name].append(time.perf_counter() - t)
                costs[name] = _true_cost(x, y, perm)
            del c
            if rep == 1:  # millisecond cases: more repeats (about 1 s in all), as timeit does
                slowest = max(v[0] for v in times.values() if v)
                reps = max(repeats, min(MAX_REPEATS, int(1.0 / max(slowest, 1e-9))))
        exact = {name for name, ok, _ in solvers if ok and name not in skipped} | {AEOT}
        best = min(costs[k] for k in exact)
        rel = {k: (v - best) / best for k, v in costs.items()}
        for k in exact:
            if not rel[k] <= REL_TOL:  # also catches NaN (not a permutation)
                failures.append(f"n={n} d={d}: {k} cost {costs[k]!r} vs best {best!r}")
        seconds = {k: min(v) for k, v in times.items()}
        for name in seconds:
            if name not in (AEOT, CDIST):
                last[(kind, d, name)] = (n, seconds[name])
        others = {k: s for k, s in seconds.items() if k in exact and k != AEOT}  # solver only
        fastest = min(others, key=others.get)
        row = {
            "data": kind,
            "n": n,
            "d": d,
            "seconds": seconds,
            "all_seconds": times,
            "optimal_cost": best,
            "relative_excess_cost": rel,
            "fastest_other": fastest,
            "skipped": skipped,
            "repeats": reps,
            "speedup_vs_pot": seconds["POT ot.emd"] / seconds[AEOT],
            "speedup_vs_fastest_other": seconds[fastest] / seconds[AEOT],
            "speedup_vs_fastest_other_plus_cost_matrix": (seconds[fastest] + seconds[CDIST]) / seconds[AEOT],
        }
        rows.append(row)
        print(
            f"# {kind} n={n} d={d}: aeot {seconds[AEOT]:.3f}s, POT {seconds['POT ot.emd']:.3f}s "
            f"(x{row['speedup_vs_pot']:.1f}), fastest other {fastest} {seconds[fastest]:.3f}s "
            f"(x{row['speedup_vs_fastest_other']:.2f})",
            file=sys.stderr,
            flush=True,
        )
    return {
        "targets": targets(rows),
        "command": "python " + " ".join(sys.argv),  # as typed (relative script path)
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "python": platform.python_version(),
            "torch_threads": torch.get_num_threads(),
        },
        "versions": {
            p: _version(p)
            for p in ("aeot", "torch", "numpy", "scipy", "POT", "lap", "lapx", "lapjv", "fastlap")
        },
        "repeats": repeats,
        "slow": slow,
        "max_seconds": max_seconds,
        "seed": seed,
        "rel_tol": REL_TOL,
        "results": rows,
        "failures": failures,
    }


TARGET_POT = 10.0  # issue 3: at least 10x faster than POT's ot.emd at n = 4096 ...
TARGET_N = 4096  # ... and no slower than the fastest other exact solver of the same run


def targets(rows: list[dict]) -> list[dict]:
    """The issue's targets on every row with n = TARGET_N: met or not, with the measured ratios;
    ``case`` says whether the row's data is the issue's setting (i.i.d. clouds) or a stress case."""
    out = []
    for r in rows:
        if r["n"] != TARGET_N:
            continue
        out.append({"data": r["data"], "n": r["n"], "d": r["d"],
                    "case": "issue" if r["data"] in ISSUE_DATA else "stress",
                    "speedup_vs_pot": r["speedup_vs_pot"], "pot_target_met": r["speedup_vs_pot"] >= TARGET_POT,
                    "fastest_other": r["fastest_other"], "speedup_vs_fastest_other": r["speedup_vs_fastest_other"],
                    "fastest_target_met": r["speedup_vs_fastest_other"] >= 1.0})
    return out


def markdown(report: dict) -> str:
    rows = report["results"]
    names = list(rows[0]["seconds"]) if rows else []
    order = [AEOT] + [k for k in names if k not in (AEOT, CDIST)] + [CDIST]
    lines = [
        "# Exact assignment: solver timings",
        "",
        f"Produced by `{report['command']}`",
        "",
        f"Machine: {report['machine']['platform']}, Python {report['machine']['python']}, "
        f"torch threads {report['machine']['torch_threads']}. Versions: "
        + ", ".join(f"{k} {v}" for k, v in report["versions"].items() if v)
        + ".",
        "",
        "Data (n points each, squared Euclidean cost): gaussian x, y ~ N(0, I_d); uniform x, y ~ "
        "U(0, 1)^d; clustered x, y "
        "drawn independently from one mixture of 10 unit Gaussians with centres ~ N(0, 25 I_d); "
        "shifted x ~ N(0, I_d), y ~ N(2, I_d); uniform-moons x ~ U(-1, 1)^d, y = two moons (noise 0.05) "
        "in the first two coordinates, N(0, 0.05^2) in the others. "
        f"Seconds = minimum over {report['repeats']} repeat(s), more where the slowest solver "
        f"takes under 1 / repeats s (about 1 s per case, at most {MAX_REPEATS}; the `repeats` "
        "field of each JSON row) (a solver slower than "
        f"{report['slow']:g} s is run once), solvers interleaved in one process in an order "
        "rotated each repeat. Third-party solvers "
        "get a prebuilt float64 cost matrix (its build time is the last column); aeot's time "
        "includes building its own. All exact solvers' optimal costs agree to "
        f"{report['rel_tol']:g} relative"
        + (" (checked)." if not report["failures"] else ": **FAILED** (see below)."),
        "",
        "| data | n | d | " + " | ".join(order)
        + " | POT / aeot | fastest other exact / aeot | (fastest other + cost matrix) / aeot |",
        "|---|---|---|" + "---:|" * (len(order) + 3),
    ]
    for r in rows:
        s = r["seconds"]
        cells = [f"{s[k]:.4g}" if k in s else
                 (f"skipped (est. {r['skipped'][k]:.3g} s)" if k in r.get("skipped", {}) else "-") for k in order]
        lines.append(
            f"| {r['data']} | {r['n']} | {r['d']} | " + " | ".join(cells)
            + f" | {r['speedup_vs_pot']:.1f}x | {r['speedup_vs_fastest_other']:.2f}x ({r['fastest_other']})"
            + f" | {r['speedup_vs_fastest_other_plus_cost_matrix']:.2f}x |"
        )
    if report.get("targets"):
        lines += ["", (f"Targets (issue 3) at n = {TARGET_N}: aeot at least {TARGET_POT:g}x faster than POT's "
                       "`ot.emd`, and no slower than the fastest other exact solver measured in the same run."), "",
                  ("The issue does not name its data; its reference times (n = 4096, d = 64: POT 19 s, scipy "
                   "5 s, the lapjv package 1.2 s) have lapjv about 4x faster than scipy, as on the i.i.d. point "
                   "clouds here (gaussian, uniform: the issue's setting; 1.5-4x at n = 4096), whereas on clustered "
                   "data lapjv is slower than scipy. Rows of the other data (clustered, shifted, uniform-moons) "
                   "are stress cases added here, reported with the same test."), "",
                  "| data | case | d | POT / aeot | >= 10x | fastest other / aeot | >= 1x |",
                  "|---|---|---|---:|---|---:|---|"]
        for t in report["targets"]:
            lines.append(f"| {t['data']} | {t['case']} | {t['d']} | {t['speedup_vs_pot']:.1f}x | "
                         f"{'met' if t['pot_target_met'] else 'not met'} | {t['speedup_vs_fastest_other']:.2f}x "
                         f"({t['fastest_other']}) | {'met' if t['fastest_target_met'] else 'not met'} |")
    lines += [
        "",
        "Notes:",
        f"- A solver whose time at the previous n, scaled by (n / n_prev)^3, exceeds "
        f"{report.get('max_seconds', float('inf')):g} s is skipped at n (the cell gives that estimate); "
        "POT, the reference, is never skipped. \"Fastest other\" is over the solvers measured.",
        "- `lapjv (default: float32)` casts the cost matrix to float32, so its result is only "
        "optimal up to float32 rounding; it is shown for reference and is not counted as exact.",
        "- POT's `ot.emd` runs with `numItermax=1e8`: its default (1e5) stops before optimality "
        "for n of a few thousand.",
        "- Timings on a shared machine are noisy; compare ratios within a row.",
    ]
    for f in report["failures"]:
        lines.append(f"- **cost mismatch**: {f}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 1024, 4096])
    parser.add_argument("--dims", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", nargs="+", choices=DATA, default=["gaussian", "uniform", "clustered"])
    parser.add_argument("--slow", type=float, default=20.0,
                        help="run a solver once only when it takes longer than this (seconds)")
    parser.add_argument("--max-seconds", dest="max_seconds", type=float, default=60.0,
                        help="skip a solver at n when its time at the previous n, scaled by (n/n_prev)^3, "
                             "exceeds this (never POT)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the JSON report to this file")
    parser.add_argument("--markdown", help="write the Markdown table to this file")
    args = parser.parse_args(argv)
    report = run(args.sizes, args.dims, args.repeats, args.seed, tuple(args.data), args.slow, args.max_seconds)
    text = json.dumps(report, indent=2)
    md = markdown(report)
    print(text)
    print(md)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(text + "\n")
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(md)
    if report["failures"]:
        print("FAILED: optimal costs disagree:\n  " + "\n  ".join(report["failures"]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
