"""The run directory and its stages: data -> autoencoder -> codes -> sampler -> decoder -> report.

Each stage reads what the previous one wrote in the run directory, so any stage can be
re-run alone. A run directory holds:

``config.json``                 the resolved config (repeat the run exactly from it)
``checkpoint.safetensors``      training state after the last finished epoch (for ``--resume``)
``autoencoder.safetensors``     the trained autoencoder (config in its JSON header)
``latents.safetensors``         codes ``z`` (N, d) of the training set, with labels ``y``
``history.json``                per-epoch train / held-out reconstruction MSE
``reconstructions.png``         held-out images (odd rows) over their reconstructions (even rows)
``training_curve.png``          the loss curves
``sampler.safetensors``         the fitted latent sampler
``samples.png``                 decoded samples
``metrics.json``, ``report.md`` the numbers and the report (``metrics.json["evaluation"]``: aeot.run.evaluate)
``eval_samples.png``, ``tsne_latents.png``, ``interp_latent.png``, ``interp_prior.png``  evaluation figures
"""

from __future__ import annotations

import shlex
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from aeot import distributed
from aeot.errors import CheckpointError, ConfigError
from aeot.io import atomic_write_json, load_checkpoint, read_json_object, save_checkpoint
from aeot.nets import make_autoencoder
from aeot.nets.base import decode_in_chunks
from aeot.plots import plot_curves, save_image_grid
from aeot.preflight import check_out_dir, check_resume_matches, check_run_config
from aeot.progress import Progress, emit
from aeot.run.config import (  # re-exported: aeot.pipeline.RunConfig & co. keep working
    DEFAULT_LATENT,
    DataConfig,
    ModelConfig,
    RunConfig,
    SamplerConfig,
    apply_overrides,
    config_from_dict,
    dataclass_from_dict,
    load_data,
    read_run_config,
    resolve_model,
    write_config,
)
from aeot.run.report import report_stage
from aeot.run.rundir import RunDir
from aeot.samplers import make_sampler, save_sampler
from aeot.staging import Staging, remove_orphans, staged
from aeot.train.autoencoder import (
    AETrainConfig,
    encode,
    load_autoencoder,
    reconstruction_mse,
    save_autoencoder,
    train_autoencoder,
)

# ----------------------------------------------------------------------------- stages
def train_ae_stage(cfg: RunConfig, run_dir: str | Path, *, device: str = "cpu", resume: bool = False,
                   progress: Progress | None = None) -> dict[str, Any]:
    """Train the autoencoder and write its artefacts; returns a small summary dict.

    Every input is checked before a file is written (a refused ``resume`` leaves the run as it
    was); the artefacts after training are written as one set (:mod:`aeot.staging`).
    """
    run_dir = Path(run_dir)
    ckpt = RunDir(run_dir).checkpoint
    check_run_config(cfg)
    check_out_dir(run_dir)
    if not resume and (ckpt.exists() or RunDir(run_dir).autoencoder.exists()):
        raise ConfigError(
            f"{run_dir} already holds a trained autoencoder; pass --resume to continue it or choose another --out"
        )
    saved: dict = {}
    if resume and RunDir(run_dir).config.is_file():
        saved = read_json_object(RunDir(run_dir).config, what="run config")
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
    if resume and distributed.is_main():
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
                                    resume=resume and ckpt.exists(), progress=progress)
    except Exception:
        if created and not ckpt.exists() and distributed.is_main():  # failed before its first epoch: leave nothing
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    seconds = time.perf_counter() - t0
    distributed.on_main(_write_autoencoder_set, run_dir, model, train, test, history, cfg, device)  # rank 0 writes
    return {"train_mse": reconstruction_mse(model, train.x), "test_mse": reconstruction_mse(model, test.x),
            "train_seconds_this_call": seconds, "n_train": int(train.x.shape[0]), "n_test": int(test.x.shape[0])}


def _write_autoencoder_set(run_dir: Path, *args) -> None:
    with staged(run_dir) as stage:
        _write_autoencoder_outputs(stage, *args)


def _write_autoencoder_outputs(stage: Staging, model, train, test, history: dict, cfg: RunConfig,
                               device: str) -> None:

    save_autoencoder(stage.path(RunDir.AUTOENCODER), model)
    z = encode(model, train.x)
    state = {"z": z.cpu()}
    if train.y is not None:
        state["y"] = train.y.cpu()
    save_checkpoint(stage.path(RunDir.LATENTS), kind="Latents", state=state,
                    config={"dataset": cfg.data.name, "split": "train"})
    atomic_write_json(stage.path(RunDir.HISTORY), history)
    orig = test.x[:32]
    with torch.no_grad():
        recon = model(orig.to(device)).cpu()
    k = min(8, orig.shape[0])  # originals row, then their reconstructions, row after row
    grid = torch.cat([torch.cat([orig[i : i + k], recon[i : i + k]]) for i in range(0, orig.shape[0] - k + 1, k)])
    save_image_grid(grid, stage.path("reconstructions.png"), nrow=k)
    plot_curves(history, stage.path("training_curve.png"), keys=["train_mse", "val_mse"],
                title="autoencoder reconstruction", ylabel="MSE per pixel", logy=True)


