"""The main job over a run directory: train the autoencoder, fit the sampler, decode, write the
report, then evaluate (``aeot run``). The stages themselves: :mod:`aeot.pipeline`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from aeot import distributed
from aeot.pipeline import sample_stage, train_ae_stage
from aeot.preflight import check_run_config
from aeot.progress import Progress
from aeot.run.config import RunConfig
from aeot.run.evaluate import RUN_HOOK_N, evaluate_run
from aeot.run.report import report_stage
from aeot.staging import staged

__all__ = ["run_pipeline"]


def run_pipeline(cfg: RunConfig, run_dir: str | Path, *, device: str = "cpu", resume: bool = False,
                 progress: Progress | None = None, evaluate: bool = True) -> dict[str, Any]:
    """The main job: train the AE, fit the sampler, decode, write the report, then evaluate.

    ``evaluate``: :func:`aeot.run.evaluate.evaluate_run` with domain-classifier features on
    ``RUN_HOOK_N`` samples, on rank 0 alone under torchrun; without a cached classifier one is trained into the cache
    for small datasets (digits, mnist-5k: seconds), else the classifier metrics are skipped
    with a note in the report naming ``aeot classifier train``.
    """
    t0 = time.perf_counter()
    check_run_config(cfg)  # e.g. --n-samples 0 fails now, not after training
    summary = train_ae_stage(cfg, run_dir, device=device, resume=resume, progress=progress)
    with staged(run_dir) as stage:  # sampler, samples, metrics and report: as one set
        summary.update(sample_stage(cfg, run_dir, device=device, progress=progress, stage=stage))
        summary["total_seconds_this_call"] = time.perf_counter() - t0
        report = distributed.on_main(report_stage, cfg, run_dir, summary, stage=stage)
    if evaluate:  # on rank 0 alone (aeot.distributed.on_main); the other ranks wait for its result
        summary["evaluation"] = distributed.on_main(evaluate_run, run_dir, n=RUN_HOOK_N, device=device,
                                                    auto_classifier=True, progress=progress)
    return {**summary, "report": str(report)}
