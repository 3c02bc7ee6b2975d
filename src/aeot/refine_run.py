"""The refine stage of a run directory: AE-OT-GAN on top of a finished AE-OT run.

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

:func:`refine_report_section` gives the Markdown the run's report shows for it.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aeot import distributed
from aeot._version import __version__
from aeot.errors import ConfigError
from aeot.io import atomic_write_bytes, atomic_write_json, load_checkpoint, read_json, save_checkpoint
from aeot.plots import image_grid, save_figure
from aeot.progress import emit
from aeot.run.config import dataclass_from_dict, load_data, read_run_config
from aeot.run.generator import GENERATOR_KIND, load_generator
from aeot.run.refine_metrics import DEFAULT_FID_N, check_fid_n, fid_callback_for_run
from aeot.run.report import refine_report_section, report_stage
from aeot.run.rundir import RunDir
from aeot.samplers import load_sampler, make_sampler, save_sampler
from aeot.train.autoencoder import load_autoencoder
from aeot.train.refine import REFINE_PRESETS, EpochCallback, RefineConfig, refine_generator

__all__ = ["GENERATOR_KIND", "load_generator", "refine_and_report", "refine_config_for", "refine_report_section",
           "refine_stage"]

REFINE_DIR = RunDir.REFINE  # kept for callers; the layout is RunDir's
FID_LATENT_SALT = 29  # FID latents: sampler draws seeded by refine seed + this


def refine_stage(run_dir: str | Path, config: RefineConfig | None = None, *, sampler_name: str | None = None,
                 sampler_params: dict[str, Any] | None = None, device: str = "cpu", resume: bool = False,
                 progress=None, callbacks: list[EpochCallback] | tuple = (), fid: bool = True,
                 fid_n: int | None = None) -> dict[str, Any]:
    """Refine the decoder of the run in ``run_dir`` as an AE-OT-GAN generator; returns a summary.

    ``config``: ``None`` takes the preset of the run's dataset. ``sampler_name``: ``None``
    uses the run's fitted sampler; a registered name fits that sampler on the run's latents.
    ``callbacks``: more per-epoch metrics, see :class:`aeot.train.refine.EpochView`.
    ``fid``: FID, classes covered and KL to the real labels per epoch on ``fid_n`` images
    (default: the saved one when resuming, else :data:`aeot.run.refine_metrics.DEFAULT_FID_N`)
    when the dataset has a domain classifier (:func:`aeot.run.refine_metrics.fid_callback_for_run`);
    else a note in the report.
    """
    run_dir = Path(run_dir)
    out = RunDir(run_dir).refine.path
    _check_run(run_dir)
    if config is not None:
        config.validate()  # bad settings fail before anything is read or written
    ckpt = RunDir(out).checkpoint
    if not resume and (ckpt.exists() or RunDir(out).generator.exists()):
        raise ConfigError(f"{out} already holds a refinement; pass --resume to continue it or remove {out}")
    run_cfg = read_run_config(run_dir)
    if config is None:
        config = RefineConfig.for_dataset(run_cfg.data.name)
    if resume and ckpt.exists() and RunDir(out).config.exists():
        saved_cfg = read_json(RunDir(out).config, what="refine config")
        saved = saved_cfg.get("sampler", {})
        sampler_name = sampler_name or (saved.get("name") if saved.get("fitted_here") else None)
        sampler_params = sampler_params if sampler_params is not None else saved.get("params")
        fid_n = fid_n if fid_n is not None else saved_cfg.get("fid", {}).get("n")  # same latents as before
    config.validate()
    fid_n = check_fid_n(DEFAULT_FID_N if fid_n is None else fid_n)

    ae = load_autoencoder(RunDir(run_dir).autoencoder, device=device)
    if resume and ckpt.exists() and RunDir(out).config.exists():  # another number of processes: where well defined
        distributed.check_resume(read_json(RunDir(out).config).get("distributed"), ae, where=str(out))
    latents, _ = load_checkpoint(RunDir(run_dir).latents, kind="Latents")
    z = latents["z"].to(device)
    x = load_data(run_cfg.data, "train").x
    if x.shape[0] != z.shape[0]:
        raise ConfigError(f"{run_dir}: {z.shape[0]} latent codes but {x.shape[0]} training images; "
                          "the dataset changed since the run, re-run it")
    emit(progress, event="stage", stage="data", message=f"{x.shape[0]} training pairs of {run_cfg.data.name}")
    if sampler_name is None:
        if not RunDir(run_dir).sampler.is_file():
            raise ConfigError(f"{run_dir} holds no fitted {RunDir.SAMPLER}; fit one (aeot sample --out {run_dir}) "
                              "or pass --sampler NAME")
        sampler = load_sampler(RunDir(run_dir).sampler, device=device)
        sampler_info = {"name": sampler.name, "params": sampler.get_params(), "fitted_here": False}
    else:
        emit(progress, event="stage", stage="sampler", message=f"fitting sampler {sampler_name!r} on {z.shape[0]} codes")
        sampler = make_sampler(sampler_name, **(sampler_params or {})).fit(z, progress=progress)
        distributed.on_main(save_sampler, RunDir(out).sampler, sampler)
        sampler_info = {"name": sampler_name, "params": sampler.get_params(), "fitted_here": True}
    fid_info: dict[str, Any] = {"note": "FID per epoch turned off (--no-fid)"}
    if fid:
        emit(progress, event="stage", stage="fid", message=f"FID per epoch: classifier of {run_cfg.data.name}")
        gen = torch.Generator(device=sampler.device_).manual_seed(config.seed + FID_LATENT_SALT)
        z_fid = sampler.sample(fid_n, generator=gen)  # (fid_n, d): the same latents at every epoch
        fid_cb, fid_info = distributed.main_only(fid_callback_for_run, run_dir, n=fid_n, device=device, latents=z_fid,
                                                 progress=progress) or (None, {})  # rank 0 measures FID
        callbacks = [*([fid_cb] if fid_cb is not None else []), *callbacks]
    distributed.on_main(atomic_write_json, RunDir(out).config, {
        "aeot_version": __version__, "device": device, "refine": asdict(config), "sampler": sampler_info,
        "dataset": run_cfg.data.name, "fid": fid_info, "distributed": distributed.launch_record(ae)})
    emit(progress, event="stage", stage="refine",
          message=f"AE-OT-GAN: {config.epochs} epochs, R={config.lr_ratio:g}, T={config.g_steps}, "
                  f"lr_G={config.lr:g}, sampler {sampler_info['name']!r}")
    t0 = time.perf_counter()
    res = refine_generator(ae, sampler, x, z, config=config, checkpoint=ckpt, resume=resume and ckpt.exists(),
                           progress=progress, callbacks=callbacks)
    seconds = time.perf_counter() - t0
    return distributed.on_main(_write_refine_outputs, out, ae, res, config, sampler, sampler_info, device, seconds)


def _write_refine_outputs(out: Path, ae, res, config: RefineConfig, sampler, sampler_info: dict[str, Any],
                          device: str, seconds: float) -> dict[str, Any]:
    """The refinement's files in ``out`` (rank 0 under torchrun); returns the summary."""
    save_checkpoint(RunDir(out).generator, kind=GENERATOR_KIND, state=res.generator.state_dict(),
                    config=ae.config)
    atomic_write_json(RunDir(out).history, res.history)
    config_json = read_json(RunDir(out).config, what="refine config")
    atomic_write_json(RunDir(out).config, {**config_json, "alpha_latent_used": res.alpha_latent})

    plot_refine_curves(res.history, out / "curves.png")
    plot_evolution(res.evolution_rec, res.history["epoch"], out / "evolution_reconstructions.png",
                   truth=res.panel_real, title="reconstructions g(z_i) across epochs (last row: x_i)")
    plot_evolution(res.evolution_gen, res.history["epoch"], out / "evolution_samples.png",
                   title="generated g(T~(w)) across epochs")
    gen = torch.Generator(device=sampler.device_).manual_seed(config.seed + 17)
    zs = sampler.sample(64, generator=gen).to(device)
    with torch.no_grad():
        before, after = ae.decoder.eval()(zs).cpu(), res.generator.eval()(zs).cpu()
    save_side_by_side(before, after, out / "aeot_vs_aeotgan.png")
    metrics = compare_epochs(res.history)
    summary = {"refine_epochs": config.epochs, "refine_seconds_this_call": seconds, "sampler": sampler_info["name"],
               "alpha_latent": res.alpha_latent, "epoch0_vs_last": metrics}
    atomic_write_json(RunDir(out).metrics, summary)
    return summary


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


