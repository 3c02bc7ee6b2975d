"""The :class:`Dataset` result and the small pure helpers every loader shares.

Helpers here never touch the registry: subsets, stratified splits, seed streams,
parameter checks, data directory resolution, image resizing and file hashing.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch
import torch.nn.functional as F

from aeot._validation import check_int, check_positive_int
from aeot.errors import ConfigError, DatasetError

__all__ = [
    "Dataset",
    "SPLITS",
    "check_split",
    "md5_hex",
    "one_line",
    "resize_images",
    "resolve_data_dir",
    "split_seed",
    "stratified_split",
    "subset_indices",
    "tail_split",
]

SPLITS = ("train", "test")
# Independent seed streams: the split, the ``n`` subset and anything else a loader draws.
_STREAMS = {"train": 0, "test": 1, "subset": 2}


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded dataset: data tensor, optional labels, name and a JSON-serialisable ``meta``.

    ``x`` is float32 in ``[0, 1]`` of shape ``(N, C, H, W)`` for images, or ``(N, 2)`` for the
    2-D toy sets (not rescaled). ``y`` is int64 ``(N,)`` or ``None``. ``meta`` records where the
    data came from (paths), the resolved settings and the checksum status of each file.
    """

    x: torch.Tensor  # (N, C, H, W) images in [0, 1], or (N, 2) points
    y: torch.Tensor | None  # (N,) int64 labels, or None
    name: str
    meta: dict[str, Any] = field(default_factory=dict)
    n_classes: int | None = None

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        """``(C, H, W)`` for image datasets, ``None`` for 2-D toys."""
        return tuple(int(s) for s in self.x.shape[1:]) if self.x.dim() == 4 else None  # type: ignore[return-value]

    def __len__(self) -> int:
        return int(self.x.shape[0])


# ----------------------------------------------------------------------------- messages & checks
def one_line(text: Any) -> str:
    """``text`` squeezed onto one line (for messages that embed a library's error)."""
    return " ".join(str(text).split())


def read_bytes_or_fail(path: Path, fix: str) -> bytes:
    """The bytes of ``path``; a missing or unreadable file is a one-line :class:`DatasetError` ending in ``fix``."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found; {fix}") from None
    except OSError as e:
        raise DatasetError(f"{path}: cannot read ({one_line(e.strerror or e)}); check its permissions") from None


def check_split(split: Any) -> str:
    """``split`` if it is ``"train"`` or ``"test"``, else :class:`ConfigError`."""
    if split not in SPLITS:
        raise ConfigError(f"split must be 'train' or 'test', got {split!r}")
    return split


# ----------------------------------------------------------------------------- randomness
def split_seed(seed: int, stream: str) -> int:
    """A 32-bit seed for ``stream`` ("train", "test" or "subset") derived from ``seed``.

    Different streams give independent draws, so toy train and test sets never coincide.
    """
    check_int("seed", seed, low=0, what="a non-negative int")
    return int(np.random.SeedSequence([int(seed), _STREAMS[stream]]).generate_state(1)[0])


def subset_indices(total: int, n: int | None, seed: int, *, what: str = "items") -> np.ndarray:
    """Sorted indices of a deterministic random subset of ``n`` out of ``total`` (all if ``n`` is None)."""
    if n is None:
        return np.arange(total)
    n = check_positive_int("n", n)
    if n > total:
        raise ConfigError(f"n={n} is more than the {total} {what} available; pass n <= {total} or omit it")
    rng = np.random.default_rng(split_seed(seed, "subset"))
    return np.sort(rng.choice(total, size=n, replace=False))


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Per-class random split: ``round(test_fraction * count)`` items of each class go to test.

    Returns sorted index arrays ``{"train": ..., "test": ...}``; a pure function of its inputs.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    test: list[np.ndarray] = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = int(round(test_fraction * idx.size))
        test.append(rng.permutation(idx)[:k])
    test_idx = np.sort(np.concatenate(test)) if test else np.zeros(0, dtype=np.int64)
    mask = np.zeros(labels.shape[0], dtype=bool)
    mask[test_idx] = True
    return {"train": np.flatnonzero(~mask), "test": test_idx}


def tail_split(total: int, test_fraction: float) -> dict[str, np.ndarray]:
    """Split by position: the last ``max(1, floor(test_fraction * total))`` items are the test split."""
    n_test = max(1, int(test_fraction * total))
    return {"train": np.arange(total - n_test), "test": np.arange(total - n_test, total)}


# ----------------------------------------------------------------------------- files
def resolve_data_dir(name: str, data_dir: str | os.PathLike | None, *, default: str | None = None,
                     expects: str = "the dataset files", install_hint: str = "") -> tuple[Path, str]:
    """The directory to read ``name`` from, and how it was chosen.

    Order: an explicit ``data_dir``; else ``$AEOT_DATA/<name>`` when that subdirectory exists,
    else ``$AEOT_DATA`` itself; else ``default`` (e.g. a Debian package's location); else a
    :class:`DatasetError` saying how to point at the files.
    """
    env = os.environ.get("AEOT_DATA", "")
    if data_dir is not None:
        path, how = Path(data_dir).expanduser(), "data_dir"
    elif env:
        root = Path(env).expanduser()
        path, how = (root / name, "AEOT_DATA") if (root / name).is_dir() else (root, "AEOT_DATA")
    elif default is not None:
        path, how = Path(default), "default"
    else:
        raise DatasetError(
            f"{name}: no data directory given; pass --data-dir DIR (data_dir=...) or set AEOT_DATA "
            f"to a directory holding {expects}"
        )
    if not path.is_dir():
        hint = f"{install_hint}, " if how == "default" and install_hint else ""
        raise DatasetError(
            f"{path}: {name} data directory does not exist (from {how}); {hint}pass --data-dir DIR "
            f"(data_dir=...) or set AEOT_DATA to a directory holding {expects}"
        )
    return path, how


def md5_hex(data: bytes) -> str:
    """Hex MD5 of ``data`` (integrity check only, not security)."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


# ----------------------------------------------------------------------------- images
def resize_images(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize of ``(N, C, H, W)`` images to ``(N, C, size, size)``, clamped to [0, 1].

    Antialiasing is on when shrinking (it is a no-op when enlarging); same size returns ``x``.
    """
    if tuple(x.shape[-2:]) == (size, size):
        return x
    shrink = size < min(x.shape[-2:])
    out = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)
    return out.clamp_(0.0, 1.0)


def to_images(arr: np.ndarray, scale: float) -> torch.Tensor:
    """uint8-like ``arr`` -> float32 tensor divided by ``scale`` (a fresh, writable copy)."""
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32) / np.float32(scale))


def labels_tensor(arr: Iterable[int] | np.ndarray) -> torch.Tensor:
    """Labels as an int64 tensor ``(N,)``."""
    return torch.from_numpy(np.asarray(arr, dtype=np.int64).copy())
