"""The train-ae stage: train the autoencoder of a run directory and write its artefacts.

Writes ``config.json`` (the resolved config), ``checkpoint.safetensors`` (after each epoch, for
``--resume``), ``autoencoder.safetensors``, ``latents.safetensors`` (codes ``z`` (N, d) of the
training set, labels ``y``), ``history.json`` (per-epoch train / held-out MSE),
``reconstructions.png`` (held-out originals over their reconstructions) and
``training_curve.png``.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from aeot import distributed
from aeot.errors import CheckpointError, ConfigError
from aeot.io import atomic_write_json, load_checkpoint, read_json_object, save_checkpoint
from aeot.nets import make_autoencoder
from aeot.plots import plot_curves, save_image_grid
from aeot.run.preflight import check_out_dir, check_resume_matches, check_run_config
from aeot.progress import emit
from aeot.run.config import RunConfig, load_data, read_run_config, resolve_model, write_config
from aeot.run.rundir import RunDir
from aeot.run.stage import StageContext, StageRecord
from aeot.run.staging import Staging, remove_orphans, staged
from aeot.train.autoencoder import encode, load_autoencoder, reconstruction_mse, save_autoencoder, train_autoencoder

__all__ = ["TrainAERecord", "load_run_codes", "stage"]


@dataclass(frozen=True)
class TrainAERecord(StageRecord):
    """Reconstruction MSE per pixel on the training and held-out images, the seconds of this call."""

    stage = "train-ae"
    train_mse: float
    test_mse: float
    train_seconds_this_call: float
    n_train: int
    n_test: int


def stage(run: RunDir, config: RunConfig, ctx: StageContext = StageContext()) -> TrainAERecord:
    """Train the autoencoder of ``config`` into ``run``.

    Every input is checked before a file is written (a refused ``ctx.resume`` leaves the run as
    it was); the artefacts after training are written as one set (:mod:`aeot.run.staging`).

    Parameters
    ----------
    run : RunDir
        The run directory (created when new).
    config : RunConfig
        Data, architecture and training settings.
    ctx : StageContext
        ``resume`` continues ``checkpoint.safetensors`` (only the epochs and the sample grid may change).

    Returns
    -------
    TrainAERecord
    """
    run = RunDir(run)
    run_dir, cfg, device, progress = run.path, config, ctx.device, ctx.progress
    ckpt = run.checkpoint
    check_run_config(cfg)
    check_out_dir(run_dir)
    if not ctx.resume and (ckpt.exists() or run.autoencoder.exists()):
        raise ConfigError(
            f"{run_dir} already holds a trained autoencoder; pass --resume to continue it or choose another --out"
        )
    saved: dict = {}
    if ctx.resume and run.config.is_file():
        saved = read_json_object(run.config, what="run config")
        check_resume_matches(asdict(read_run_config(run_dir)), saved.get("model_resolved"), asdict(cfg),
                             where=run_dir)
    emit(progress, event="stage", stage="data", message=f"loading {cfg.data.name}")
    train, test = load_data(cfg.data, "train"), load_data(cfg.data, "test")
    model_kwargs = resolve_model(cfg, train.image_shape)
    # Weight initialisation draws from torch's global RNG: seed it inside fork_rng so the
    # caller's global state is left exactly as it was.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.train.seed)
        model = make_autoencoder(**model_kwargs)  # a bad architecture setting fails here, before any write
    model = model.to(device)
    if saved:  # resumed with another number of processes: only where that is well defined
        distributed.check_resume(saved.get("distributed"), model, where=str(run_dir))
    if ctx.resume and distributed.is_main():
        remove_orphans(run_dir, subdirs=(RunDir.REFINE,))
    created = not run_dir.exists()
    distributed.on_main(write_config, run_dir, cfg, device=device, extra={
        "model_resolved": model_kwargs, "data_meta": {"train": train.meta, "test": test.meta},
        "distributed": distributed.launch_record(model)})
    emit(progress, event="stage", stage="train-ae",
         message=f"training {model_kwargs['arch']} autoencoder (latent {model_kwargs['latent_dim']}) "
                 f"on {train.x.shape[0]} images")
    t0 = time.perf_counter()
    try:
        history = train_autoencoder(model, train.x, config=cfg.train, x_val=test.x, checkpoint=ckpt,
                                    resume=ctx.resume and ckpt.exists(), progress=progress)
    except Exception:
        if created and not ckpt.exists() and distributed.is_main():  # failed before its first epoch: leave nothing
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    seconds = time.perf_counter() - t0
    distributed.on_main(_write_set, run_dir, model, train, test, history, cfg, device)  # rank 0 writes
    return TrainAERecord(train_mse=reconstruction_mse(model, train.x), test_mse=reconstruction_mse(model, test.x),
                         train_seconds_this_call=seconds, n_train=int(train.x.shape[0]),
                         n_test=int(test.x.shape[0]))


def _write_set(run_dir: Path, *args) -> None:
    with staged(run_dir) as out:
        _write_outputs(out, *args)


def _write_outputs(out: Staging, model, train, test, history: dict, cfg: RunConfig, device: str) -> None:
    save_autoencoder(out.path(RunDir.AUTOENCODER), model)
    z = encode(model, train.x)
    state = {"z": z.cpu()}
    if train.y is not None:
        state["y"] = train.y.cpu()
    save_checkpoint(out.path(RunDir.LATENTS), kind="Latents", state=state,
                    config={"dataset": cfg.data.name, "split": "train"})
    atomic_write_json(out.path(RunDir.HISTORY), history)
    orig = test.x[:32]
    with torch.no_grad():
        recon = model(orig.to(device)).cpu()
    k = min(8, orig.shape[0])  # originals row, then their reconstructions, row after row
    grid = torch.cat([torch.cat([orig[i : i + k], recon[i : i + k]]) for i in range(0, orig.shape[0] - k + 1, k)])
    save_image_grid(grid, out.path("reconstructions.png"), nrow=k)
    plot_curves(history, out.path("training_curve.png"), keys=["train_mse", "val_mse"],
                title="autoencoder reconstruction", ylabel="MSE per pixel", logy=True)


def load_run_codes(run: RunDir, device: str):
    """``(autoencoder, latents)`` of a trained run, refused when they do not belong together."""
    run = RunDir(run)
    model = load_autoencoder(run.autoencoder, device=device)
    latents, _ = load_checkpoint(run.latents, kind="Latents")
    z = latents.get("z")
    if not isinstance(z, torch.Tensor) or z.ndim != 2:
        raise CheckpointError(f"{run.latents}: no codes z of shape (n, d); re-run train-ae")
    latent = (getattr(model, "config", {}) or {}).get("latent_dim")
    if latent is not None and latent != z.shape[1]:
        raise CheckpointError(f"{run.autoencoder} has latent size {latent} but "
                              f"{run.latents} holds codes of size {z.shape[1]}; restore the "
                              "run's own autoencoder or re-run train-ae")
    return model, z
