"""Semi-discrete OT at the papers' sizes: time to p95 <= 0.1, peak memory, POT side by side.

    python benchmarks/sdot_scale.py --out results.jsonl [--cases 10000x8,10000x64,...]
                                    [--pot-batches 32,1024,8192] [--pot-factors 1,4]
                                    [--eval-per-cell 1000] [--threads N] [--markdown FILE]

Resumable: every case (n x d) runs in its own subprocess (so its peak memory is its own) and
appends one JSON line to ``--out`` as soon as it ends; cases already in the file are skipped.
``--markdown`` writes the report of every line in the file (with this command at its top).

One case: synthetic codes (benchmarks/sdot.py's seeded Gaussian mixture: 10 centres ~ N(0, 4 I),
unit spread), solved by ``aeot.ot.semidiscrete.solve_semidiscrete(codes, seed=0)`` with its
defaults (tol = 0.1 on its own estimate), every potential it estimates recorded with its time.
The independent evaluator (benchmarks/sdot.py ``relative_errors``: fresh i.i.d. uniform
samples of the box, ``eval-per-cell x n`` of them, relative cell errors |mu_i n - 1|) scores
the last potentials, going back while they reach p95 <= 0.1: the time to p95 <= 0.1 is that
of the earliest one evaluated that reaches it.  Then POT 0.9.7's
``ot.semidiscrete.solve_semidiscrete`` (projected averaged SGD with decreasing entropic
regularisation, Genans et al., NeurIPS 2025) on the same placed targets (aeot's
``result.targets``, box [0, 1]^d, squared Euclidean cost: the same cells as aeot's power
scores with ``h = (g - |y|^2) / 2``), i.i.d. uniform samples of the same box from a seeded
generator, its other parameters at their defaults, for each batch size given the wall time of
aeot's whole solve times each factor (its iteration count set from a timed calibration
run), scored by the same evaluator.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sdot import cpu_name, mixture_codes, relative_errors

from safetensors import safe_open
from safetensors.torch import save_file as st_save_file

import aeot.ot.semidiscrete as sd
from aeot.io import load_checkpoint
from aeot.ot._power import PowerScorer

CHECKPOINT_EVERY = float(os.environ.get("AEOT_SDOT_SCALE_CHECKPOINT_EVERY", 300))  # seconds between state saves

DEFAULT_CASES = "10000x8,10000x64,30000x8,30000x64,60000x8,60000x64"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def solve_recorded(codes: torch.Tensor, state: Path) -> tuple[sd.SemiDiscreteResult, list, float, int]:
    """aeot's default solve, resumable; (result, [(seconds, potential)] per iteration, seconds, resumes).

    The solver's state goes to ``state/solve.safetensors`` (every CHECKPOINT_EVERY seconds) and
    the potential each iteration estimated to ``state/trace/ITER.safetensors`` with the solve's
    elapsed time then, so that a killed case carries on where it was (the time lost between the
    last checkpoint and the kill is not counted: the iterations after it are made again).
    """
    n = codes.shape[0]
    ckpt, tdir = state / "solve.safetensors", state / "trace"
    tdir.mkdir(parents=True, exist_ok=True)
    offset, start, resumes = 0.0, 0, 0
    if ckpt.exists():
        saved, meta = load_checkpoint(ckpt, kind="sdot-solve")
        offset, start = float(saved["elapsed"]), int(saved["it"])
        resumes = int(json.loads((state / "resumes.json").read_text())) + 1 if (state / "resumes.json").exists() else 1
        (state / "resumes.json").write_text(str(resumes))
        log(f"n={n}: resuming the solve from {ckpt} at iteration {start + 1}, {offset:.0f} s in")
    records: dict[object, list] = {}
    latest, main = [None], [None]
    init, set_potential = PowerScorer.__init__, PowerScorer.set_potential
    t0 = time.perf_counter()

    def recording_init(self, targets, *args, **kwargs):
        if targets.shape[0] == n:
            latest[0] = self
        init(self, targets, *args, **kwargs)

    def recording(self, potential):
        if potential.numel() == n and (main[0] is None or self is main[0]):
            records.setdefault(self, []).append((offset + time.perf_counter() - t0, potential.detach().clone()))
        set_potential(self, potential)

    def persist(ev):
        if ev.get("task") != "sdot":  # the coarse solves of the warm start report as "sdot-coarse"
            return
        if main[0] is None:  # the main loop's scorer: the last one built on all n targets before its first step
            main[0] = latest[0]
            for other in [key for key in records if key is not main[0]]:
                del records[other]
        trace = records.get(main[0], [])
        k = start + len(trace) - 1  # the potential this iteration estimated
        if trace:
            t, h = trace[-1]
            st_save_file({"h": h.contiguous()}, str(tdir / f"{k:05d}.safetensors"), metadata={"seconds": repr(t)})

    PowerScorer.__init__, PowerScorer.set_potential = recording_init, recording
    try:
        with warnings.catch_warnings(record=True):
            res = sd.solve_semidiscrete(codes, seed=0, checkpoint=ckpt, checkpoint_every=CHECKPOINT_EVERY,
                                        progress=persist)
    finally:
        PowerScorer.__init__, PowerScorer.set_potential = init, set_potential
    total = float(load_checkpoint(ckpt, kind="sdot-solve")[0]["elapsed"])
    trace = []
    for k in range(res.n_iter):
        f = tdir / f"{k:05d}.safetensors"
        with safe_open(str(f), framework="pt") as fh:
            trace.append((float(fh.metadata()["seconds"]), fh.get_tensor("h")))
    return res, trace, total, resumes


def pot_solve(targets: torch.Tensor, batch: int, seconds: float, seed: int) -> dict:
    """POT's solver given about ``seconds`` of wall time: power potential (n,) and its run."""
    import ot.semidiscrete as otsd

    n, d = targets.shape
    gen = torch.Generator().manual_seed(seed)

    def sampler(b):
        return torch.rand(b, d, generator=gen)  # Uniform([0, 1]^d), the same box as aeot's

    calib, took = 4, 0.0
    while took < min(2.0, 0.05 * seconds) and calib < 1 << 22:  # time ~5% of the budget, at most 2 s
        calib *= 2
        t = time.perf_counter()
        otsd.solve_semidiscrete(targets, sampler_source=sampler, batch_size=batch, max_iter=calib)
        took = time.perf_counter() - t
    iters = max(1, int(seconds * calib / took))
    t = time.perf_counter()
    g = otsd.solve_semidiscrete(targets, sampler_source=sampler, batch_size=batch, max_iter=iters)
    wall = time.perf_counter() - t
    h = (g.double() - targets.double().pow(2).sum(1)) / 2  # argmin |x - y|^2 - g = argmax <x, y> + h
    return {"h": h, "iterations": iters, "seconds": wall, "samples": iters * batch}


