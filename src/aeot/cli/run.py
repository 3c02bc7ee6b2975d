"""``aeot run``, ``train-ae``, ``sample``, ``refine``, ``datasets``: the commands over one run directory
(the work is in :mod:`aeot.run.pipeline` and its stages, :mod:`aeot.run.train_ae` ...)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from aeot.cli._common import SDOT_FIELDS, TqdmProgress, add_device_option, resolve_device
from aeot.cli._launch import add_backend_option
from aeot.data import describe_datasets, list_datasets
from aeot.errors import ConfigError
from aeot.nets import list_autoencoders
from aeot.run import train_ae
from aeot.run.config import RunConfig, apply_overrides, read_run_config
from aeot.run.pipeline import refine_and_report, resample_run, run_pipeline
from aeot.run.refine import refine_config_for
from aeot.run.refine_metrics import DEFAULT_FID_N
from aeot.run.rundir import RunDir
from aeot.run.stage import StageContext
from aeot.samplers import list_samplers
from aeot.train.refine import REFINE_PRESETS
from aeot.train.refine_losses import ADV_MODES, REDUCTIONS

__all__ = ["add_run_parsers", "cmd_datasets", "cmd_refine", "cmd_run", "cmd_sample", "cmd_train_ae"]


# ----------------------------------------------------------------------------- parsers
def add_run_parsers(sub) -> None:
    """Add run, train-ae, sample, refine and datasets to the ``aeot`` sub-command parsers ``sub``."""
    p = sub.add_parser("run", help=f"the main job: train the AE, fit a latent sampler, decode, write {RunDir.REPORT}")
    _add_run_options(p, with_sampler=True)
    p.add_argument("--refine", action="store_true", help="then refine the decoder as an AE-OT-GAN generator (aeot refine)")
    p.add_argument("--refine-epochs", dest="refine_epochs", type=int, default=None,
                   help="refinement epochs (default: the dataset's preset)")
    _add_fid_options(p)
    add_backend_option(p)
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("train-ae", help="train an autoencoder into a run directory")
    _add_run_options(p, with_sampler=False)
    add_backend_option(p)
    p.set_defaults(func=cmd_train_ae)
    p = sub.add_parser("sample", help="re-fit the latent sampler of a finished run (keeps its autoencoder) and rewrite its report")
    p.add_argument("--run", "--out", dest="out", type=Path, required=True, metavar="RUN_DIR",
                   help="the run directory to re-sample, in place (--out: the older name of this option)")
    add_device_option(p)
    _add_sampler_options(p, param_help="a sampler hyperparameter, e.g. steps=2000 (JSON values; repeatable)")
    add_backend_option(p)
    p.set_defaults(func=cmd_sample)
    p = sub.add_parser("refine", help="AE-OT-GAN: train the decoder of a finished run as a GAN generator (An et al. (ECCV 2020) §3.3)")
    _add_refine_options(p)
    add_backend_option(p)
    p.set_defaults(func=cmd_refine)
    p = sub.add_parser("datasets", help="list the datasets and where each comes from")
    p.set_defaults(func=cmd_datasets)


def _add_run_options(p: argparse.ArgumentParser, *, with_sampler: bool) -> None:
    S = argparse.SUPPRESS  # options not given keep the config's value (default or --config / --resume)
    p.add_argument("--out", type=Path, default=None, help="run directory (default: runs/<data>-<command>)")
    p.add_argument("--config", type=Path, default=None,
                   help=f"start from a run config written by an earlier run ({RunDir.CONFIG}, or a copy of any name)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last checkpoint (same settings; only --epochs and "
                        "--n-samples may change); removes temporary files left by a killed run")
    add_device_option(p, help="default: cuda if available")
    g = p.add_argument_group("data")
    g.add_argument("--data", dest="data.name", default=S, choices=list_datasets(), help="dataset (default: digits)")
    g.add_argument("--data-dir", dest="data.data_dir", default=S, help="directory holding the dataset files")
    g.add_argument("--image-size", dest="data.image_size", type=int, default=S, help="digits: 8, 16 or 28")
    g.add_argument("--n-train", dest="data.n_train", type=int, default=S, help="use a subset of N training images")
    g.add_argument("--n-test", dest="data.n_test", type=int, default=S, help="use a subset of N test images")
    g = p.add_argument_group("autoencoder")
    g.add_argument("--arch", dest="model.arch", default=S, choices=list_autoencoders(),
                   help="default: by image size (28: infogan, 32: dcgan, 64: conv64, else mlp)")
    g.add_argument("--latent-dim", dest="model.latent_dim", type=int, default=S)
    g.add_argument("--width", dest="model.params.width", type=float, default=S,
                   help="channel multiplier of the convolutional architectures (default 1.0)")
    g.add_argument("--epochs", dest="train.epochs", type=int, default=S)
    g.add_argument("--batch-size", dest="train.batch_size", type=int, default=S,
                   help="images per step; under torchrun the global batch, split evenly over the processes "
                        "(a multiple of their number)")
    g.add_argument("--lr", dest="train.lr", type=float, default=S)
    g.add_argument("--seed", dest="train.seed", type=int, default=S)
    if with_sampler:
        _add_sampler_options(p, param_help="a sampler hyperparameter, e.g. steps=2000 or epsilon=0.5 "
                                           "(JSON values; repeatable)")


def _add_sampler_options(p: argparse.ArgumentParser, *, param_help: str) -> None:
    S = argparse.SUPPRESS
    g = p.add_argument_group("latent sampler", f"sdot progress bar: {SDOT_FIELDS}.")
    g.add_argument("--sampler", dest="sampler.name", default=S, choices=list_samplers())
    g.add_argument("--sampler-param", dest="sampler_param", action="append", default=S, metavar="KEY=VALUE",
                   help=param_help)
    g.add_argument("--n-samples", dest="n_samples", type=int, default=S, help="decoded samples in the report")


def _add_refine_options(p: argparse.ArgumentParser) -> None:
    S = argparse.SUPPRESS  # options not given keep the preset (or, with --resume, the saved value)
    p.add_argument("run_dir", type=Path, help="a finished run directory (aeot run)")
    p.add_argument("--resume", action="store_true", help="continue the refinement in RUN_DIR/refine")
    add_device_option(p)
    p.add_argument("--sampler", default=None, choices=list_samplers(),
                   help="fit this sampler on the run's latents (default: the run's fitted sampler)")
    p.add_argument("--sampler-param", dest="sampler_param", action="append", default=None, metavar="KEY=VALUE")
    g = p.add_argument_group("refinement (defaults: the paper's, with the dataset's preset of R, T, epochs)")
    g.add_argument("--preset", default=None, choices=sorted(REFINE_PRESETS),
                   help="start from this dataset's preset (default: the run's dataset), e.g. celeba for image-folder")
    g.add_argument("--epochs", dest="r.epochs", type=int, default=S)
    g.add_argument("--batch-size", dest="r.batch_size", type=int, default=S, help="images per fake (and real) batch; under torchrun "
                   "the global batch (a multiple of the processes)")
    g.add_argument("--ratio", dest="r.ratio", type=float, default=S, help="generated : reconstructed (paper: 3)")
    g.add_argument("--lr", dest="r.lr", type=float, default=S, help="lr_G (paper: 2e-5)")
    g.add_argument("--lr-ratio", dest="r.lr_ratio", type=float, default=S, help="R, lr_D = lr_G / R (> 1)")
    g.add_argument("--g-steps", dest="r.g_steps", type=int, default=S, help="T, generator updates per D update")
    g.add_argument("--beta", dest="r.beta", type=float, default=S, help="content loss weight (paper: 2000)")
    g.add_argument("--alpha-inner", dest="r.alpha_inner", type=float, default=S, help="inner layer weight (0.06)")
    g.add_argument("--alpha-latent", dest="r.alpha_latent", type=float, default=S, help="latent weight (2/||Z||)")
    g.add_argument("--adversarial", dest="r.adversarial", default=S, choices=ADV_MODES)
    g.add_argument("--reduction", dest="r.reduction", default=S, choices=REDUCTIONS)
    g.add_argument("--disc-arch", dest="r.disc_arch", default=S, help="discriminator (default: the AE's arch)")
    g.add_argument("--seed", dest="r.seed", type=int, default=S)
    _add_fid_options(p)


def _add_fid_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("FID per refinement epoch (domain-classifier features, as aeot evaluate)")
    g.add_argument("--no-fid", dest="fid", action="store_false", help="do not measure FID and coverage per epoch")
    g.add_argument("--fid-n", dest="fid_n", type=int, default=None,
                   help=f"generated images per epoch for FID (default {DEFAULT_FID_N}; --resume: the saved one)")


# ----------------------------------------------------------------------------- configs
def _config(args: argparse.Namespace, command: str) -> tuple[RunConfig, Path]:
    overrides = {k: v for k, v in vars(args).items() if "." in k or k == "n_samples"}
    if args.config is not None:
        base = read_run_config(args.config)  # a config.json, a copy of any name, or a run directory
    elif args.resume and args.out is not None and RunDir(args.out).config.exists():
        base = read_run_config(args.out)
    else:
        base = RunConfig()
    _sampler_overrides(base, overrides, getattr(args, "sampler_param", None))
    if "model.params.width" in overrides:
        overrides["model.params"] = {**base.model.params, "width": overrides.pop("model.params.width")}
    cfg = apply_overrides(base, overrides)
    out = args.out or Path("runs") / f"{cfg.data.name}-{command}"
    return cfg, out


def _parse_param(item: str) -> tuple[str, Any]:
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--sampler-param needs KEY=VALUE, got {item!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw  # a bare word: a string such as mode=pairs
    return key.strip(), value


def _sampler_overrides(base: RunConfig, overrides: dict[str, Any], params: list[str] | None) -> None:
    """A new --sampler starts from its own defaults; --sampler-param entries are added on top."""
    name = overrides.get("sampler.name", base.sampler.name)
    start = base.sampler.params if name == base.sampler.name else {}
    if params or name != base.sampler.name:
        overrides["sampler.params"] = {**start, **dict(_parse_param(p) for p in params or [])}


def _run_stage(args: argparse.Namespace, command: str, job):
    """Resolve the config, then run a job or stage (``job(run, config, ctx)``) with progress bars."""
    cfg, out = _config(args, command)
    progress = TqdmProgress()
    try:
        ctx = StageContext(device=resolve_device(args.device), resume=args.resume, progress=progress)
        return job(RunDir(out), cfg, ctx), out
    finally:
        progress.close()


# ----------------------------------------------------------------------------- commands
def cmd_run(args: argparse.Namespace) -> int:
    result, out = _run_stage(args, "run", run_pipeline)
    print(f"test reconstruction MSE {result.train_ae.test_mse:.5f}; {result.total_seconds_this_call:.0f} s")
    if args.refine:
        overrides = {} if args.refine_epochs is None else {"epochs": args.refine_epochs}
        result = _refine(out, overrides, device=args.device, resume=args.resume, fid=args.fid, fid_n=args.fid_n)
    print(f"report: {result.report}")
    return 0


def _refine(run_dir: Path, overrides: dict[str, Any], *, device: str, resume: bool, sampler: str | None = None,
            sampler_params: dict[str, Any] | None = None, preset: str | None = None, fid: bool = True,
            fid_n: int | None = None):
    resume = resume and RunDir(run_dir).refine.checkpoint.exists()
    cfg = refine_config_for(run_dir, overrides, resume=resume, preset=preset)
    progress = TqdmProgress()
    try:
        ctx = StageContext(device=resolve_device(device), resume=resume, progress=progress)
        result = refine_and_report(RunDir(run_dir), cfg, ctx, sampler_name=sampler, sampler_params=sampler_params,
                                   fid=fid, fid_n=fid_n)
    finally:
        progress.close()
    for row in result.refine.epoch0_vs_last:
        if row["metric"].startswith("eval_") or row["metric"] in ("fid", "classes_covered", "kl_to_real"):
            a, b = (f"{v:.5g}" if isinstance(v, (int, float)) else "-" for v in list(row.values())[1:])
            print(f"{row['metric']}: epoch 0 {a} -> last {b}")
    print(f"AE-OT-GAN refinement: {result.refine.refine_seconds_this_call:.0f} s")
    return result


def cmd_refine(args: argparse.Namespace) -> int:
    overrides = {k[2:]: v for k, v in vars(args).items() if k.startswith("r.")}
    params = dict(_parse_param(p) for p in args.sampler_param) if args.sampler_param else None
    if params is not None and args.sampler is None:
        raise ConfigError("--sampler-param needs --sampler NAME (the run's own sampler is used as fitted)")
    result = _refine(args.run_dir, overrides, device=args.device, resume=args.resume, sampler=args.sampler,
                     sampler_params=params, preset=args.preset, fid=args.fid, fid_n=args.fid_n)
    print(f"report: {result.report}")
    return 0


def cmd_train_ae(args: argparse.Namespace) -> int:
    result, out = _run_stage(args, "train-ae", train_ae.stage)
    print(f"train MSE {result.train_mse:.5f}, held-out MSE {result.test_mse:.5f}")
    print(f"autoencoder: {RunDir(out).autoencoder}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    base = read_run_config(args.out)
    overrides = {k: v for k, v in vars(args).items() if "." in k or k == "n_samples"}
    _sampler_overrides(base, overrides, getattr(args, "sampler_param", None))
    cfg = apply_overrides(base, overrides)
    progress = TqdmProgress()
    try:
        result = resample_run(RunDir(args.out), cfg, StageContext(device=resolve_device(args.device), progress=progress))
    finally:
        progress.close()
    print(f"sampler {cfg.sampler.name!r} fitted in {result.sample.sampler_fit_seconds:.1f} s")
    print(f"report: {result.report}")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    for name, text in describe_datasets().items():
        print(f"{name:15s} {text}")
    return 0
