"""The layout of a run directory: the one place that spells its file names.

Every stage reads and writes through a :class:`RunDir`, so the layout is defined once::

    run = RunDir("runs/demo")
    run.config          # runs/demo/config.json
    run.refine.sampler  # runs/demo/refine/sampler.safetensors (the refinement's own sampler)

The names are those every aeot version wrote, so old run directories still load.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["RunDir"]


class RunDir:
    """The files of one run directory (or of its ``refine`` subdirectory), as paths.

    Parameters
    ----------
    path : str or os.PathLike
        The run directory; nothing is created or read by the constructor.
    """

    CONFIG = "config.json"  # the resolved config (repeat the run exactly from it)
    REPORT = "report.md"
    METRICS = "metrics.json"
    HISTORY = "history.json"  # per-epoch losses
    CHECKPOINT = "checkpoint.safetensors"  # training state after the last finished epoch (--resume)
    AUTOENCODER = "autoencoder.safetensors"
    LATENTS = "latents.safetensors"  # codes z (N, d) of the training set, labels y
    SAMPLER = "sampler.safetensors"
    SAMPLER_FIT = "sampler-fit.safetensors"  # a sampler fit in progress (the sdot solve's state; a rerun resumes)
    GENERATOR = "generator.safetensors"  # the AE-OT-GAN generator (in the refine subdirectory)
    EVALUATION = "evaluation.json"  # the evaluation of the refined generator
    BASELINE = "baseline.json"  # a baseline run's record (its presence marks a baseline run)
    BASELINE_MODEL = "baseline.safetensors"
    REFINE = "refine"  # the subdirectory of `aeot refine`
    STAGE_PREFIX = ".stage-"  # hidden staging directories of a command's outputs (aeot.run.staging)

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    @property
    def config(self) -> Path:
        return self.path / self.CONFIG

    @property
    def report(self) -> Path:
        return self.path / self.REPORT

    @property
    def metrics(self) -> Path:
        return self.path / self.METRICS

    @property
    def history(self) -> Path:
        return self.path / self.HISTORY

    @property
    def checkpoint(self) -> Path:
        return self.path / self.CHECKPOINT

    @property
    def autoencoder(self) -> Path:
        return self.path / self.AUTOENCODER

    @property
    def latents(self) -> Path:
        return self.path / self.LATENTS

    @property
    def sampler(self) -> Path:
        return self.path / self.SAMPLER

    @property
    def sampler_fit(self) -> Path:
        return self.path / self.SAMPLER_FIT

    @property
    def generator(self) -> Path:
        return self.path / self.GENERATOR

    @property
    def evaluation(self) -> Path:
        return self.path / self.EVALUATION

    @property
    def baseline(self) -> Path:
        return self.path / self.BASELINE

    @property
    def baseline_model(self) -> Path:
        return self.path / self.BASELINE_MODEL

    @property
    def refine(self) -> RunDir:
        """The ``refine`` subdirectory (AE-OT-GAN), with the same file names."""
        return RunDir(self.path / self.REFINE)

    def is_baseline(self) -> bool:
        """Whether a baseline (``aeot baseline train``) wrote this run: it holds ``baseline.json``."""
        return self.baseline.is_file()