def run_case(n: int, d: int, batches: list[int], factors: list[float], eval_per_cell: int, state: Path) -> dict:
    codes = mixture_codes(n, d)
    load0 = os.getloadavg()[0]  # the machine is shared: its 1-minute load average, at start and end
    rss0 = peak_rss_mb()
    res, trace, total, resumes = solve_recorded(codes, state)
    rss_solve = peak_rss_mb()
    log(f"n={n} d={d}: aeot {total:.1f} s, {res.n_iter} iterations, {res.status}, own p95 {res.errors[-1]['p95']:.3f}")
    m_eval = eval_per_cell * n
    out = {
        "n": n, "d": d, "codes": "gaussian mixture (benchmarks/sdot.py mixture_codes, seed 0)",
        "eval_samples": m_eval, "eval_noise_p95": 1.96 * math.sqrt((n - 1) / m_eval),
        "aeot": {"seconds": total, "iterations": res.n_iter, "samples": res.n_samples, "status": res.status,
                 "converged": res.converged, "own_p95": res.errors[-1]["p95"], "own_max": res.errors[-1]["max"],
                 "last_budget": res.errors[-1]["n_samples"]},
        "peak_rss_mb_before": rss0, "peak_rss_mb_after_aeot": rss_solve, "resumes": resumes,
    }
    evals = []
    for k in range(len(trace) - 1, -1, -1):  # back from the last potential while p95 <= 0.1
        t, h = trace[k]
        cached = state / f"eval-{k:05d}-{m_eval}.json"  # an evaluation at n = 60,000 takes most of an hour
        if cached.exists():
            err = json.loads(cached.read_text())
        else:
            err = relative_errors(res.targets, h, 0.0, 1.0, m_eval, seed=10_000 + k)
            cached.write_text(json.dumps(err, default=float))
        evals.append({"iter": k + 1, "seconds": t, "samples": res.errors[k]["total_samples"], **err,
                      "own_p95": res.errors[k]["p95"]})
        log(f"  evaluated iteration {k + 1}: p95 {err['p95']:.3f}")
        if err["p95"] > 0.1 or len(evals) >= 4:
            break
    evals.reverse()
    out["aeot"]["evaluated"] = evals
    hit = next((e for e in evals if e["p95"] <= 0.1), None)
    out["aeot"]["time_to_p95_0.1"] = hit["seconds"] if hit else None
    out["aeot"]["final_eval"] = evals[-1]
    pot = []
    for b in batches:
        for f in factors:
            r = pot_solve(res.targets, b, f * total, seed=1000 + b)
            err = relative_errors(res.targets, r.pop("h"), 0.0, 1.0, m_eval, seed=20_000 + b + int(10 * f))
            pot.append({"batch_size": b, "time_factor": f, **r, **err})
            log(f"  POT batch {b} x{f:g}: {r['seconds']:.1f} s, {r['iterations']} iterations, p95 {err['p95']:.3f}")
    out["pot"] = pot
    out["peak_rss_mb_after_pot"] = peak_rss_mb()
    out["load_average"] = [load0, os.getloadavg()[0]]
    return out


