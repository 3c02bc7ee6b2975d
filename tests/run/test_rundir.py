"""RunDir spells the run-directory layout that every aeot version wrote; such a directory loads."""

from pathlib import Path

import pytest
import torch

from aeot.cli import main
from aeot.io import load_checkpoint
from aeot.run.config import read_run_config
from aeot.run import RunDir
from aeot.samplers import load_sampler
from aeot.train import load_autoencoder

# The file names on disk before RunDir existed (aeot 0.1.0); changing one breaks old runs.
HISTORICAL = {"config": "config.json", "report": "report.md", "metrics": "metrics.json",
              "history": "history.json", "checkpoint": "checkpoint.safetensors",
              "autoencoder": "autoencoder.safetensors", "latents": "latents.safetensors",
              "sampler": "sampler.safetensors", "generator": "generator.safetensors",
              "evaluation": "evaluation.json", "baseline": "baseline.json",
              "baseline_model": "baseline.safetensors"}


def test_rundir_names_are_the_historical_ones(tmp_path):
    run = RunDir(tmp_path)
    for attr, name in HISTORICAL.items():
        assert getattr(run, attr) == tmp_path / name
        assert getattr(run.refine, attr) == tmp_path / "refine" / name
    assert not run.is_baseline()


def test_a_run_directory_written_by_aeot_run_loads_through_rundir(tiny_run):
    names = {p.name for p in Path(tiny_run).iterdir()}
    assert {"config.json", "report.md", "metrics.json", "history.json", "checkpoint.safetensors",
            "autoencoder.safetensors", "latents.safetensors", "sampler.safetensors"} <= names
    run = RunDir(tiny_run)
    cfg = read_run_config(run.path)
    ae = load_autoencoder(run.autoencoder)
    z = load_checkpoint(run.latents, kind="Latents")[0]["z"]
    sampler = load_sampler(run.sampler)
    assert cfg.model.latent_dim == 4 and z.shape == (300, 4) and sampler.name == "gaussian"
    assert ae.decode(sampler.sample(3, generator=torch.Generator().manual_seed(0))).shape == (3, 1, 8, 8)
    assert main(["sample", "--run", str(tiny_run), "--sampler", "kmeans", "--device", "cpu"]) == 0
