"""The refined AE-OT-GAN generator of a run directory (``refine/generator.safetensors``)."""

from __future__ import annotations

from pathlib import Path

import torch

from aeot.io import load_checkpoint, load_module_state
from aeot.nets import make_autoencoder
from aeot.run.rundir import RunDir

__all__ = ["GENERATOR_KIND", "load_generator"]

GENERATOR_KIND = "Generator"


def load_generator(run_dir: str | Path, *, device: str = "cpu") -> torch.nn.Module:
    """The refined generator of ``run_dir`` (a decoder module, eval mode)."""
    path = RunDir(run_dir).refine.generator
    state, meta = load_checkpoint(path, kind=GENERATOR_KIND)
    dec = make_autoencoder(**meta["config"]).decoder
    load_module_state(dec, state, path=path, what="generator")
    return dec.to(device).eval()