NOTES = [
    ("Codes: synthetic, benchmarks/sdot.py's seeded Gaussian mixture (10 centres ~ N(0, 4 I), unit spread), "
     "not autoencoder codes."),
    ("aeot: `solve_semidiscrete(codes, seed=0)` with its defaults (tol = 0.1 on its own estimate's p95, "
     "tol_max = 0.5, the sample budget sized from n and tol); *time to p95 <= 0.1* is the time at which the "
     "earliest evaluated potential that reaches p95 <= 0.1 under the independent evaluator was available."),
    ("Independent evaluator: relative cell errors |mu_i n - 1| under fresh i.i.d. uniform samples of the box "
     "(benchmarks/sdot.py `relative_errors`), the same for every solver; its own noise p95 is in the table, so "
     "an evaluated p95 is about the true one combined with that noise."),
    ("POT: `ot.semidiscrete.solve_semidiscrete(targets, sampler_source=..., batch_size=B, max_iter=...)` on "
     "aeot's placed targets (box [0, 1]^d, squared Euclidean cost: the same cells, h = (g - |y|^2) / 2), "
     "i.i.d. uniform samples from a seeded generator, its other parameters at their defaults (lr0 = "
     "sqrt(n B), decreasing entropic regularisation from 0.1, Polyak averaging); its iteration count comes "
     "from a timed calibration run so that it gets the stated multiple of aeot's wall time (the *seconds* "
     "column is what it took)."),
    ("Peak RSS: the case's own process (torch and the codes included), before and after aeot's solve; for a "
     "case that resumed from its saved state (`resumes` > 0 in the JSON line) that of the last process only."),
    ("A case is resumable: the solver's state (`solve_semidiscrete(checkpoint=...)`), each iteration's "
     "potential and each evaluation are kept in `--state-dir` until it ends; a resumed solve makes the same "
     "iterations, and its time is the solve's own elapsed time (work lost between the last save and a kill is "
     "not counted)."),
    ("The machine is shared by several developers: the load average at the start and end of each case is "
     "recorded in the JSON lines; times of different cases are not comparable to better than a factor ~2."),
]