def refine_and_report(run_dir: str | Path, config: RefineConfig | None = None, **kwargs: Any) -> dict[str, Any]:
    """:func:`refine_stage`, then rewrite the run's report.md with the AE-OT vs AE-OT-GAN section."""
    summary = refine_stage(run_dir, config, **kwargs)
    metrics_path = RunDir(run_dir).metrics
    base = read_json(metrics_path, what="run metrics") if metrics_path.is_file() else {}
    base = {k: v for k, v in base.items() if k != "aeot_version"}
    report = distributed.on_main(report_stage, read_run_config(run_dir), run_dir, base)
    return {**summary, "report": str(report)}


# ----------------------------------------------------------------------------- numbers
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


# ----------------------------------------------------------------------------- figures
def plot_refine_curves(history: dict[str, list], path: str | Path) -> Path:
    """Fig. 5 of the paper: (a) content loss, (b) feature loss, (c) mean D outputs, (d) FID (if any)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = history["epoch"]
    extra = [k for k in history if k.lower().startswith("fid")]
    panels = [("(a) content loss L_img", ["content_loss", "eval_content_loss"]),
              ("(b) feature loss L_feat", ["feature_loss", "eval_feature_loss"]),
              ("(c) discriminator output", ["d_real", "d_fake"]),
              ("(d) FID" if extra else "(d) adversarial losses", extra or ["adv_loss", "d_loss"])]
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.2))
    for ax, (title, keys) in zip(axes, panels):
        for k in keys:
            ys = [math.nan if v is None else float(v) for v in history.get(k, [])]
            if any(math.isfinite(v) for v in ys):
                ax.plot(ep[: len(ys)], ys, marker="o", markersize=3, label=k)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return save_figure(fig, path)


def _select_epochs(n_rows: int, max_rows: int = 8) -> list[int]:
    if n_rows <= max_rows:
        return list(range(n_rows))
    return sorted({round(i * (n_rows - 1) / (max_rows - 1)) for i in range(max_rows)})


def plot_evolution(frames: torch.Tensor, epochs: list[int], path: str | Path, *, truth: torch.Tensor | None = None,
                   title: str = "") -> Path:
    """Rows of images at up to 8 epochs (frames: (E+1, k, C, H, W)), labelled; ``truth`` as the last row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _select_epochs(frames.shape[0])
    images = [frames[r] for r in rows] + ([truth] if truth is not None else [])
    labels = [f"epoch {epochs[r]}" for r in rows] + (["ground truth"] if truth is not None else [])
    k = frames.shape[1]
    grid = image_grid(torch.cat(images), nrow=k)  # (H', W', C) uint8
    fig, ax = plt.subplots(figsize=(1.0 * k + 1.2, 1.0 * len(images) + 0.6))
    ax.imshow(grid[..., 0] if grid.shape[2] == 1 else grid, cmap="gray", vmin=0, vmax=255)
    h = frames.shape[-2] + 2
    ax.set_yticks([2 + h * i + frames.shape[-2] / 2 for i in range(len(images))], labels, fontsize=8)
    ax.set_xticks([])
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)


def save_side_by_side(left: torch.Tensor, right: torch.Tensor, path: str | Path) -> Path:
    """Two 8-column grids of the same latents: AE-OT decoder (left) | AE-OT-GAN generator (right)."""
    import io

    from PIL import Image


    a, b = image_grid(left, nrow=8), image_grid(right, nrow=8)
    gap = np.full((a.shape[0], 12, a.shape[2]), 128, dtype=np.uint8)
    arr = np.concatenate([a, gap, b], axis=1)
    img = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
    img = img.resize((img.width * 2, img.height * 2), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return atomic_write_bytes(path, buf.getvalue())


