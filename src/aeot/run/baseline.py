"""A baseline generative model in a run directory: train it (:func:`stage`, or :func:`train_baseline`
with plain arguments), load it back.

    cfg = BaselineConfig(name="wae-mmd", epochs=10)
    train_baseline("runs/wae", cfg, RunConfig(data=DataConfig(name="fashion-mnist")))
    model = load_baseline("runs/wae")                 # eval mode
    x = model.generate(100, generator=torch.Generator().manual_seed(0))   # (100, C, H, W) in [0, 1]

:func:`train_baseline` writes into the run directory:

``config.json``              the RunConfig (as :mod:`aeot.run.config` writes it; ``read_run_config`` works)
``checkpoint.safetensors``   every network, optimizer and the history after the last epoch (resume)
``baseline.safetensors``     the final encoder (vae, wae-mmd) and decoder / generator, their config in the header
``baseline.json``            the resolved BaselineConfig, aeot version, ``train_seconds`` (all invocations)
``history.json``             per-epoch losses and seconds
``training_curve.png``       the losses per epoch
``samples.png``              a 10x10 grid of generated images

The model, its networks and training: :mod:`aeot.train.baselines`, :mod:`aeot.train.baseline_training`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from aeot import distributed
from aeot._version import __version__
from aeot.errors import CheckpointError, ConfigError
from aeot.io import atomic_write_json, load_checkpoint, load_module_state, read_json, save_checkpoint
from aeot.plots import plot_curves, save_image_grid
from aeot.progress import Progress, emit
from aeot.run.config import RunConfig, load_data, resolve_model, write_config
from aeot.run.rundir import RunDir
from aeot.run.stage import StageContext, StageRecord
from aeot.train.baseline_training import (
    BASELINES,
    HISTORY_KEYS,
    BaselineConfig,
    build_networks,
    checkpoint_epoch,
    make_optimizers,
    train_epochs,
)
from aeot.train.baselines import BASELINE_KIND, BaselineModel

__all__ = ["BaselineConfig", "BaselineRecord", "is_baseline_run", "load_baseline", "stage", "train_baseline"]

SAMPLE_SALT = 11  # samples.png: latents drawn with seed + this


def is_baseline_run(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` was written by :func:`train_baseline` (it holds ``baseline.json``)."""
    return RunDir(run_dir).is_baseline()


def load_baseline(run_dir: str | Path, *, device: torch.device | str = "cpu") -> BaselineModel:
    """The trained baseline of ``run_dir``, in eval mode; :class:`CheckpointError` if there is none."""
    run_dir = Path(run_dir)
    if not is_baseline_run(run_dir):
        raise CheckpointError(f"{run_dir} is not a baseline run (no {RunDir.BASELINE}); train one with "
                              f"`aeot baseline train NAME --out {run_dir}`")
    path = RunDir(run_dir).baseline_model
    state, meta = load_checkpoint(path, kind=BASELINE_KIND)
    cfg = meta["config"]
    if cfg.get("name") not in BASELINES or not isinstance(cfg.get("model"), dict):
        raise CheckpointError(f"{path}: no baseline name and networks in its header; re-run aeot baseline train")
    try:
        nets = build_networks(cfg["name"], cfg["model"], seed=0, critic=False)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: cannot rebuild the {cfg['name']} networks from its config ({e})") from None
    for k, m in nets.items():
        load_module_state(m, state.get(k, {}), path=path, what=k)
    return BaselineModel(cfg["name"], nets, cfg["model"]).to(device).eval()


@dataclass(frozen=True)
class BaselineRecord(StageRecord):
    """What training a baseline did (``baseline.json`` holds all but ``train_seconds_this_call``)."""

    stage: ClassVar[str] = "baseline"
    baseline: dict[str, Any]  # the resolved BaselineConfig
    model: dict[str, Any]  # the resolved architecture
    device: str
    n_train: int
    epochs_done: int
    train_seconds: float  # all invocations
    final: dict[str, Any]  # the last epoch's losses
    train_seconds_this_call: float = 0.0

    def summary(self) -> dict[str, Any]:
        """``baseline.json``: the record without this call's seconds, with the aeot version first."""
        return {"aeot_version": __version__, **{k: v for k, v in self.metrics().items() if k != "train_seconds_this_call"}}