def load_run_codes(run_dir: Path, device: str):
    """``(autoencoder, latents)`` of a trained run, refused when they do not belong together."""
    model = load_autoencoder(RunDir(run_dir).autoencoder, device=device)
    latents, _ = load_checkpoint(RunDir(run_dir).latents, kind="Latents")
    z = latents.get("z")
    if not isinstance(z, torch.Tensor) or z.ndim != 2:
        raise CheckpointError(f"{RunDir(run_dir).latents}: no codes z of shape (n, d); re-run train-ae")
    latent = (getattr(model, "config", {}) or {}).get("latent_dim")
    if latent is not None and latent != z.shape[1]:
        raise CheckpointError(f"{RunDir(run_dir).autoencoder} has latent size {latent} but "
                              f"{RunDir(run_dir).latents} holds codes of size {z.shape[1]}; restore the "
                              "run's own autoencoder or re-run train-ae")
    return model, z


def sample_stage(cfg: RunConfig, run_dir: str | Path, *, device: str = "cpu",
                 progress: Progress | None = None, stage: Staging | None = None) -> dict[str, Any]:
    """Fit the latent sampler on the run's codes, decode samples, write the sampler and the grid
    (into ``stage`` when given: they reach the run only with the rest of the command's set)."""
    run_dir = Path(run_dir)
    check_run_config(cfg)
    model, z = load_run_codes(run_dir, device)
    z = z.to(device)
    emit(progress, event="stage", stage="sampler", message=f"fitting sampler {cfg.sampler.name!r} on {z.shape[0]} codes")
    t0 = time.perf_counter()
    sampler = make_sampler(cfg.sampler.name, **cfg.sampler.params).fit(z, progress=progress)
    fit_seconds = time.perf_counter() - t0
    z_gen = sampler.sample(cfg.n_samples)
    with torch.no_grad():
        images = decode_in_chunks(model.decode, z_gen).cpu()
    where = stage.path if stage is not None else (lambda name: run_dir / name)
    if distributed.is_main():  # every rank fitted the sampler (sdot: sharing its samples); rank 0 writes
        save_sampler(where(RunDir.SAMPLER), sampler)
        save_image_grid(images, where("samples.png"), nrow=10)
    detail = sampler.describe() if hasattr(sampler, "describe") else None
    return {"sampler": cfg.sampler.name, "sampler_fit_seconds": fit_seconds, "n_samples": cfg.n_samples,
            **({"sampler_detail": detail} if detail else {})}


def resample_run(cfg: RunConfig, run_dir: str | Path, *, device: str = "cpu",
                 progress: Progress | None = None) -> dict[str, Any]:
    """Re-run the sampler and report stages of a finished run with ``cfg``'s sampler.

    The autoencoder and latent codes stay as they are; config.json records the new sampler
    so that the run directory still describes what produced its files. The sampler, samples,
    config, metrics and report are replaced together once everything succeeded; a failure
    leaves the run exactly as it was.
    """
    run_dir = Path(run_dir)
    check_run_config(cfg)
    for name in (RunDir.CONFIG, RunDir.AUTOENCODER, RunDir.LATENTS):
        if not (run_dir / name).is_file():
            raise ConfigError(f"{run_dir} holds no {name}; train the autoencoder first "
                              f"(aeot run or aeot train-ae --out {shlex.quote(str(run_dir))})")
    check_out_dir(run_dir)
    saved = read_json_object(RunDir(run_dir).config, what="run config")
    old = read_json_object(RunDir(run_dir).metrics, what="run metrics") if RunDir(run_dir).metrics.exists() else {}
    dropped = ("sampler", "sampler_fit_seconds", "sampler_detail", "n_samples", "evaluation")
    summary = {k: v for k, v in old.items() if k not in dropped}
    with staged(run_dir) as stage:
        summary.update(sample_stage(cfg, run_dir, device=device, progress=progress, stage=stage))
        if distributed.is_main():
            write_config(run_dir, cfg, device=device, path=stage.path(RunDir.CONFIG),
                         extra={k: v for k, v in saved.items() if k not in ("aeot_version", "device", "config")})
            report_stage(cfg, run_dir, summary, stage=stage)
    return {**summary, "report": str(RunDir(run_dir).report)}


