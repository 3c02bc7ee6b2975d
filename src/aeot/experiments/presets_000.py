"""``aeot reproduce cifar10 | celeba | celeba-hq --data-dir DIR``: An et al. (000)'s colour tables.

AE-OT-GAN (An et al., "AE-OT-GAN: Training GANs from data specific latent distribution", ECCV
2020) §4 reports Inception FIDs on CIFAR-10 and CelebA (Table 1: the "standard" and "ResNet"
architectures; its AE-OT row is the decoder at epoch 0 of the refinement) and on CelebA-HQ at
256 px (Table 2). Zhang et al. (004) §5.2 adds a CelebA table of non-adversarial models on the
autoencoder of AE-OT. A preset here runs, for each architecture column:

1. ``ae-<column>``: the autoencoder (``cifar10``: SNGAN's standard ``dcgan`` and ``resnet`` at
   32 px; ``celeba``: WGAN-div's DCGAN ``conv64`` and ResNet ``resnet64`` at 64 px;
   ``celeba-hq``: ``conv256`` at 256 px);
2. ``sdot-<column>``: the AE-OT sampler (semi-discrete OT + extended map) on its codes;
3. ``refine-<column>``: AE-OT-GAN with R and T of §4 (:data:`aeot.train.refine.REFINE_PRESETS`),
   the discriminator of the same architecture, spectral norm only where the paper's networks
   have it (SNGAN's; not WGAN-div's);
4. ``celeba`` only, 004's rows on the standard autoencoder: ``aeot-<sampler>`` (AE-OTgen,
   AE-OTtrans, Liu et al.'s AE-OT) and ``baseline-<name>`` (VAE, WAE-MMD);
5. ``eval-<row>``: :func:`aeot.run.evaluate.evaluate_run` of every row, Inception features
   (``features="inception"``) on ``n_eval`` generated images against the same real test images.

Stages are those of :mod:`aeot.experiments.stages` (a rerun reuses what is done); then
:mod:`aeot.experiments.presets_000_table` writes ``results.json``, ``table.md`` and ``grids/``
with the papers' numbers beside ours.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aeot import distributed
from aeot._validation import check_int, check_positive_int
from aeot.errors import ConfigError
from aeot.evaluation.evaluator import check_features
from aeot.evaluation.rows import FLOOR_PEER, FLOOR_ROW
from aeot.experiments.presets_000_table import (
    EPOCH0_ROW,
    REFINED_ROW,
    PaperResult,
    write_paper_outputs,
)
from aeot.experiments.reproduce import BASELINE_ROWS, PRESET_NAMES, SAMPLER_ROWS
from aeot.experiments.stages import (
    Stages,
    first_difference,
    fit_sampler_stage,
    jsonable,
    stage_seconds,
    train_autoencoder_stage,
)
from aeot.io import atomic_write_json, read_json
from aeot.metrics.inception import DEFAULT_RESIZE, check_resize, load_inception
from aeot.progress import Progress
from aeot.run import baseline, refine
from aeot.run.config import DataConfig, ModelConfig, RunConfig, SamplerConfig
from aeot.run.evaluate import evaluate_run
from aeot.run.rundir import RunDir
from aeot.run.stage import StageContext
from aeot.train.autoencoder import AETrainConfig
from aeot.train.baselines import BaselineConfig
from aeot.train.refine import RefineConfig

__all__ = ["PAPER_DATASETS", "PAPER_PRESETS", "PaperPresetConfig", "PaperResult", "paper_preset_config",
           "reproduce_paper"]

# The dataset each preset reads, its image size and where --data-dir points.
PAPER_DATASETS: dict[str, dict[str, Any]] = {
    "cifar10": {"data": "cifar10", "image_size": None, "expects": "the CIFAR-10 python batches "
                "(data_batch_1..5 and test_batch, or cifar-10-batches-py/)"},
    "celeba": {"data": "image-folder", "image_size": 64, "expects": "CelebA's images, e.g. img_align_celeba/"},
    "celeba-hq": {"data": "image-folder", "image_size": 256, "expects": "CelebA-HQ's images (any size, square)"},
}
# Architecture columns of 000 Table 1 (Table 2 has one network) -> registered architecture.
PAPER_ARCHS = {"cifar10": {"standard": "dcgan", "resnet": "resnet"},
               "celeba": {"standard": "conv64", "resnet": "resnet64"},
               "celeba-hq": {"256 px": "conv256"}}
# Spectral norm in the discriminator: SNGAN's networks (CIFAR-10) have it, WGAN-div's (CelebA) do not.
PAPER_SPECTRAL_NORM = {"cifar10": True, "celeba": False, "celeba-hq": False}

# The semi-discrete solve: the budget stops at p95 mass error 0.3 within 60 iterations; --full solves
# to p95 0.3 (tol_max 1.5) with the sample budget that follows n, as `aeot reproduce mnist --full`
# (docs/sdot-scale.md §4 measured no change of FID between tol 0.5 and 0.1).
SDOT_BUDGET = {"tol": 0.3, "tol_max": 1.0, "max_samples": 1 << 20, "max_iter": 60}
SDOT_FULL = {"tol": 0.3, "tol_max": 1.5}
# 004 §5.2 (CelebA): the mapping networks of its MNIST runs (10K steps, §5.1), batch 4096 (an exact
# 4096 x 4096 assignment at every AE-OTgen step: hours, the slowest stage of the celeba preset).
SAMPLERS_004_FULL = {name: {"steps": 10000, "batch_size": 4096} for name in ("otgen", "ottrans", "kantorovich")}
SAMPLERS_004_BUDGET = {"otgen": {"steps": 1000}, "ottrans": {"steps": 1000}, "kantorovich": {"steps": 1000}}

# Presets. "full": 000 §4's 500 AE-OT-GAN epochs on every training image, Inception FID on 10,000
# generated images against up to 10,000 real test images (000 states no sample size; 10,000 is the
# CIFAR-10 test split; CelebA-HQ's test split is 3,000 images, the cap). The autoencoder's epochs
# are not in 000: 100 is our choice, as `aeot reproduce mnist --full`. "budget": a CPU-sized smoke
# run (a subset, half-width networks, a few epochs, Inception FID on 200 images); its numbers say
# that the pipeline works, not what the paper measured.
_BUDGET = dict(n_train=2000, width=0.5, ae_epochs=5, sampler=SDOT_BUDGET, refine_epochs=2, n_eval=200)
_FULL = dict(n_train=None, width=1.0, ae_epochs=100, sampler=SDOT_FULL, refine_epochs=500, n_eval=10000)
PAPER_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    name: {"budget": dict(_BUDGET), "full": dict(_FULL)} for name in PAPER_DATASETS
}
PAPER_PRESETS["celeba"]["budget"].update(samplers_004=SAMPLERS_004_BUDGET,
                                         baselines_004={"vae": {"epochs": 5}, "wae-mmd": {"epochs": 5}})
PAPER_PRESETS["celeba"]["full"].update(samplers_004=SAMPLERS_004_FULL,
                                       baselines_004={"vae": {"epochs": 100}, "wae-mmd": {"epochs": 100}})
PAPER_PRESETS["celeba-hq"]["budget"].update(n_train=500, ae_epochs=3, refine_epochs=1, n_eval=100)
BASELINES_004 = ("vae", "wae-mmd")


@dataclass(kw_only=True)
class PaperPresetConfig:
    """Everything one 000 preset run does; :func:`paper_preset_config` fills it.

    ``archs``: Table column -> registered architecture; ``width``: their channel multiplier
    (1.0: the papers' networks); ``sampler``: the AE-OT sampler's parameters; ``refine``:
    :class:`~aeot.train.refine.RefineConfig` fields over the dataset's preset (R, T of §4);
    ``spectral_norm``: of the discriminator; ``samplers_004`` / ``baselines_004``: 004's CelebA
    rows on the first column's autoencoder; ``features``: ``"inception"`` (FID) or
    ``"classifier"`` (no FID for colour sets: latent metrics only, for tests); ``n_eval``:
    generated images per row and the cap on real test images; ``inception_resize``: how images
    reach Inception's 299 px (:mod:`aeot.metrics.inception`).
    """

    dataset: str
    preset: str
    data_dir: str
    archs: dict[str, str] = field(default_factory=dict)
    n_train: int | None = None
    width: float = 1.0
    latent_dim: int = 128
    ae_epochs: int = 100
    ae_batch_size: int = 128
    sampler: dict[str, Any] = field(default_factory=dict)
    refine_epochs: int = 500
    refine: dict[str, Any] = field(default_factory=dict)
    spectral_norm: bool = False
    samplers_004: dict[str, dict[str, Any]] = field(default_factory=dict)
    baselines_004: dict[str, dict[str, Any]] = field(default_factory=dict)
    features: str = "inception"
    inception_weights: str | None = None
    inception_resize: str = DEFAULT_RESIZE
    n_eval: int = 10000
    seed: int = 0

    def validate(self) -> None:
        if self.dataset not in PAPER_DATASETS:
            raise ConfigError(f"000 presets exist for {', '.join(PAPER_DATASETS)}, got dataset {self.dataset!r}")
        for name in ("ae_epochs", "ae_batch_size", "refine_epochs", "latent_dim"):
            check_positive_int(f"reproduce {name}", getattr(self, name))
        check_int("reproduce n_eval", self.n_eval, low=20, what="an int >= 20 (the halves of the floor)")
        if self.n_train is not None:
            check_int("reproduce n_train", self.n_train, low=20, what="an int >= 20 or None (all)")
        check_features(self.features)
        check_resize(self.inception_resize)
        if not self.archs:
            raise ConfigError("reproduce archs: at least one architecture column is needed")
        unknown = (set(self.samplers_004) - set(SAMPLER_ROWS)) | (set(self.baselines_004) - set(BASELINES_004))
        if unknown:
            raise ConfigError(f"reproduce: unknown 004 row {sorted(unknown)[0]!r}; samplers: "
                              f"{', '.join(SAMPLER_ROWS)}; baselines: {', '.join(BASELINES_004)}")


def check_data_dir(dataset: str, data_dir: str | Path | None) -> Path:
    """``data_dir`` as an absolute path, or a one-line :class:`ConfigError` saying what to pass."""
    expects = PAPER_DATASETS[dataset]["expects"]
    if data_dir is None or str(data_dir) == "":
        raise ConfigError(f"aeot reproduce {dataset} needs --data-dir DIR: a directory holding {expects}")
    path = Path(data_dir).expanduser().resolve()
    if not path.is_dir():
        raise ConfigError(f"--data-dir {str(data_dir)!r}: not a directory; pass a directory holding {expects}")
    if next(path.iterdir(), None) is None:
        raise ConfigError(f"--data-dir {str(data_dir)!r} is empty; pass a directory holding {expects}")
    return path


def paper_preset_config(dataset: str, preset: str = "budget", *, data_dir: str | Path | None,
                        **overrides: Any) -> PaperPresetConfig:
    """The :class:`PaperPresetConfig` of ``dataset`` under ``preset`` ("budget" or "full"), then ``overrides``."""
    if dataset not in PAPER_PRESETS:
        raise ConfigError(f"000 presets exist for {', '.join(PAPER_PRESETS)}, got dataset {dataset!r}")
    if preset not in PRESET_NAMES:
        raise ConfigError(f"reproduce preset must be one of {', '.join(PRESET_NAMES)}, got {preset!r}")
    values = {"archs": dict(PAPER_ARCHS[dataset]), "spectral_norm": PAPER_SPECTRAL_NORM[dataset],
              **PAPER_PRESETS[dataset][preset], **overrides}
    cfg = PaperPresetConfig(dataset=dataset, preset=preset, data_dir=str(check_data_dir(dataset, data_dir)), **values)
    cfg.validate()
    return cfg


# ----------------------------------------------------------------------------- stages
def _resize_key(cfg: PaperPresetConfig) -> dict[str, str]:
    """The resize convention in an evaluation stage's key; absent for the default, so that the
    stages of a directory made before the option stay valid."""
    return {} if cfg.inception_resize == DEFAULT_RESIZE else {"inception_resize": cfg.inception_resize}


def _run_config(cfg: PaperPresetConfig, arch: str, *, sampler: str = "sdot",
                sampler_params: dict[str, Any] | None = None) -> RunConfig:
    spec = PAPER_DATASETS[cfg.dataset]
    return RunConfig(data=DataConfig(name=spec["data"], data_dir=cfg.data_dir, n_train=cfg.n_train,
                                     image_size=spec["image_size"]),
                     model=ModelConfig(arch=arch, latent_dim=cfg.latent_dim, params={"width": cfg.width}),
                     train=AETrainConfig(epochs=cfg.ae_epochs, batch_size=cfg.ae_batch_size, seed=cfg.seed),
                     sampler=SamplerConfig(name=sampler, params=dict(sampler_params or {})))


def refine_config(cfg: PaperPresetConfig) -> RefineConfig:
    """AE-OT-GAN's settings: 000 §4 (R, T of the dataset), the preset's epochs and discriminator."""
    rcfg = RefineConfig.for_dataset(cfg.dataset, epochs=cfg.refine_epochs, seed=cfg.seed,
                                    disc_params={"spectral_norm": cfg.spectral_norm}, **cfg.refine)
    rcfg.validate()
    return rcfg


def _refine(rcfg: RefineConfig, run_dir: Path, device: str, progress: Progress | None) -> dict[str, Any]:
    run = RunDir(run_dir)
    resume = run.refine.checkpoint.exists()
    if not resume and run.refine.path.exists():  # a cut-off attempt before its first checkpoint
        distributed.on_main(shutil.rmtree, run.refine.path)
    # no FID per epoch: it needs a domain classifier, and colour sets have none
    res = refine.stage(run, rcfg, StageContext(device=device, resume=resume, progress=progress), fid=False)
    return {"refine_seconds": res.refine_seconds_this_call, "epochs": rcfg.epochs, "lr_ratio": rcfg.lr_ratio,
            "g_steps": rcfg.g_steps}


def _baseline(cfg: PaperPresetConfig, name: str, spec: dict[str, Any], arch: str, run_dir: Path, device: str,
              progress: Progress | None) -> dict[str, Any]:
    run_cfg = _run_config(cfg, arch)
    bcfg = BaselineConfig(name=name, epochs=spec["epochs"], seed=cfg.seed, preset=spec.get("preset"))
    record = baseline.stage(RunDir(run_dir), run_cfg, StageContext(device=device, resume=run_dir.exists(),
                                                                   progress=progress), baseline=bcfg)
    return {"arch": arch, "epochs": spec["epochs"], "train_seconds": record.train_seconds}


def _evaluate(cfg: PaperPresetConfig, run_dir: Path, generator: str, device: str,
              progress: Progress | None) -> dict[str, Any]:
    ev = evaluate_run(run_dir, features=cfg.features, n=cfg.n_eval, inception_weights=cfg.inception_weights,
                      inception_resize=cfg.inception_resize, device=device, seed=cfg.seed, auto_classifier=True, generator=generator, progress=progress)
    space = ev["spaces"].get("inception") or {}
    rows = {r["row"]: r for r in space.get("rows", [])}
    keep = ("fid", "precision", "recall", "kid", "n")
    out_dir = RunDir(run_dir).refine.path if generator == "refined" else run_dir
    return {"generated": {k: rows.get("generated", {}).get(k) for k in keep},
            "floor": {k: rows.get(FLOOR_ROW, {}).get(k) for k in keep},
            "at_floor_n": {k: rows.get(FLOOR_PEER, {}).get(k) for k in keep},
            "n_real": ev["n_real"], "n_fake": ev["n_fake"], "inception": space.get("weights"),
            "notes": ev.get("notes", []), "samples": str(out_dir / ev["figures"]["samples"]),
            "latent_ot": (ev["latent"].get("generated") or {}).get("ot_divergence")}


def reproduce_paper(cfg: PaperPresetConfig, out: str | Path, *, device: str = "cpu", command: str = "",
                    progress: Progress | None = None) -> PaperResult:
    """Run (or reuse) every stage of ``cfg`` into ``out``; write results.json, table.md, grids/."""
    cfg.validate()
    out = Path(out)
    saved_cfg = out / "reproduce.json"
    settings = jsonable(asdict(cfg))
    if saved_cfg.is_file():
        old = read_json(saved_cfg, what="reproduce config").get("config") or {}
        old.setdefault("inception_resize", DEFAULT_RESIZE)  # a directory made before the option: the default
        if old != settings:
            raise ConfigError(f"{out} holds a reproduction with other settings ({first_difference(old, settings)}); "
                              f"use another --out, or the same preset and options as before")
    if cfg.features == "inception":
        distributed.on_main(load_inception, cfg.inception_weights)  # a missing network fails now, not after training
    distributed.on_main(atomic_write_json, saved_cfg, {"config": asdict(cfg), "command": command})
    st = Stages(out, progress)
    t_start = time.perf_counter()
    stages: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    rcfg = refine_config(cfg)
    for column, arch in cfg.archs.items():
        run_cfg = _run_config(cfg, arch, sampler_params=cfg.sampler)
        d = out / f"ae-{_slug(column)}"
        ae, sdot, ref = (f"{k}-{_slug(column)}" for k in ("ae", "sdot", "refine"))
        stages[ae] = st.run(ae, asdict(run_cfg), lambda: train_autoencoder_stage(run_cfg, d, device, progress))
        stages[sdot] = st.run(sdot, {"sampler": "sdot", "params": cfg.sampler},
                              lambda: fit_sampler_stage(run_cfg, d, d, device, progress))
        stages[ref] = st.run(ref, asdict(rcfg), lambda: _refine(rcfg, d, device, progress))
        times = {"autoencoder": stages[ae]["train_seconds"], "sampler": stages[sdot]["fit_seconds"]}
        common = {"column": column, "arch": arch, "dir": d, "latent_map": stages[sdot].get("latent_map")}
        rows.append({**common, "row": EPOCH0_ROW, "generator": "decoder", "train_seconds": times})
        rows.append({**common, "row": REFINED_ROW, "generator": "refined",
                     "train_seconds": {**times, "refine": stages[ref]["refine_seconds"]}})

    column, arch = next(iter(cfg.archs.items()))  # 004's rows: on the standard autoencoder
    ae_dir, ae_name = out / f"ae-{_slug(column)}", f"ae-{_slug(column)}"
    for name, params in cfg.samplers_004.items():
        run_cfg = _run_config(cfg, arch, sampler=name, sampler_params=params)
        d = out / f"aeot-{name}"
        stages[d.name] = st.run(d.name, {"sampler": name, "params": params, "autoencoder": ae_name},
                                lambda: fit_sampler_stage(run_cfg, ae_dir, d, device, progress))
        rows.append({"column": column, "arch": arch, "dir": d, "row": SAMPLER_ROWS[name], "generator": "decoder",
                     "table": "004", "train_seconds": {"autoencoder": stages[ae_name]["train_seconds"],
                                                       "sampler": stages[d.name]["fit_seconds"]}})
    for name, spec in cfg.baselines_004.items():
        d = out / f"baseline-{name}"
        stages[d.name] = st.run(d.name, {"name": name, "arch": arch, **spec},
                                lambda: _baseline(cfg, name, spec, arch, d, device, progress))
        rows.append({"column": column, "arch": arch, "dir": d, "row": BASELINE_ROWS[name], "generator": "decoder",
                     "table": "004", "train_seconds": {"training": stages[d.name]["train_seconds"]}})

    for row in rows:
        key = "eval-" + row["dir"].name + ("-refined" if row["generator"] == "refined" else "")
        row["metrics"] = st.run(key, {"n_eval": cfg.n_eval, "seed": cfg.seed, "features": cfg.features,
                                      "inception_weights": cfg.inception_weights, **_resize_key(cfg)},
                                lambda: distributed.on_main(_evaluate, cfg, row["dir"], row["generator"], device,
                                                            progress))
    wall = time.perf_counter() - t_start
    return distributed.on_main(write_paper_outputs, cfg, out, rows, stages, seconds=stage_seconds(out),
                               command=command, device=device, wall_this_call=wall,
                               refine=asdict(rcfg))


def _slug(column: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in column.lower()).strip("-")
