"""Re-map one fitted AE-OT run with each extended-map mode and evaluate each (issue 19, item 5).

The semi-discrete potential is fitted once (the run's own ``sampler.safetensors``); for every
mode the run directory is copied, the sampler's mode is switched, its default epsilon is
recomputed by the same probe as in ``fit``, and ``aeot evaluate`` scores the copy at the same
n and seed. Prints a JSON line per mode and a Markdown table at the end.

    python benchmarks/extended_map_modes.py runs/modes-digits-paper --modes pyomt-pairs,plain
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch

from aeot.cli import main as aeot_main
from aeot.ot.extended import MODES, default_epsilon
from aeot.samplers import load_sampler, save_sampler


def remap(run: Path, out: Path, mode: str) -> None:
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(run, out)
    s = load_sampler(out / "sampler.safetensors")
    s.mode = mode  # the triangulation of the centres does not depend on the mode
    if s.epsilon is None:  # as SDOTSampler.fit computes it
        probe = torch.Generator(device=s.result_.low.device).manual_seed(int(s.seed) + 1)
        s.epsilon_ = default_epsilon(s.result_, s.codes_, quantile=s.epsilon_quantile, n_probe=s.n_probe,
                                     generator=probe, k=s.k, mode=s.mode_, angle=s.angle, chunk_size=s.chunk_size)
    save_sampler(out / "sampler.safetensors", s)


def row(run: Path, mode: str) -> dict:
    e = json.loads((run / "metrics.json").read_text())["evaluation"]
    gen = {r["row"]: r for r in e["spaces"]["classifier"]["rows"]}["generated"]
    m = e.get("memorization") or {}
    s = load_sampler(run / "sampler.safetensors")
    w = torch.rand(2000, s.dim_, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out = s.map_source(w)
    return {"mode": mode, "epsilon": s.epsilon_, "n": gen["n"], "fid": gen["fid"], "precision": gen["precision"],
            "recall": gen["recall"], "near_copies": m.get("generated"), "real_calibration": m.get("real"),
            "latent_copies": m.get("latent_copies"), "inside": float(out.inside.float().mean()),
            "interpolated": float(out.interpolated.float().mean())}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="a finished run whose sampler is sdot, already evaluated")
    p.add_argument("--modes", default="pyomt-pairs,plain,projection")
    p.add_argument("--n", type=int, default=1000)
    a = p.parse_args(argv)
    modes = a.modes.split(",")
    if any(m not in MODES for m in modes) or not (a.run / "sampler.safetensors").is_file():
        print(f"need a run directory with sampler.safetensors and modes among {', '.join(MODES)}", file=sys.stderr)
        return 2
    base = load_sampler(a.run / "sampler.safetensors")
    rows = [row(a.run, base.mode_)]
    print(json.dumps(rows[-1]), flush=True)
    for mode in modes:
        out = a.run.parent / f"{a.run.name}--{mode}"
        remap(a.run, out, mode)
        if aeot_main(["evaluate", str(out), "--n", str(a.n), "--device", "cpu"]) != 0:
            return 1
        rows.append(row(out, mode))
        print(json.dumps(rows[-1]), flush=True)
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in r.values()) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
