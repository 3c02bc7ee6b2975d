"""The refine stage: AE-OT-GAN on top of a finished AE-OT run (An et al., "AE-OT-GAN: Training
GANs from data specific latent distribution", ECCV 2020, §3.3).

Reads ``autoencoder.safetensors``, ``latents.safetensors`` and ``sampler.safetensors`` of the
run (or fits another registered sampler on its latents), trains the generator
(:func:`aeot.train.refine.refine_generator`) and writes into ``RUN_DIR/refine/``:

``config.json``                  the resolved RefineConfig, the sampler and alpha_L used
``checkpoint.safetensors``       networks, optimizers, history after the last epoch (``--resume``)
``generator.safetensors``        the refined decoder (rebuild with the autoencoder config in its header)
``sampler.safetensors``          only when a sampler other than the run's was fitted
``history.json``                 per-epoch losses, D outputs and callback metrics (epoch 0 = the decoder)
``curves.png``                   content loss, feature loss, D(real)/D(fake), FID if present (Fig. 5)
``evolution_reconstructions.png`` g(z_i) across epochs, ground truth last (Fig. 6)
``evolution_samples.png``        g(T~(w)) for fixed generated latents across epochs (Fig. 7)
``aeot_vs_aeotgan.png``          the same latents decoded by the decoder (left) and the generator (right)
``metrics.json``                 epoch 0 against the last epoch

The run's report shows it (:func:`aeot.run.report.refine_report_section`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from aeot import distributed
from aeot._version import __version__
from aeot.errors import ConfigError
from aeot.io import atomic_write_json, load_checkpoint, read_json, save_checkpoint
from aeot.progress import emit
from aeot.run.config import dataclass_from_dict, load_data, read_run_config
from aeot.run.generator import GENERATOR_KIND
from aeot.run.refine_figures import plot_evolution, plot_refine_curves, save_side_by_side
from aeot.run.refine_metrics import DEFAULT_FID_N, check_fid_n, fid_callback_for_data
from aeot.run.rundir import RunDir
from aeot.run.stage import StageContext, StageRecord
from aeot.samplers import load_sampler, make_sampler, save_sampler
from aeot.train.autoencoder import load_autoencoder
from aeot.train.refine import REFINE_PRESETS, EpochCallback, RefineConfig, refine_generator

__all__ = ["FID_LATENT_SALT", "RefineRecord", "compare_epochs", "refine_config_for", "stage"]

FID_LATENT_SALT = 29  # FID latents: sampler draws seeded by refine seed + this
SIDE_BY_SIDE_SALT = 17  # aeot_vs_aeotgan.png: sampler draws seeded by refine seed + this


@dataclass(frozen=True)
class RefineRecord(StageRecord):
    """What ``refine/metrics.json`` holds: epochs, seconds of this call, the sampler, alpha_L used,
    and epoch 0 (AE-OT) against the last epoch (AE-OT-GAN) for every measured column."""

    stage = "refine"
    refine_epochs: int
    refine_seconds_this_call: float
    sampler: str
    alpha_latent: float
    epoch0_vs_last: list[dict[str, Any]]


def stage(run: RunDir, config: RefineConfig | None = None, ctx: StageContext = StageContext(), *,
          sampler_name: str | None = None, sampler_params: dict[str, Any] | None = None,
          callbacks: list[EpochCallback] | tuple = (), fid: bool = True, fid_n: int | None = None) -> RefineRecord:
    """Refine the decoder of the run ``run`` as an AE-OT-GAN generator.

    Parameters
    ----------
    run : RunDir
        A finished AE-OT run (autoencoder, codes, and a sampler unless ``sampler_name`` is given).
    config : RefineConfig, optional
        ``None`` takes the preset of the run's dataset.
    ctx : StageContext
        ``resume`` continues ``refine/checkpoint.safetensors``.
    sampler_name, sampler_params
        ``None`` uses the run's fitted sampler; a registered name fits that sampler on the run's latents.
    callbacks
        More per-epoch metrics, see :class:`aeot.train.refine.EpochView`.
    fid : bool
        FID, classes covered and KL to the real labels per epoch on ``fid_n`` images (default:
        the saved one when resuming, else :data:`aeot.evaluation.DEFAULT_FID_N`) when the
        dataset has a domain classifier (:func:`aeot.run.refine_metrics.fid_callback_for_data`);
        else a note in the report.
    fid_n : int, optional

    Returns
    -------
    RefineRecord
    """
    run = RunDir(run)
    run_dir, out, device, resume, progress = run.path, run.refine.path, ctx.device, ctx.resume, ctx.progress
    _check_run(run_dir)
    if config is not None:
        config.validate()  # bad settings fail before anything is read or written
    ckpt = run.refine.checkpoint
    if not resume and (ckpt.exists() or run.refine.generator.exists()):
        raise ConfigError(f"{out} already holds a refinement; pass --resume to continue it or remove {out}")
    run_cfg = read_run_config(run_dir)
    if config is None:
        config = RefineConfig.for_dataset(run_cfg.data.name)
    if resume and ckpt.exists() and run.refine.config.exists():
        saved_cfg = read_json(run.refine.config, what="refine config")
        saved = saved_cfg.get("sampler", {})
        sampler_name = sampler_name or (saved.get("name") if saved.get("fitted_here") else None)
        sampler_params = sampler_params if sampler_params is not None else saved.get("params")
        fid_n = fid_n if fid_n is not None else saved_cfg.get("fid", {}).get("n")  # same latents as before
    config.validate()
    fid_n = check_fid_n(DEFAULT_FID_N if fid_n is None else fid_n)

    ae = load_autoencoder(run.autoencoder, device=device)
    if resume and ckpt.exists() and run.refine.config.exists():  # another number of processes: where well defined
        distributed.check_resume(read_json(run.refine.config).get("distributed"), ae, where=str(out))
    latents, _ = load_checkpoint(run.latents, kind="Latents")
    z = latents["z"].to(device)
    x = load_data(run_cfg.data, "train").x
    if x.shape[0] != z.shape[0]:
        raise ConfigError(f"{run_dir}: {z.shape[0]} latent codes but {x.shape[0]} training images; "
                          "the dataset changed since the run, re-run it")
    emit(progress, event="stage", stage="data", message=f"{x.shape[0]} training pairs of {run_cfg.data.name}")
    if sampler_name is None:
        if not run.sampler.is_file():
            raise ConfigError(f"{run_dir} holds no fitted {RunDir.SAMPLER}; fit one (aeot sample --out {run_dir}) "
                              "or pass --sampler NAME")
        sampler = load_sampler(run.sampler, device=device)
        sampler_info = {"name": sampler.name, "params": sampler.get_params(), "fitted_here": False}
    else:
        emit(progress, event="stage", stage="sampler", message=f"fitting sampler {sampler_name!r} on {z.shape[0]} codes")
        sampler = make_sampler(sampler_name, **(sampler_params or {})).fit(z, progress=progress,
                                                                           checkpoint=run.refine.sampler_fit)
        distributed.on_main(save_sampler, run.refine.sampler, sampler)
        if distributed.is_main():
            run.refine.sampler_fit.unlink(missing_ok=True)  # saved: its fit state is done with
        sampler_info = {"name": sampler_name, "params": sampler.get_params(), "fitted_here": True}
    fid_info: dict[str, Any] = {"note": "FID per epoch turned off (--no-fid)"}
    if fid:
        emit(progress, event="stage", stage="fid", message=f"FID per epoch: classifier of {run_cfg.data.name}")
        gen = torch.Generator(device=sampler.device_).manual_seed(config.seed + FID_LATENT_SALT)
        z_fid = sampler.sample(fid_n, generator=gen)  # (fid_n, d): the same latents at every epoch
        fid_cb, fid_info = distributed.main_only(fid_callback_for_data, run_cfg.data, n=fid_n, device=device,
                                                 latents=z_fid, progress=progress) or (None, {})  # rank 0 measures
        callbacks = [*([fid_cb] if fid_cb is not None else []), *callbacks]
    distributed.on_main(atomic_write_json, run.refine.config, {
        "aeot_version": __version__, "device": device, "refine": asdict(config), "sampler": sampler_info,
        "dataset": run_cfg.data.name, "fid": fid_info, "distributed": distributed.launch_record(ae)})
    emit(progress, event="stage", stage="refine",
         message=f"AE-OT-GAN: {config.epochs} epochs, R={config.lr_ratio:g}, T={config.g_steps}, "
                 f"lr_G={config.lr:g}, sampler {sampler_info['name']!r}")
    t0 = time.perf_counter()
    res = refine_generator(ae, sampler, x, z, config=config, checkpoint=ckpt, resume=resume and ckpt.exists(),
                           progress=progress, callbacks=callbacks)
    seconds = time.perf_counter() - t0
    return distributed.on_main(_write_outputs, run, ae, res, config, sampler, sampler_info, device, seconds)


def _write_outputs(run: RunDir, ae, res, config: RefineConfig, sampler, sampler_info: dict[str, Any],
                   device: str, seconds: float) -> RefineRecord:
    """The refinement's files in ``RUN_DIR/refine`` (rank 0 under torchrun); returns the record."""
    out = run.refine.path
    save_checkpoint(run.refine.generator, kind=GENERATOR_KIND, state=res.generator.state_dict(), config=ae.config)
    atomic_write_json(run.refine.history, res.history)
    config_json = read_json(run.refine.config, what="refine config")
    atomic_write_json(run.refine.config, {**config_json, "alpha_latent_used": res.alpha_latent})

    plot_refine_curves(res.history, out / "curves.png")
    plot_evolution(res.evolution_rec, res.history["epoch"], out / "evolution_reconstructions.png",
                   truth=res.panel_real, title="reconstructions g(z_i) across epochs (last row: x_i)")
    plot_evolution(res.evolution_gen, res.history["epoch"], out / "evolution_samples.png",
                   title="generated g(T~(w)) across epochs")
    gen = torch.Generator(device=sampler.device_).manual_seed(config.seed + SIDE_BY_SIDE_SALT)
    zs = sampler.sample(64, generator=gen).to(device)
    with torch.no_grad():
        before, after = ae.decoder.eval()(zs).cpu(), res.generator.eval()(zs).cpu()
    save_side_by_side(before, after, out / "aeot_vs_aeotgan.png")
    record = RefineRecord(refine_epochs=config.epochs, refine_seconds_this_call=seconds, sampler=sampler_info["name"],
                          alpha_latent=res.alpha_latent, epoch0_vs_last=compare_epochs(res.history))
    atomic_write_json(run.refine.metrics, record.metrics())
    return record