def stage(run: RunDir, config: RunConfig, ctx: StageContext = StageContext(), *,
          baseline: BaselineConfig) -> BaselineRecord:
    """Train baseline ``baseline.name`` on ``config.data``'s training images into ``run``.

    Parameters
    ----------
    run : RunDir
        The run directory (created when new).
    config : RunConfig
        The data, and the architecture in ``model`` (``arch`` None = by image size,
        ``latent_dim`` None = the architecture's default).
    ctx : StageContext
        ``resume`` continues from ``checkpoint.safetensors`` (a fresh start when there is none);
        a finished run returns its record at once.
    baseline : BaselineConfig
        Which baseline and its training settings.

    Returns
    -------
    BaselineRecord
    """
    cfg = baseline.resolved()
    run = RunDir(run)
    run_dir, run_config, device, progress = run.path, config, ctx.device, ctx.progress
    ckpt = run.checkpoint
    if not ctx.resume and (ckpt.exists() or run.baseline_model.exists()):
        raise ConfigError(f"{run_dir} already holds a baseline; pass --resume to continue it or choose another --out")
    resume = ctx.resume and ckpt.exists()
    if resume and run.baseline.exists() and checkpoint_epoch(ckpt) >= cfg.epochs:
        done = read_json(run.baseline, what="baseline summary")
        if done.get("baseline") == json.loads(json.dumps(asdict(cfg))):  # else train_epochs checks the settings
            return BaselineRecord(**{f.name: done[f.name] for f in fields(BaselineRecord)
                                     if f.name != "train_seconds_this_call"})
    emit(progress, event="stage", stage="data", message=f"loading {run_config.data.name}")
    train = load_data(run_config.data, "train")
    model = json.loads(json.dumps(resolve_model(run_config, train.image_shape)))  # JSON types, as saved
    nets = build_networks(cfg.name, model, seed=cfg.seed, disc_params=cfg.disc_params).to(device)
    opts = make_optimizers(cfg.name, nets, cfg)
    if resume and run.config.is_file():  # another number of processes: only where well defined
        distributed.check_resume(read_json(run.config).get("distributed"), nets, where=str(run_dir))
    distributed.on_main(write_config, run_dir, run_config, device=str(device), extra={
        "model_resolved": model, "data_meta": {"train": train.meta}, "baseline": asdict(cfg),
        "distributed": distributed.launch_record(nets)})
    emit(progress, event="stage", stage=f"baseline-{cfg.name}",
         message=f"training {cfg.name} on {model['arch']} networks (latent {model['latent_dim']}) with "
                 f"{train.x.shape[0]} images, {cfg.epochs} epochs")
    t0 = time.perf_counter()
    history = train_epochs(nets, opts, train.x.to(device), cfg, model=model, checkpoint=ckpt, resume=resume,
                           progress=progress)
    seconds = time.perf_counter() - t0
    return distributed.on_main(_write_outputs, run_dir, cfg, model, nets, history, train, device, seconds)


def train_baseline(run_dir: str | Path, config: BaselineConfig, run_config: RunConfig, *, device: str = "cpu",
                   resume: bool = False, progress: Progress | None = None) -> dict[str, Any]:
    """:func:`stage` with plain arguments, its record as a dict (the library's one-call form)."""
    ctx = StageContext(device=str(device), resume=resume, progress=progress)
    return stage(RunDir(run_dir), run_config, ctx, baseline=config).metrics()


def _write_outputs(run_dir: Path, cfg: BaselineConfig, model: dict[str, Any], nets: nn.ModuleDict,
                   history: dict[str, list], train, device: str, seconds: float) -> BaselineRecord:
    """The trained baseline's files (rank 0 under torchrun); returns the record."""
    run = RunDir(run_dir)
    final = {k: v for k, v in nets.items() if k != "discriminator"}
    save_checkpoint(run.baseline_model, kind=BASELINE_KIND,
                    state={k: m.state_dict() for k, m in final.items()}, config={"name": cfg.name, "model": model})
    atomic_write_json(run.history, history)
    plot_curves(history, run_dir / "training_curve.png", keys=list(HISTORY_KEYS[cfg.name]),
                title=f"{cfg.name} training", ylabel="loss per batch (mean over the epoch)")
    baseline = BaselineModel(cfg.name, nn.ModuleDict(final), model).eval()
    images = baseline.generate(cfg.n_samples, generator=torch.Generator().manual_seed(cfg.seed + SAMPLE_SALT))
    save_image_grid(images.cpu(), run_dir / "samples.png", nrow=10)
    record = BaselineRecord(baseline=asdict(cfg), model=model, device=str(device), n_train=int(train.x.shape[0]),
                            epochs_done=len(history["epoch"]), train_seconds=float(sum(history["seconds"])),
                            final={k: history[k][-1] for k in HISTORY_KEYS[cfg.name]},
                            train_seconds_this_call=seconds)
    atomic_write_json(run.baseline, record.summary())
    return record
