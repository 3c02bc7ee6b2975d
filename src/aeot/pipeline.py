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
``metrics.json``, ``report.md`` the numbers and the report (``metrics.json["evaluation"]``: aeot.evaluate)
``eval_samples.png``, ``tsne_latents.png``, ``interp_latent.png``, ``interp_prior.png``  evaluation figures
"""

from __future__ import annotations

import dataclasses
import shlex
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from aeot._version import __version__
from aeot.errors import CheckpointError, ConfigError
from aeot.io import atomic_write_json, load_checkpoint, read_json_object, save_checkpoint
from aeot.nets.base import decode_in_chunks
from aeot.plots import plot_curves, save_image_grid
from aeot.preflight import check_out_dir, check_resume_matches, check_run_config
from aeot.progress import Progress, emit
from aeot.run.rundir import RunDir
from aeot.staging import Staging, remove_orphans, staged
from aeot.train.autoencoder import (
    AETrainConfig,
    encode,
    load_autoencoder,
    reconstruction_mse,
    save_autoencoder,
    train_autoencoder,
)

# Latent sizes of the papers' settings: 8 for the fully connected AE of Zhang et al. (2019) §5.1, 64 for
# the InfoGAN MNIST AE of An et al. (ECCV 2020) §4; 128 for the 32/64 px convolutional ones.
DEFAULT_LATENT = {"mlp": 8, "infogan": 64, "dcgan": 128, "resnet": 128, "conv64": 128}


@dataclass(kw_only=True)
class DataConfig:
    name: str = "digits"
    data_dir: str | None = None
    image_size: int | None = None  # digits: 8, 16 or 28 (default 28); image-folder: 32 or 64
    n_train: int | None = None  # a deterministic subset of the training split
    n_test: int | None = None


@dataclass(kw_only=True)
class ModelConfig:
    arch: str | None = None  # None: aeot.nets.default_architecture(image_shape)
    latent_dim: int | None = None  # None: DEFAULT_LATENT[arch]
    params: dict[str, Any] = field(default_factory=dict)  # e.g. {"width": 0.5}


@dataclass(kw_only=True)
class SamplerConfig:
    name: str = "sdot"  # AE-OT: semi-discrete OT + extended map (An et al. (ECCV 2020) §3.2)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: AETrainConfig = field(default_factory=AETrainConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    n_samples: int = 100  # decoded samples drawn for the report grid


# ----------------------------------------------------------------------------- config I/O
def config_from_dict(d: dict[str, Any]) -> RunConfig:
    """Rebuild a RunConfig from its ``asdict`` form, rejecting unknown keys."""
    if not isinstance(d, dict):
        raise ConfigError(f"a run config must be a JSON object of sections, got {type(d).__name__} {d!r:.40}")
    parts = {"data": DataConfig, "model": ModelConfig, "train": AETrainConfig, "sampler": SamplerConfig}
    kwargs: dict[str, Any] = {}
    for key, value in d.items():
        if key in parts:
            if not isinstance(value, dict):
                raise ConfigError(f"config section {key!r} must be a mapping, got {value!r}")
            kwargs[key] = dataclass_from_dict(parts[key], value, key)
        elif key in {f.name for f in dataclasses.fields(RunConfig)}:
            kwargs[key] = value
        else:
            raise ConfigError(f"unknown config key {key!r}; allowed: {', '.join(f.name for f in dataclasses.fields(RunConfig))}")
    return RunConfig(**kwargs)


def dataclass_from_dict(cls: type, values: dict[str, Any], section: str):
    """``cls(**values)``, refusing a key that is not a field of ``cls`` (named as ``section.key``)."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ConfigError(f"unknown key {section}.{sorted(unknown)[0]}; allowed: {', '.join(sorted(names))}")
    return cls(**values)


