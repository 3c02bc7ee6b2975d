"""How good must the semi-discrete solve be? AE-OT quality against the solver's tolerance (issue 20, item 4).

For each finished run (its autoencoder and latent codes) and each tolerance: the run is
copied, the sdot sampler is fitted again on the run's codes with ``tol`` (every other knob at
the sampler's defaults, seed 0), timed, scored by the independent evaluator of
benchmarks/sdot.py (fresh uniform samples of the box, ``--eval-per-cell`` per cell: the p95
and max of the relative cell-mass error), and ``aeot evaluate`` scores its decoded samples
(classifier FID at ``--n``, precision, recall, near-copies). One JSON line per (run, tol) is
appended to ``--out`` as soon as it is done (a rerun skips the finished ones); ``--markdown``
writes the table of every line.

    python benchmarks/sdot_tolerance.py runs/modes/fashion-mnist-mlp8 runs/modes/fashion-mnist-infogan64 \\
        --tols 0.5,0.3,0.2,0.1 --out benchmarks/results/sdot_tolerance.jsonl --markdown docs/benchmarks/sdot-tolerance.md
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sdot import relative_errors

from aeot.cli import main as aeot_main
from aeot.io import load_checkpoint
from aeot.run.rundir import RunDir
from aeot.samplers import save_sampler
from aeot.samplers.sdot import SDOTSampler


def one(run: Path, tol: float, n_eval: int, eval_per_cell: int) -> dict:
    out = run.parent / f"{run.name}--tol{tol:g}"
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(run, out, ignore=shutil.ignore_patterns("refine", "*--*"))
    codes = load_checkpoint(RunDir(out).latents, kind="Latents")[0]["z"]
    t0 = time.perf_counter()
    s = SDOTSampler(tol=tol, seed=0).fit(codes)
    seconds = time.perf_counter() - t0
    save_sampler(RunDir(out).sampler, s)
    r = s.result_
    low, high = float(r.low.min()), float(r.high.max())
    if float(r.low.max()) != low or float(r.high.min()) != high:
        raise SystemExit(f"{run}: the source box is not a cube; the evaluator assumes one")
    err = relative_errors(r.targets.double(), r.potential.double(), low, high, eval_per_cell * r.targets.shape[0],
                          seed=10_000)
    (out / "metrics.json").unlink(missing_ok=True)
    if aeot_main(["evaluate", str(out), "--n", str(n_eval), "--device", "cpu"]) != 0:
        raise SystemExit(f"aeot evaluate failed on {out}")
    e = json.loads((out / "metrics.json").read_text())["evaluation"]
    gen = {x["row"]: x for x in e["spaces"]["classifier"]["rows"]}["generated"]
    memo = e.get("memorization") or {}
    return {"run": str(run), "n_codes": int(codes.shape[0]), "d": int(codes.shape[1]), "tol": tol,
            "fit_seconds": seconds, "iterations": r.n_iter, "status": getattr(r, "status", None),
            "converged": bool(r.converged), "own_p95": r.errors[-1]["p95"] if r.errors else None,
            "eval_p95": err["p95"], "eval_max": err["max"], "eval_samples": eval_per_cell * r.targets.shape[0],
            "fid": gen["fid"], "precision": gen["precision"], "recall": gen["recall"], "n": gen["n"],
            "near_copies": memo.get("generated"), "latent_copies": memo.get("latent_copies"),
            "extended_map": s.describe()}


def markdown(rows: list[dict], command: str) -> str:
    lines = [f"`{command}`", "",
             "| run | n | d | tol | fit (s) | iterations | status | p95 (independent) | max | FID | precision "
             "| recall | near-copies | latent copies |",
             "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {Path(r['run']).name} | {r['n_codes']} | {r['d']} | {r['tol']:g} | {r['fit_seconds']:.0f} "
                     f"| {r['iterations']} | {r['status']} | {r['eval_p95']:.3f} | {r['eval_max']:.2f} | {r['fid']:.3f} "
                     f"| {r['precision']:.3f} | {r['recall']:.3f} | {r['near_copies']:.3f} | {r['latent_copies']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", type=Path, nargs="+", help="finished runs (autoencoder and latents.safetensors)")
    p.add_argument("--tols", default="0.5,0.3,0.2,0.1")
    p.add_argument("--n", type=int, default=5000, help="generated and real images of each evaluation")
    p.add_argument("--eval-per-cell", type=int, default=200)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/sdot_tolerance.jsonl"))
    p.add_argument("--markdown", type=Path, default=None)
    a = p.parse_args(argv)
    try:
        tols = [float(t) for t in a.tols.split(",") if t]
    except ValueError:
        tols = []
    if not tols or any(not 0 < t < 10 for t in tols) or a.n < 10 or a.eval_per_cell < 1:
        print(f"--tols must be positive numbers (got {a.tols!r}); --n >= 10, --eval-per-cell >= 1", file=sys.stderr)
        return 2
    missing = [str(r) for r in a.runs if not RunDir(r).latents.is_file()]
    if missing:
        print(f"no latents.safetensors in {missing[0]}: pass finished aeot runs", file=sys.stderr)
        return 2
    a.out.parent.mkdir(parents=True, exist_ok=True)
    done = {(r["run"], r["tol"]) for r in map(json.loads, a.out.read_text().splitlines())} if a.out.exists() else set()
    for run in a.runs:
        for tol in tols:
            if (str(run), tol) in done:
                continue
            row = one(run, tol, a.n, a.eval_per_cell)
            with a.out.open("a") as f:
                f.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)
    rows = [json.loads(line) for line in a.out.read_text().splitlines()]
    text = markdown(rows, "python benchmarks/sdot_tolerance.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    print(text)
    if a.markdown:
        a.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
