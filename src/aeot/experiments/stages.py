"""Named stages of an experiment directory, run once and reused (``aeot reproduce``).

``Stages(out).run(name, settings, fn)`` runs ``fn`` unless ``out/stages/<name>.json`` records the
same settings, in which case its saved result is returned; other settings are refused with the
first key that differs. The helpers below are the stages the reproduction commands share:
training an autoencoder into a run directory (resumable) and fitting a sampler on its codes in
a run directory that shares the autoencoder's files (hard links).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from aeot import distributed
from aeot.errors import ConfigError
from aeot.io import atomic_write_json, read_json, to_json
from aeot.progress import Progress, emit_stage
from aeot.run import train_ae
from aeot.run.pipeline import resample_run
from aeot.run.rundir import RunDir
from aeot.run.stage import StageContext

__all__ = ["AE_FILES", "Stages", "first_difference", "fit_sampler_stage", "jsonable", "share_autoencoder",
           "stage_seconds", "train_autoencoder_stage"]

AE_FILES = (RunDir.AUTOENCODER, RunDir.LATENTS, RunDir.HISTORY, "reconstructions.png",
            "training_curve.png")


def jsonable(obj: Any) -> Any:
    """``obj`` as it reads back from JSON (tuples become lists), to compare saved settings."""
    return json.loads(to_json(obj))


def first_difference(old: dict[str, Any], new: dict[str, Any]) -> str:
    """The first key (sorted) whose value differs between two settings dicts."""
    return next((k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)), "?")


class Stages:
    """Runs named stages once: ``stages/<name>.json`` records settings, result and seconds."""

    def __init__(self, out: Path, progress: Progress | None):
        self.out, self.progress = out, progress
        if distributed.is_main():
            (out / "stages").mkdir(parents=True, exist_ok=True)

    def run(self, name: str, settings: dict[str, Any], fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        marker = self.out / "stages" / f"{name}.json"
        settings = jsonable(settings)
        if marker.is_file():
            saved = read_json(marker, what="stage record")
            old = saved.get("settings") or {}
            if old != settings:
                diff = first_difference(old, settings)
                raise ConfigError(f"{self.out} holds stage {name!r} made with other settings ({diff}: "
                                  f"{old.get(diff)!r} there, {settings.get(diff)!r} now); "
                                  f"use another --out or delete {marker} to redo it")
            emit_stage(self.progress, "reproduce", f"{name}: done before, reused ({saved['seconds']:.0f} s then)")
            return saved["result"]
        emit_stage(self.progress, "reproduce", f"{name}: starting")
        t0 = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - t0
        # rank 0 writes the record; every rank waits for it here, so all decide alike on the next stage
        distributed.on_main(atomic_write_json, marker, {"settings": settings, "result": result, "seconds": seconds})
        emit_stage(self.progress, "reproduce", f"{name}: done in {seconds:.0f} s")
        return result


def train_autoencoder_stage(run_cfg, run_dir: Path, device: str, progress: Progress | None) -> dict[str, Any]:
    resume = RunDir(run_dir).checkpoint.exists()
    if not resume and run_dir.exists():  # a cut-off attempt before its first checkpoint
        distributed.on_main(shutil.rmtree, run_dir)
    res = train_ae.stage(RunDir(run_dir), run_cfg, StageContext(device=device, resume=resume, progress=progress))
    return {"train_mse": res.train_mse, "test_mse": res.test_mse, "n_train": res.n_train, "n_test": res.n_test,
            "train_seconds": res.train_seconds_this_call}


def fit_sampler_stage(run_cfg, ae_dir: Path, run_dir: Path, device: str, progress: Progress | None) -> dict[str, Any]:
    """A run directory sharing ``ae_dir``'s autoencoder and codes (hard links), with ``run_cfg``'s
    sampler fitted by :func:`aeot.run.pipeline.resample_run` (what ``aeot sample`` does)."""
    distributed.on_main(share_autoencoder, ae_dir, run_dir)  # rank 0 links the files; every rank reads them
    res = resample_run(RunDir(run_dir), run_cfg, StageContext(device=device, progress=progress)).sample
    return {"sampler": res.sampler, "fit_seconds": res.sampler_fit_seconds,
            "latent_map": res.sampler_detail}  # e.g. the extended map of sdot and its epsilon


def share_autoencoder(ae_dir: Path, run_dir: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in (RunDir.CONFIG, *AE_FILES) if run_dir.resolve() != ae_dir.resolve() else ():
        if (ae_dir / name).exists():
            dst = run_dir / name
            dst.unlink(missing_ok=True)
            try:
                os.link(ae_dir / name, dst)
            except OSError:
                shutil.copy2(ae_dir / name, dst)


def stage_seconds(out: str | Path) -> dict[str, float]:
    """Seconds each finished stage of ``out`` took (from ``stages/*.json``)."""
    return {p.stem: read_json(p, what="stage record")["seconds"] for p in sorted((Path(out) / "stages").glob("*.json"))}