def apply_overrides(cfg: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """Set dotted keys (``"train.epochs"``, ``"n_samples"``) on a copy of ``cfg``."""
    d = asdict(cfg)
    for key, value in overrides.items():
        node = d
        *parents, leaf = key.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return config_from_dict(d)


def resolve_model(cfg: RunConfig, image_shape: tuple[int, ...]) -> dict[str, Any]:
    """The ``make_autoencoder`` keyword arguments for this config and image shape."""
    from aeot.nets import default_architecture

    arch = cfg.model.arch or default_architecture(tuple(image_shape))
    latent = cfg.model.latent_dim or DEFAULT_LATENT.get(arch, 64)
    return {"arch": arch, "image_shape": list(image_shape), "latent_dim": latent, **cfg.model.params}


def load_data(cfg: DataConfig, split: str):
    from aeot.data import load_dataset

    params: dict[str, Any] = {}
    if cfg.image_size is not None:
        params["image_size"] = cfg.image_size
    n = cfg.n_train if split == "train" else cfg.n_test
    ds = load_dataset(cfg.name, split=split, data_dir=cfg.data_dir, n=n, **params)
    if ds.image_shape is None:
        raise ConfigError(f"dataset {cfg.name!r} is a 2-D toy set, not images; use `aeot toy` for it")
    return ds


# ----------------------------------------------------------------------------- stages
def train_ae_stage(cfg: RunConfig, run_dir: str | Path, *, device: str = "cpu", resume: bool = False,
                   progress: Progress | None = None) -> dict[str, Any]:
    """Train the autoencoder and write its artefacts; returns a small summary dict.

    Every input is checked before a file is written (a refused ``resume`` leaves the run as it
    was); the artefacts after training are written as one set (:mod:`aeot.staging`).
    """
    from aeot.nets import make_autoencoder

    run_dir = Path(run_dir)
    ckpt = RunDir(run_dir).checkpoint
    check_run_config(cfg)
    check_out_dir(run_dir)
    if not resume and (ckpt.exists() or RunDir(run_dir).autoencoder.exists()):
        raise ConfigError(
            f"{run_dir} already holds a trained autoencoder; pass --resume to continue it or choose another --out"
        )
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
    if resume:
        remove_orphans(run_dir, subdirs=(RunDir.REFINE,))
    created = not run_dir.exists()
    write_config(run_dir, cfg, device=device, extra={"model_resolved": model_kwargs,
                                                      "data_meta": {"train": train.meta, "test": test.meta}})
    emit(progress, event="stage", stage="train-ae",
          message=f"training {model_kwargs['arch']} autoencoder (latent {model_kwargs['latent_dim']}) "
                  f"on {train.x.shape[0]} images")
    t0 = time.perf_counter()
    try:
        history = train_autoencoder(model, train.x, config=cfg.train, x_val=test.x, checkpoint=ckpt,
                                    resume=resume and ckpt.exists(), progress=progress)
    except Exception:
        if created and not ckpt.exists():  # a new run that failed before its first epoch: leave nothing
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    seconds = time.perf_counter() - t0
    with staged(run_dir) as stage:
        _write_autoencoder_outputs(stage, model, train, test, history, cfg, device)
    return {"train_mse": reconstruction_mse(model, train.x), "test_mse": reconstruction_mse(model, test.x),
            "train_seconds_this_call": seconds, "n_train": int(train.x.shape[0]), "n_test": int(test.x.shape[0])}


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
        raise CheckpointError(f"{run_dir / 'latents.safetensors'}: no codes z of shape (n, d); re-run train-ae")
    latent = (getattr(model, "config", {}) or {}).get("latent_dim")
    if latent is not None and latent != z.shape[1]:
        raise CheckpointError(f"{run_dir / 'autoencoder.safetensors'} has latent size {latent} but "
                              f"{run_dir / 'latents.safetensors'} holds codes of size {z.shape[1]}; restore the "
                              "run's own autoencoder or re-run train-ae")
    return model, z


def sample_stage(cfg: RunConfig, run_dir: str | Path, *, device: str = "cpu",
                 progress: Progress | None = None, stage: Staging | None = None) -> dict[str, Any]:
    """Fit the latent sampler on the run's codes, decode samples, write the sampler and the grid
    (into ``stage`` when given: they reach the run only with the rest of the command's set)."""
    from aeot.samplers import make_sampler, save_sampler

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
    save_sampler(where(RunDir.SAMPLER), sampler)
    save_image_grid(images, where("samples.png"), nrow=10)
    detail = sampler.describe() if hasattr(sampler, "describe") else None
    return {"sampler": cfg.sampler.name, "sampler_fit_seconds": fit_seconds, "n_samples": cfg.n_samples,
            **({"sampler_detail": detail} if detail else {})}


def report_stage(cfg: RunConfig, run_dir: str | Path, summary: dict[str, Any], *,
                 stage: Staging | None = None) -> Path:
    """Write metrics.json and report.md (as a pair: staged, or into ``stage`` when given)."""
    if stage is None:
        with staged(run_dir) as own:
            report_stage(cfg, run_dir, summary, stage=own)
        return RunDir(run_dir).report
    from aeot.report import write_report

    run_dir = Path(run_dir)
    metrics = {"aeot_version": __version__, **summary}
    atomic_write_json(stage.path(RunDir.METRICS), metrics)
    rows = [
        {"metric": "reconstruction MSE (train)", "value": summary.get("train_mse")},
        {"metric": "reconstruction MSE (held-out test split)", "value": summary.get("test_mse")},
        {"metric": "training images", "value": summary.get("n_train")},
        {"metric": "sampler", "value": summary.get("sampler")},
        *([{"metric": "sampler settings", "value": summary["sampler_detail"]}] if summary.get("sampler_detail") else []),
        {"metric": "sampler fit seconds", "value": summary.get("sampler_fit_seconds")},
    ]
    figures = [("Reconstructions (held-out: originals above, reconstructions below)", "reconstructions.png"),
               (f"Generated samples (sampler: {summary.get('sampler')})", "samples.png"),
               ("Training curve", "training_curve.png")]
    sections: list[tuple[str, str]] = []
    if summary.get("evaluation"):  # written by aeot.evaluate (aeot evaluate, or the end of aeot run)
        from aeot.eval_report import report_sections

        sections, eval_figures = report_sections(summary["evaluation"])
        figures = figures[:2] + eval_figures + figures[2:]
    title = f"aeot run: {cfg.data.name}"
    note = f"Repeat this run with `aeot run --config {shlex.quote(str(run_dir / 'config.json'))} --out NEW_DIR`."
    from aeot.train.baselines import is_baseline_run

    if is_baseline_run(run_dir):  # aeot baseline train: its own rows, no AE or sampler
        info = read_json_object(RunDir(run_dir).baseline, what="baseline record")
        b = info.get("baseline", {})
        rows = [{"metric": "baseline", "value": b.get("name")}, {"metric": "epochs", "value": b.get("epochs")},
                {"metric": "training seconds", "value": info.get("train_seconds")}]
        figures = [(f"Generated samples (baseline {b.get('name')}, prior N(0, I))", "samples.png")] + figures[2:]
        title = f"aeot baseline {b.get('name')}: {cfg.data.name}"
        note = (f"Settings in {shlex.quote(str(run_dir / 'baseline.json'))}; train another with "
                f"`aeot baseline train {b.get('name')}`.")
    figures = [f for f in figures if stage.find(f[1]).exists()]
    resolved = read_json_object(stage.find(RunDir.CONFIG), what="run config")
    from aeot.refine_run import refine_report_section

    appendix = [s for s in [refine_report_section(run_dir)] if s]  # AE-OT-GAN, when the run was refined
    write_report(run_dir, title=title, config=resolved, metrics=rows, figures=figures, sections=sections,
                 appendix=appendix, notes=[f"aeot {__version__}. {note}"], out=stage.path(RunDir.REPORT),
                 find=stage.find)
    return RunDir(run_dir).report


def run_pipeline(cfg: RunConfig, run_dir: str | Path, *, device: str = "cpu", resume: bool = False,
                 progress: Progress | None = None, evaluate: bool = True) -> dict[str, Any]:
    """The main job: train the AE, fit the sampler, decode, write the report, then evaluate.

    ``evaluate``: :func:`aeot.evaluate.evaluate_run` with domain-classifier features on
    ``RUN_HOOK_N`` samples; without a cached classifier one is trained into the cache
    for small datasets (digits, mnist-5k: seconds), else the classifier metrics are skipped
    with a note in the report naming ``aeot classifier train``.
    """
    t0 = time.perf_counter()
    check_run_config(cfg)  # e.g. --n-samples 0 fails now, not after training
    summary = train_ae_stage(cfg, run_dir, device=device, resume=resume, progress=progress)
    with staged(run_dir) as stage:  # sampler, samples, metrics and report: as one set
        summary.update(sample_stage(cfg, run_dir, device=device, progress=progress, stage=stage))
        summary["total_seconds_this_call"] = time.perf_counter() - t0
        report = report_stage(cfg, run_dir, summary, stage=stage)
    if evaluate:
        from aeot.evaluate import RUN_HOOK_N, evaluate_run

        summary["evaluation"] = evaluate_run(run_dir, n=RUN_HOOK_N, device=device, auto_classifier=True,
                                             progress=progress)
    return {**summary, "report": str(report)}


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
        write_config(run_dir, cfg, device=device, path=stage.path(RunDir.CONFIG),
                     extra={k: v for k, v in saved.items() if k not in ("aeot_version", "device", "config")})
        report_stage(cfg, run_dir, summary, stage=stage)
    return {**summary, "report": str(RunDir(run_dir).report)}


def write_config(run_dir: str | Path, cfg: RunConfig, *, device: str, extra: dict[str, Any] | None = None,
                 path: Path | None = None) -> Path:
    """``run_dir/config.json`` (or ``path``, e.g. a staged copy): the resolved config and ``extra``."""
    return atomic_write_json(path or RunDir(run_dir).config,
                             {"aeot_version": __version__, "device": device, "config": asdict(cfg), **(extra or {})})


def read_run_config(path: str | Path) -> RunConfig:
    """The RunConfig saved in a run directory's ``config.json``, or in the file ``path`` itself
    (any name: ``aeot run --config my.json``); one-line errors naming the file."""
    path = Path(path)
    file = path if path.is_file() else RunDir(path).config
    data = read_json_object(file, what="run config")
    if not isinstance(data.get("config"), dict):
        raise ConfigError(f"{file} has no 'config' object (got {data.get('config')!r:.40}); pass a config.json "
                          "written by aeot")
    try:
        cfg = config_from_dict(data["config"])
        check_run_config(cfg)
    except (ConfigError, TypeError) as e:
        raise ConfigError(f"{file}: {e}") from None
    return cfg
