"""``aeot baseline train NAME``: the baseline generative models (VAE, WAE-MMD, GAN, WGAN-GP).

Argument parsing and progress display only; the work is :func:`aeot.run.baseline.stage`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from aeot.cli._common import TqdmProgress, add_device_option, resolve_device
from aeot.cli._launch import add_backend_option
from aeot.data import list_datasets
from aeot.nets import list_autoencoders
from aeot.run.baseline import stage as baseline_stage
from aeot.run.stage import StageContext
from aeot.run.config import DataConfig, ModelConfig, RunConfig
from aeot.run.rundir import RunDir
from aeot.train.autoencoder import AETrainConfig
from aeot.train.baselines import BASELINES, BaselineConfig

__all__ = ["BaselineProgress", "add_baseline_parser", "cmd_baseline_train"]


def add_baseline_parser(sub) -> None:
    """Add ``baseline train`` to the ``aeot`` sub-command parsers ``sub``."""
    p = sub.add_parser("baseline", help="baseline generative models on the same networks: VAE, WAE-MMD, GAN, WGAN-GP")
    bsub = p.add_subparsers(dest="baseline_command", metavar="ACTION")
    bsub.required = True
    b = bsub.add_parser("train", help="train one baseline into a run directory that aeot evaluate reads")
    b.add_argument("name", choices=BASELINES, help="the baseline")
    b.add_argument("--out", type=Path, default=None, help="run directory (default: runs/<data>-<name>)")
    b.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    add_device_option(b, help="default: cuda if available")
    g = b.add_argument_group("data")
    g.add_argument("--data", default="digits", choices=list_datasets(), help="dataset (default: digits)")
    g.add_argument("--data-dir", default=None, help="directory holding the dataset files")
    g.add_argument("--image-size", type=int, default=None, help="digits: 8, 16 or 28")
    g.add_argument("--n-train", type=int, default=None, help="use a subset of N training images")
    g = b.add_argument_group("networks (the autoencoder architecture's)")
    g.add_argument("--arch", default=None, choices=list_autoencoders(),
                   help="default: by image size (28: infogan, 32: dcgan, 64: conv64, else mlp)")
    g.add_argument("--latent-dim", type=int, default=None, help="default: the architecture's (mlp 8, infogan 64)")
    g.add_argument("--width", type=float, default=None, help="channel multiplier of the convolutional architectures")
    g = b.add_argument_group("training (defaults: the method's paper settings)")
    g.add_argument("--epochs", type=int, default=100, help="default 100")
    g.add_argument("--batch-size", type=int, default=None, help="default: vae, wae-mmd 100; gan, wgan-gp 64; under "
                   "torchrun the global batch (a multiple of the processes)")
    g.add_argument("--lr", type=float, default=None, help="Adam step (default: vae, wae-mmd 1e-3; gan 2e-4; wgan-gp 1e-4)")
    g.add_argument("--seed", type=int, default=0)
    add_backend_option(b)
    b.set_defaults(func=cmd_baseline_train)


class BaselineProgress:
    """The CLI's progress bars, plus one line per finished epoch."""

    def __init__(self) -> None:
        self.bars = TqdmProgress()

    def __call__(self, event: dict[str, Any]) -> None:
        if not self.bars.shown:  # under torchrun rank 0 alone reports
            return
        if event.get("event") == "baseline_epoch":
            losses = ", ".join(f"{k} {v:.4g}" for k, v in event.items()
                               if isinstance(v, float) and k != "seconds")
            line = f"[{event['name']}] epoch {event['epoch']}/{event['epochs']}: {losses} ({event['seconds']:.1f} s)"
            if self.bars.bar is not None:
                self.bars.bar.write(line, file=self.bars.log)
            else:
                print(line, file=self.bars.log, flush=True)
        else:
            self.bars(event)

    def close(self) -> None:
        self.bars.close()


def cmd_baseline_train(args: argparse.Namespace) -> int:
    cfg = BaselineConfig(name=args.name, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    resolved = cfg.resolved()  # bad values fail here, before any data is read
    run_cfg = RunConfig(
        data=DataConfig(name=args.data, data_dir=args.data_dir, image_size=args.image_size, n_train=args.n_train),
        model=ModelConfig(arch=args.arch, latent_dim=args.latent_dim,
                          params={} if args.width is None else {"width": args.width}),
        train=AETrainConfig(epochs=resolved.epochs, batch_size=resolved.batch_size, lr=resolved.lr,
                            seed=resolved.seed))
    out = args.out or Path("runs") / f"{args.data}-{args.name}"
    progress = BaselineProgress()
    try:
        ctx = StageContext(device=resolve_device(args.device), resume=args.resume, progress=progress)
        record = baseline_stage(RunDir(out), run_cfg, ctx, baseline=cfg)
    finally:
        progress.close()
    final = ", ".join(f"{k} {v:.4g}" for k, v in record.final.items() if isinstance(v, float))
    print(f"{args.name}: {record.epochs_done} epochs on {record.n_train} images, "
          f"{record.train_seconds:.0f} s in all; last epoch: {final}")
    print(f"run directory: {out} (samples.png, {RunDir.BASELINE_MODEL}); evaluate with `aeot evaluate {out}`")
    return 0
