"""``aeot classifier train``, ``aeot evaluate``, ``aeot compare``: parsers and commands
(the work is in :mod:`aeot.run.evaluate` and :mod:`aeot.metrics`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from aeot.cli._common import TqdmProgress, add_device_option, resolve_device
from aeot.cli._launch import add_backend_option
from aeot.data import list_datasets
from aeot.evaluation.markdown import summary_lines
from aeot.metrics.classifier import ClassifierConfig, train_dataset_classifier
from aeot.metrics.inception import DEFAULT_RESIZE, RESIZE_CONVENTIONS
from aeot.run.compare import compare_runs
from aeot.run.evaluate import evaluate_run
from aeot.run.rundir import RunDir

__all__ = ["add_eval_parsers", "cmd_classifier", "cmd_compare", "cmd_evaluate"]


def add_eval_parsers(sub) -> None:
    """aeot classifier train / evaluate / compare (issue 9: evaluation)."""
    d = ClassifierConfig()
    p = sub.add_parser("classifier", help="the domain classifier of a 28x28 grey dataset (IS, coverage, domain FID)")
    csub = p.add_subparsers(dest="classifier_command", metavar="ACTION")
    csub.required = True
    c = csub.add_parser("train", help="train it, report test accuracy, save safetensors + JSON")
    c.add_argument("--data", required=True, choices=list_datasets(), help="digits, mnist, mnist-5k or fashion-mnist")
    c.add_argument("--data-dir", default=None, help="directory holding the dataset files")
    c.add_argument("--out", type=Path, default=None, help="weights file (default: $AEOT_CACHE or "
                   "~/.cache/aeot, classifiers/<data>.safetensors, where evaluate looks)")
    c.add_argument("--epochs", type=int, default=d.epochs, help=f"default {d.epochs}")
    c.add_argument("--batch-size", type=int, default=d.batch_size,
                   help=f"default {d.batch_size}; under torchrun the global batch (a multiple of the processes)")
    c.add_argument("--lr", type=float, default=d.lr, help=f"default {d.lr}")
    c.add_argument("--seed", type=int, default=d.seed)
    add_device_option(c)
    add_backend_option(c)
    c.set_defaults(func=cmd_classifier)
    p = sub.add_parser("evaluate", help="metrics of a finished run (FID, IS, precision/recall, KID, coverage, "
                       f"latent OT) into {RunDir.METRICS} and {RunDir.REPORT}")
    p.add_argument("run_dir", type=Path, help="a run directory written by aeot run or aeot baseline train")
    p.add_argument("--generator", choices=["decoder", "refined"], default="decoder",
                   help=f"refined: the AE-OT-GAN generator of aeot refine (writes RUN_DIR/{RunDir.REFINE}/{RunDir.EVALUATION})")
    p.add_argument("--features", choices=["classifier", "inception"], default="classifier",
                   help="FID feature space (default classifier; inception needs aeot[inception])")
    p.add_argument("--n", type=int, default=None, help="generated and real images (default 5000 classifier, "
                   "500 inception; capped by the test split)")
    p.add_argument("--inception-weights", type=Path, default=None, metavar="PATH", help="your own TorchScript Inception file")
    p.add_argument("--inception-resize", default=DEFAULT_RESIZE, metavar="{" + ",".join(RESIZE_CONVENTIONS) + "}",
                   help=f"how images reach 299 px for Inception (default {DEFAULT_RESIZE}: F.interpolate; "
                   "fid-helper: that wheel's own 8-bit rounding and NVIDIA-style bilinear)")
    p.add_argument("--classifier", type=Path, default=None, metavar="PATH", help="classifier weights (default: the cached one)")
    add_device_option(p)
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("compare", help="one Markdown table of the evaluated metrics of several runs")
    p.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR")
    p.add_argument("--out", type=Path, default=Path("runs/compare.md"), help="default runs/compare.md")
    p.set_defaults(func=cmd_compare)


# ----------------------------------------------------------------------------- commands


def cmd_classifier(args: argparse.Namespace) -> int:
    cfg = ClassifierConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    progress = TqdmProgress()
    try:
        r = train_dataset_classifier(args.data, out=args.out, data_dir=args.data_dir, config=cfg,
                                     device=resolve_device(args.device), progress=progress)
    finally:
        progress.close()
    print(f"{args.data}: test accuracy {r['test_accuracy']:.4f} on {r['n_test']} images; "
          f"{r['train_seconds']:.0f} s for {cfg.epochs} epochs on {r['n_train']} images")
    print(f"classifier: {r['path']}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    progress = TqdmProgress()
    try:
        result = evaluate_run(args.run_dir, features=args.features, n=args.n, inception_weights=args.inception_weights,
                              inception_resize=args.inception_resize,
                              classifier=args.classifier, device=resolve_device(args.device), generator=args.generator,
                              progress=progress)
    finally:
        progress.close()
    for line in summary_lines(result):
        print(line)
    if args.generator == "refined":
        print(f"evaluation: {RunDir(args.run_dir).refine.evaluation}")
    else:
        run = RunDir(args.run_dir)
        print(f"metrics: {run.metrics}; report: {run.report}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    table = compare_runs(args.run_dirs, out=args.out)
    print(table, end="")
    print(f"table: {args.out}")
    return 0
