"""The ``aeot`` command: argument parsing and progress display only; the work is in the library.

One module per command group: :mod:`aeot.cli.run` (run, train-ae, sample, refine, datasets),
:mod:`aeot.cli.reproduce` (reproduce, toy), :mod:`aeot.cli.eval` (classifier, evaluate, compare),
:mod:`aeot.cli.baseline` (baseline train); :mod:`aeot.cli._common` holds ``--device``, the
progress bars and the error handling they share.

Expected faults (aeot's errors, bad values, OS errors such as a read-only or full disk,
a diverging training) print one line and exit with status 2, without a traceback; only a
genuine bug prints a traceback (exit 1), see :func:`aeot.cli._common.run_command`.

Under ``torchrun --nproc_per_node N -m aeot ...`` the training commands run data-parallel
(:mod:`aeot.cli._launch`, docs/distributed.md).
"""

from __future__ import annotations

import argparse
import functools
import sys

from aeot._version import __version__
from aeot.cli._common import EXIT_USAGE, TqdmProgress, ignore_file_size_signal, run_command
from aeot.cli._launch import run_launched
from aeot.cli.baseline import add_baseline_parser
from aeot.cli.eval import add_eval_parsers
from aeot.cli.reproduce import add_reproduce_parser, add_toy_parser
from aeot.cli.run import add_run_parsers

__all__ = ["EXIT_USAGE", "TqdmProgress", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aeot", description="Generative models with optimal transport in an autoencoder's latent space.")
    parser.add_argument("--version", action="version", version=f"aeot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    add_run_parsers(sub)  # run, train-ae, sample, refine, datasets
    add_reproduce_parser(sub)
    add_toy_parser(sub)
    add_eval_parsers(sub)  # classifier, evaluate, compare
    add_baseline_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    ignore_file_size_signal()  # past `ulimit -f` a write fails with EFBIG: one line instead of a kill
    try:
        return run_command(functools.partial(run_launched, args.func), args)  # under torchrun: in its group
    except KeyboardInterrupt:
        again = ("run the same command again: finished stages are reused" if args.command == "reproduce"
                 else "continue with --resume")
        print(f"aeot: interrupted; finished epochs are saved, {again}", file=sys.stderr)
        return 130
