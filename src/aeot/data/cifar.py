"""``cifar10``: the CIFAR-10 "python version" batches, read with a restricted unpickler.

Directory (no default): ``data_dir``; else ``$AEOT_DATA/cifar10`` if it exists, else
``$AEOT_DATA``; a ``cifar-10-batches-py/`` inside it is used when present. Train is
``data_batch_1`` .. ``data_batch_5`` (50000 images), test is ``test_batch`` (10000): the
published split (Krizhevsky, 2009, "Learning Multiple Layers of Features from Tiny Images").

The batches are pickles, and unpickling runs whatever callables a pickle names. This reader
never does: :class:`RestrictedUnpickler` resolves only the numpy array reconstruction
globals the real files use and refuses every other global with a :class:`DatasetError`
before anything is imported or called.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from aeot._validation import check_choice
from aeot.data.base import (
    Dataset,
    labels_tensor,
    one_line,
    read_bytes_or_fail,
    resolve_data_dir,
    to_images,
)
from aeot.data.registry import register_dataset
from aeot.errors import DatasetError

__all__ = ["ALLOWED_GLOBALS", "CIFAR_FILES", "RestrictedUnpickler", "load_cifar_batch", "safe_unpickle"]

CIFAR_FILES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
_SUBDIR = "cifar-10-batches-py"
_FIX = "re-download CIFAR-10 (python version) and point --data-dir at cifar-10-batches-py"

# ndarray.__reduce__ names numpy's array reconstructor; taking it from there avoids importing
# the deprecated ``numpy.core`` path under numpy 2 while matching what pickles refer to.
_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(0))[0]
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,  # numpy < 2 (the published files)
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,  # numpy >= 2
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`ALLOWED_GLOBALS`; any other global is refused."""

    def __init__(self, file: Any, *, path: str | Path, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise DatasetError(
                f"{self._path}: refusing to unpickle forbidden global {module}.{name} (only numpy arrays "
                f"are allowed); the file is not a CIFAR-10 batch, {_FIX}"
            ) from None


def safe_unpickle(path: str | Path) -> Any:
    """Unpickle ``path`` with :class:`RestrictedUnpickler` (``encoding="bytes"``, as for the Python 2 files)."""
    path = Path(path)
    data = read_bytes_or_fail(path, _FIX)
    try:
        return RestrictedUnpickler(io.BytesIO(data), path=path, encoding="bytes").load()
    except DatasetError:
        raise
    except Exception as e:  # a malformed pickle can raise nearly anything (UnpicklingError, EOFError, ...)
        raise DatasetError(f"{path}: not a readable pickle ({type(e).__name__}: {one_line(e)}); {_FIX}") from None


def _field(batch: dict, key: str) -> Any:
    for k in (key.encode(), key):  # the published files have bytes keys
        if k in batch:
            return batch[k]
    return None


def load_cifar_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 (N, 3, 32, 32), labels int64 (N,))`` of one CIFAR-10 batch file, checked."""
    batch = safe_unpickle(path)
    if not isinstance(batch, dict):
        raise DatasetError(f"{path}: expected a dict batch, found {type(batch).__name__}; {_FIX}")
    data, labels = _field(batch, "data"), _field(batch, "labels")
    if data is None or labels is None:
        raise DatasetError(f"{path}: batch lacks the b'data' or b'labels' entry; {_FIX}")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        desc = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DatasetError(f"{path}: b'data' must be uint8 of shape (N, 3072), found {desc}; {_FIX}")
    try:
        y = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise DatasetError(f"{path}: b'labels' is not a list of ints; {_FIX}") from None
    if y.shape != (data.shape[0],):
        raise DatasetError(f"{path}: {data.shape[0]} images but {y.size} labels; {_FIX}")
    if y.size and (y.min() < 0 or y.max() > 9):
        raise DatasetError(f"{path}: labels outside 0..9 (found {int(y.min())}..{int(y.max())}); {_FIX}")
    return data.reshape(-1, 3, 32, 32), y  # rows are 1024 red, 1024 green, 1024 blue values


@register_dataset("cifar10", "CIFAR-10 32x32 colour images from the python batches in --data-dir or "
                             "$AEOT_DATA (safe unpickler)")
def load_cifar10(*, split: str, data_dir: str | os.PathLike | None = None, image_size: int = 32) -> Dataset:
    """CIFAR-10 images ``(N, 3, 32, 32)`` in [0, 1] and labels 0..9; no default directory."""
    size = check_choice("image_size", image_size, (32,))
    directory, how = resolve_data_dir("cifar10", data_dir, expects="data_batch_1..5 and test_batch "
                                      f"(or {_SUBDIR}/)")
    if (directory / _SUBDIR).is_dir():
        directory = directory / _SUBDIR
    paths = [directory / f for f in CIFAR_FILES[split]]
    for p in paths:
        if not p.is_file():
            raise DatasetError(f"{p}: file not found; {_FIX}")
    parts = [load_cifar_batch(p) for p in paths]
    images = np.concatenate([im for im, _ in parts])  # (N, 3, 32, 32) uint8
    labels = np.concatenate([lb for _, lb in parts])  # (N,)
    meta = {
        "source": [str(p) for p in paths],
        "data_dir": str(directory),
        "data_dir_from": how,
        "image_size": size,
        "split_rule": "published data_batch_1..5 (train) / test_batch (test)",
        "checksums": {p.name: "unverified (no published per-file checksums)" for p in paths},
    }
    return Dataset(x=to_images(images, 255.0), y=labels_tensor(labels), name="cifar10", meta=meta, n_classes=10)
