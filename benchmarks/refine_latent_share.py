"""Share of an AE-OT-GAN refinement epoch spent drawing latents (issue 19, item 2).

Copies a finished run, optionally switches its sdot sampler's extended-map mode, runs
``aeot refine --epochs E --no-fid`` on the copy in this process with the sampler class's
``sample`` timed, and prints one JSON line: the refinement's wall time, the seconds inside
``sample`` (every latent the refiner draws: the training batches and the fixed panels),
and their ratio. The run itself is never modified.

    python benchmarks/refine_latent_share.py runs/modes/fashion-mnist-infogan64 --modes paper,pyomt-pairs
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from aeot.cli import main as aeot_main
from aeot.ot.extended import MODES
from aeot.samplers import load_sampler, save_sampler
from aeot.samplers.sdot import SDOTSampler


def measure(run: Path, mode: str | None, epochs: int, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / run.name
        shutil.copytree(run, copy, ignore=shutil.ignore_patterns("refine"))
        s = load_sampler(copy / "sampler.safetensors")
        if mode is not None:
            if not isinstance(s, SDOTSampler):
                raise SystemExit(f"--modes needs an sdot run; {run} has sampler {s.name!r}")
            s.mode = mode  # the epsilon fitted for the run's mode is kept: only the map changes
            save_sampler(copy / "sampler.safetensors", s)
        spent = {"seconds": 0.0, "calls": 0, "latents": 0}
        original = type(s).sample

        def timed(self, n, *args, **kwargs):
            t0 = time.perf_counter()
            out = original(self, n, *args, **kwargs)
            spent["seconds"] += time.perf_counter() - t0
            spent["calls"] += 1
            spent["latents"] += int(n)
            return out

        type(s).sample = timed
        try:
            t0 = time.perf_counter()
            code = aeot_main(["refine", str(copy), "--epochs", str(epochs), "--seed", str(seed), "--no-fid",
                              "--device", "cpu"])
            total = time.perf_counter() - t0
        finally:
            type(s).sample = original
        if code != 0:
            raise SystemExit(f"aeot refine failed on the copy of {run} (exit {code})")
    return {"run": str(run), "mode": mode or getattr(s, "mode_", s.name), "epochs": epochs,
            "refine_seconds": total, "sample_seconds": spent["seconds"], "sample_calls": spent["calls"],
            "latents": spent["latents"], "share": spent["seconds"] / total}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="a finished run with sampler.safetensors")
    p.add_argument("--modes", default="", help="sdot extended-map modes to compare (default: the run's own)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    modes = [m for m in a.modes.split(",") if m] or [None]
    if any(m not in MODES for m in modes if m) or a.epochs < 1 or not (a.run / "sampler.safetensors").is_file():
        print(f"need a run directory with sampler.safetensors, --epochs >= 1 and modes among {', '.join(MODES)}",
              file=sys.stderr)
        return 2
    rows = []
    for mode in modes:
        rows.append(measure(a.run, mode, a.epochs, a.seed))
        print(json.dumps(rows[-1]), flush=True)
    print("| run | mode | epochs | refine s | sampling s | calls | latents | share |\n|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['run']} | {r['mode']} | {r['epochs']} | {r['refine_seconds']:.1f} | {r['sample_seconds']:.2f} "
              f"| {r['sample_calls']} | {r['latents']} | {r['share']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