def markdown(rows: list[dict], command: str) -> str:
    lines = [f"# Semi-discrete OT at scale\n\nProduced by `{command}`\n"]
    if rows:
        m = rows[0]["machine"]
        lines.append(f"Machine: {m['cpu']} ({m['cores']} cores), {m['threads']} torch threads, torch {m['torch']}.\n")
    done = {(r["n"], r["d"]) for r in rows}
    missing = [c for c in DEFAULT_CASES.split(",") if tuple(int(v) for v in c.split("x")) not in done]
    if missing:
        lines.append(f"Not measured in this file: {', '.join(missing)} (n x d).\n")
    lines += ["## Time to p95 <= 0.1 (aeot, default solve)\n",
              "| n | d | solve s | iterations | status | own p95 | evaluated p95 (final) | eval noise p95 | "
              "time to p95 <= 0.1 | peak RSS MB (before -> after) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        a = r["aeot"]
        ttt = f"{a['time_to_p95_0.1']:.0f} s" if a["time_to_p95_0.1"] is not None else "not reached"
        lines.append(f"| {r['n']:,} | {r['d']} | {a['seconds']:.0f} | {a['iterations']} | {a['status']} | "
                     f"{a['own_p95']:.3f} | {a['final_eval']['p95']:.3f} | {r['eval_noise_p95']:.3f} | {ttt} | "
                     f"{r['peak_rss_mb_before']:.0f} -> {r['peak_rss_mb_after_aeot']:.0f} |")
    lines += ["", "## POT side by side (same targets, box and evaluator)\n",
              "| n | d | solver | batch | time budget | seconds | samples | p95 | max |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        a = r["aeot"]
        lines.append(f"| {r['n']:,} | {r['d']} | aeot | - | its own | {a['seconds']:.0f} | {a['samples']:,} | "
                     f"{a['final_eval']['p95']:.3f} | {a['final_eval']['max']:.2f} |")
        for p in r["pot"]:
            lines.append(f"| {r['n']:,} | {r['d']} | POT | {p['batch_size']} | {p['time_factor']:g}x aeot | "
                         f"{p['seconds']:.0f} | {p['samples']:,} | {p['p95']:.3f} | {p['max']:.2f} |")
    lines += ["", "## Notes\n", *[f"- {note}" for note in NOTES]]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="JSON lines, one per case (appended; resumable)")
    ap.add_argument("--cases", default=DEFAULT_CASES, help=f"n x d list (default {DEFAULT_CASES})")
    ap.add_argument("--pot-batches", default="32,1024,8192")
    ap.add_argument("--pot-factors", default="1,4", help="POT's wall time as multiples of aeot's")
    ap.add_argument("--eval-per-cell", type=int, default=1000, help="evaluator samples per cell")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--state-dir", type=Path, default=Path("runs/sdot-scale-state"),
                    help="where a case keeps its solver state, potentials and evaluations until it ends "
                         "(a killed case resumes from it; default runs/sdot-scale-state/NxD)")
    ap.add_argument("--markdown", type=Path)
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one case, print its JSON line
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    batches = [int(b) for b in args.pot_batches.split(",") if b]
    factors = [float(f) for f in args.pot_factors.split(",") if f]
    if args.one:
        n, d = (int(v) for v in args.one.split("x"))
        r = run_case(n, d, batches, factors, args.eval_per_cell, args.state_dir / args.one)
        r["machine"] = {"cpu": cpu_name(), "cores": os.cpu_count(), "threads": torch.get_num_threads(),
                        "torch": torch.__version__}
        print(json.dumps(r, default=float))
        return 0
    done = set()
    if args.out.exists():
        done = {(r["n"], r["d"]) for r in map(json.loads, args.out.read_text().splitlines()) if r}
    for case in filter(None, args.cases.split(",")):
        n, d = (int(v) for v in case.split("x"))
        if (n, d) in done:
            continue
        cmd = [sys.executable, __file__, "--out", str(args.out), "--one", case, "--pot-batches", args.pot_batches,
               "--pot-factors", args.pot_factors, "--eval-per-cell", str(args.eval_per_cell),
               "--state-dir", str(args.state_dir)]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)  # progress on stderr
        if p.returncode != 0:
            return p.returncode
        line = p.stdout.strip().splitlines()[-1]
        with args.out.open("a") as f:
            f.write(line + "\n")
        print(line, flush=True)
    if args.markdown:
        rows = [json.loads(r) for r in args.out.read_text().splitlines() if r]
        cmd = "python benchmarks/sdot_scale.py " + " ".join(argv if argv is not None else sys.argv[1:])
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown(rows, cmd.strip()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
