"""The jobs over a run directory: each runs stages (:mod:`aeot.run.stage`), then writes the
report once from their records (:func:`aeot.run.report.write_report`).

``run_pipeline``   ``aeot run``: train the AE, fit the sampler, decode, report, then evaluate
``resample_run``   ``aeot sample``: re-fit the sampler of a finished run, rewrite its report
``refine_and_report``  ``aeot refine``: AE-OT-GAN on a finished run, then its report
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aeot import distributed
from aeot.errors import ConfigError
from aeot.io import read_json, read_json_object
from aeot.run.preflight import check_out_dir, check_run_config
from aeot.run import refine, sample, train_ae
from aeot.run.config import RunConfig, write_config
from aeot.run.evaluate import RUN_HOOK_N, evaluate_run
from aeot.run.report import write_report
from aeot.run.rundir import RunDir
from aeot.run.stage import StageContext
from aeot.run.staging import staged
from aeot.train.refine import RefineConfig

__all__ = ["RefineResult", "ResampleResult", "RunResult", "refine_and_report", "resample_run", "run_pipeline"]


@dataclass(frozen=True)
class RunResult:
    """What ``aeot run`` did: the stages' records, its seconds (evaluation excluded), the evaluation
    record (``None`` when not evaluated) and the report."""

    train_ae: train_ae.TrainAERecord
    sample: sample.SampleRecord
    total_seconds_this_call: float
    evaluation: dict[str, Any] | None
    report: Path


@dataclass(frozen=True)
class ResampleResult:
    """What ``aeot sample`` did: the sample stage's record and the rewritten report."""

    sample: sample.SampleRecord
    report: Path


@dataclass(frozen=True)
class RefineResult:
    """What ``aeot refine`` did: the refine stage's record and the rewritten report."""

    refine: refine.RefineRecord
    report: Path


def run_pipeline(run: RunDir, config: RunConfig, ctx: StageContext = StageContext(), *,
                 evaluate: bool = True) -> RunResult:
    """The main job: train the AE, fit the sampler, decode, write the report, then evaluate.

    Parameters
    ----------
    run : RunDir
        The run directory (new, or the one to resume with ``ctx.resume``).
    config : RunConfig
        Data, autoencoder, training and sampler settings.
    ctx : StageContext
        Device, resume, progress.
    evaluate : bool
        Then :func:`aeot.run.evaluate.evaluate_run` with domain-classifier features on
        :data:`~aeot.run.evaluate.RUN_HOOK_N` samples; without a cached classifier one is trained
        into the cache for small datasets (digits, mnist-5k: seconds), else the classifier
        metrics are skipped with a note in the report naming ``aeot classifier train``.

    Returns
    -------
    RunResult
    """
    run = RunDir(run)
    t0 = time.perf_counter()
    check_run_config(config)  # e.g. --n-samples 0 fails now, not after training
    trained = train_ae.stage(run, config, ctx)
    with staged(run.path) as staging:  # sampler and samples (and, unevaluated, metrics and report): as one set
        sampled = sample.stage(run, config, ctx, staging=staging)
        seconds = time.perf_counter() - t0
        records = (trained, sampled, {"total_seconds_this_call": seconds})
        if not evaluate:
            distributed.on_main(write_report, run, *records, staging=staging)
    evaluation = None
    if evaluate:  # metrics.json and report.md are written once, with the evaluation
        try:
            # on rank 0 alone (aeot.distributed.on_main); the other ranks wait for its result
            evaluation = distributed.on_main(evaluate_run, run.path, n=RUN_HOOK_N, device=ctx.device,
                                             auto_classifier=True, progress=ctx.progress, records=records)
        except BaseException:
            if distributed.is_main():
                write_report(run, *records)  # the run keeps its report, without the evaluation
            raise
    return RunResult(train_ae=trained, sample=sampled, total_seconds_this_call=seconds, evaluation=evaluation,
                     report=run.report)


def resample_run(run: RunDir, config: RunConfig, ctx: StageContext = StageContext()) -> ResampleResult:
    """Re-run the sampler and report of a finished run with ``config``'s sampler.

    The autoencoder and latent codes stay as they are; config.json records the new sampler
    so that the run directory still describes what produced its files. The sampler, samples,
    config, metrics and report are replaced together once everything succeeded; a failure
    leaves the run exactly as it was.
    """
    run = RunDir(run)
    run_dir = run.path
    check_run_config(config)
    for name in (RunDir.CONFIG, RunDir.AUTOENCODER, RunDir.LATENTS):
        if not (run_dir / name).is_file():
            raise ConfigError(f"{run_dir} holds no {name}; train the autoencoder first "
                              f"(aeot run or aeot train-ae --out {shlex.quote(str(run_dir))})")
    check_out_dir(run_dir)
    saved = read_json_object(run.config, what="run config")
    old = read_json_object(run.metrics, what="run metrics") if run.metrics.exists() else {}
    dropped = ("sampler", "sampler_fit_seconds", "sampler_detail", "n_samples", "evaluation")
    kept = {k: v for k, v in old.items() if k not in dropped}
    with staged(run_dir) as staging:
        sampled = sample.stage(run, config, ctx, staging=staging)
        report = run.report
        if distributed.is_main():
            write_config(run_dir, config, device=ctx.device, path=staging.path(RunDir.CONFIG),
                         extra={k: v for k, v in saved.items() if k not in ("aeot_version", "device", "config")})
            report = write_report(run, kept, sampled, staging=staging)
    return ResampleResult(sample=sampled, report=report)


def refine_and_report(run: RunDir, config: RefineConfig | None = None, ctx: StageContext = StageContext(),
                      **kwargs: Any) -> RefineResult:
    """:func:`aeot.run.refine.stage` (``kwargs``: its keyword options), then rewrite the run's
    metrics.json and report.md with the AE-OT vs AE-OT-GAN section."""
    run = RunDir(run)
    record = refine.stage(run, config, ctx, **kwargs)
    base = read_json(run.metrics, what="run metrics") if run.metrics.is_file() else {}
    base = {k: v for k, v in base.items() if k != "aeot_version"}
    return RefineResult(refine=record, report=distributed.on_main(write_report, run, base))
