"""Where evaluation artefacts live between runs: ``$AEOT_CACHE``, else ``~/.cache/aeot``.

``classifiers/<dataset>.safetensors`` (+ ``.json``)  domain classifiers (``aeot classifier train``)
``features/<key>.safetensors``                       real-image features, keyed by dataset, split,
                                                    image size, n, variant and network SHA-1
A cache entry is never trusted across networks: the key holds the network's checksum, so a
retrained classifier or another Inception file gets its own entries. Delete the folder to clear it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

import torch

from aeot.io import load_checkpoint, save_checkpoint

FEATURES_KIND = "RealFeatures"


def cache_dir() -> Path:
    """``$AEOT_CACHE`` if set, else ``~/.cache/aeot``."""
    env = os.environ.get("AEOT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "aeot"


def feature_cache_key(*, dataset: str, split: str, image_size: int, n: int, variant: str, network_sha1: str) -> str:
    raw = f"{dataset}-{split}-s{image_size}-n{n}-{variant}-{network_sha1[:16]}"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", raw)


def cached_features(key: str, compute: Callable[[], dict[str, torch.Tensor]], *,
                    directory: Path | None = None) -> tuple[dict[str, torch.Tensor], bool]:
    """``compute()``'s tensors, read from ``<cache>/features/<key>.safetensors`` when present; ``(tensors, hit)``."""
    path = (directory or cache_dir()) / "features" / f"{key}.safetensors"
    if path.is_file():
        state, _ = load_checkpoint(path, kind=FEATURES_KIND)
        return state, True
    state = compute()
    save_checkpoint(path, kind=FEATURES_KIND, state=state, config={"key": key})
    return state, False
