"""The sample stage: fit the latent sampler on a run's codes, decode samples.

Writes ``sampler.safetensors`` (the fitted sampler) and ``samples.png`` (decoded samples).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from aeot.nets.base import decode_in_chunks
from aeot import distributed
from aeot.plots import save_image_grid
from aeot.run.preflight import check_run_config
from aeot.progress import emit
from aeot.run.config import RunConfig
from aeot.run.rundir import RunDir
from aeot.run.stage import StageContext, StageRecord
from aeot.run.train_ae import load_run_codes
from aeot.samplers import make_sampler, save_sampler
from aeot.run.staging import Staging

__all__ = ["SampleRecord", "stage"]


@dataclass(frozen=True)
class SampleRecord(StageRecord):
    """The sampler fitted, its fit seconds, the decoded samples and the sampler's own description."""

    stage = "sample"
    optional = ("sampler_detail",)
    sampler: str
    sampler_fit_seconds: float
    n_samples: int
    sampler_detail: str | None = None


def stage(run: RunDir, config: RunConfig, ctx: StageContext = StageContext(), *,
          staging: Staging | None = None) -> SampleRecord:
    """Fit ``config.sampler`` on the codes of ``run`` and decode ``config.n_samples`` samples.

    Parameters
    ----------
    run : RunDir
        A run whose autoencoder is trained (:func:`aeot.run.train_ae.stage`).
    config : RunConfig
        Its ``sampler`` and ``n_samples`` are used.
    ctx : StageContext
        Device and progress (``resume`` has no meaning here).
    staging : Staging, optional
        Write the sampler and the grid into it: they reach the run only with the rest of the job's set.

    Returns
    -------
    SampleRecord
    """
    run = RunDir(run)
    cfg, device, progress = config, ctx.device, ctx.progress
    check_run_config(cfg)
    model, z = load_run_codes(run, device)
    z = z.to(device)
    emit(progress, event="stage", stage="sampler", message=f"fitting sampler {cfg.sampler.name!r} on {z.shape[0]} codes")
    t0 = time.perf_counter()
    # a killed fit resumes from run.sampler_fit (the sdot solve's state) on the next call
    sampler = make_sampler(cfg.sampler.name, **cfg.sampler.params).fit(z, progress=progress, checkpoint=run.sampler_fit)
    fit_seconds = time.perf_counter() - t0
    z_gen = sampler.sample(cfg.n_samples)
    with torch.no_grad():
        images = decode_in_chunks(model.decode, z_gen).cpu()
    where = staging.path if staging is not None else (lambda name: run / name)
    if distributed.is_main():  # every rank fitted the sampler (sdot: sharing its samples); rank 0 writes
        save_sampler(where(RunDir.SAMPLER), sampler)
        save_image_grid(images, where("samples.png"), nrow=10)
        run.sampler_fit.unlink(missing_ok=True)  # the fitted sampler is saved: its fit state is done with
    detail = sampler.describe() if hasattr(sampler, "describe") else None
    return SampleRecord(sampler=cfg.sampler.name, sampler_fit_seconds=fit_seconds, n_samples=cfg.n_samples,
                        sampler_detail=detail or None)
