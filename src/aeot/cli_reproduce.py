"""``aeot reproduce DATASET``: the parser and the command (the work is in :mod:`aeot.reproduce`)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def add_reproduce_parser(sub) -> None:
    from aeot.reproduce import PRESETS

    p = sub.add_parser("reproduce", help="the papers' image tables: every sampler, AE-OT-GAN and the baselines, "
                       "evaluated alike, into table.md")
    p.add_argument("dataset", choices=sorted(PRESETS), help="digits (quick), fashion-mnist, mnist, mnist-5k")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--budget", dest="preset", action="store_const", const="budget",
                   help="(default) settings that fit 15 min (digits) / 60 min (the others) on 2 CPU cores")
    g.add_argument("--full", dest="preset", action="store_const", const="full",
                   help="the papers' epochs and steps (for a GPU)")
    p.add_argument("--out", type=Path, default=None, help="output directory (default runs/reproduce-DATASET-PRESET); "
                   "a rerun reuses the stages already done")
    p.add_argument("--n-eval", dest="n_eval", type=int, default=None, help="generated images per row")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.set_defaults(func=cmd_reproduce, preset=None)


def cmd_reproduce(args: argparse.Namespace) -> int:
    from aeot.cli import TqdmProgress, resolve_device
    from aeot.reproduce import preset_config, reproduce

    preset = args.preset or "budget"
    overrides = {k: getattr(args, k) for k in ("n_eval", "seed") if getattr(args, k) is not None}
    cfg = preset_config(args.dataset, preset, **overrides)
    out = args.out or Path("runs") / f"reproduce-{args.dataset}-{preset}"
    command = "aeot " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else f"aeot reproduce {args.dataset}"
    progress = TqdmProgress()
    try:
        results = reproduce(cfg, out, device=resolve_device(args.device), command=command, progress=progress)
    finally:
        progress.close()
    print((out / "table.md").read_text().split("\n\n")[1])
    for t in results["targets"]:
        print(f"target: {t['target']}: {t['measured']} -> {'met' if t['met'] else 'NOT met'}")
    print(f"{results['stage_seconds_total']:.0f} s over all stages; table: {out / 'table.md'}; "
          f"results: {out / 'results.json'}")
    return 0