def _check_run(run_dir: Path) -> None:
    for name in (RunDir.CONFIG, RunDir.AUTOENCODER, RunDir.LATENTS):
        if not (run_dir / name).is_file():
            raise ConfigError(f"{run_dir} holds no {name}; train the run first (aeot run --out {run_dir})")


def refine_config_for(run_dir: str | Path, overrides: dict[str, Any] | None = None, *,
                      resume: bool = False, preset: str | None = None) -> RefineConfig:
    """The refine config of a run: the saved one when resuming, else the preset (default: the
    run's dataset name, e.g. ``preset="celeba"`` for an image-folder run of CelebA); then ``overrides``."""
    if preset is not None and preset not in REFINE_PRESETS:
        raise ConfigError(f"unknown refine preset {preset!r}; choose one of {', '.join(sorted(REFINE_PRESETS))}")
    _check_run(Path(run_dir))
    saved = RunDir(run_dir).refine.config
    if resume and saved.is_file():
        values = dict(read_json(saved, what="refine config").get("refine", {}))
    else:
        values = asdict(RefineConfig.for_dataset(preset or read_run_config(run_dir).data.name))
    values.update(overrides or {})
    if isinstance(values.get("adam_betas"), list):
        values["adam_betas"] = tuple(values["adam_betas"])
    cfg = dataclass_from_dict(RefineConfig, values, "refine")
    cfg.validate()
    return cfg


def compare_epochs(history: dict[str, list]) -> list[dict[str, Any]]:
    """Rows ``{"metric", "AE-OT (epoch 0)", "AE-OT-GAN (epoch E)"}`` for the evaluated columns.

    Every column that has a value at epoch 0 (the evaluation panel and callback metrics)
    is compared; the discriminator outputs exist only from epoch 1 and show their last value.
    """
    last = history["epoch"][-1]
    rows = []
    for k, col in history.items():
        if k in ("epoch", "seconds") or not col:
            continue
        first = col[0]
        rows.append({"metric": k, "AE-OT (epoch 0)": first, f"AE-OT-GAN (epoch {last})": col[-1]})
    return rows
