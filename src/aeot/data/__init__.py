"""Datasets by name: 2-D toys, scikit-learn's digits, MNIST-like IDX files, CIFAR-10, image folders.

>>> from aeot.data import load_dataset, list_datasets
>>> ds = load_dataset("digits", split="train", image_size=28)
>>> ds.x.shape, ds.y.shape, ds.image_shape, ds.n_classes
(torch.Size([1438, 1, 28, 28]), torch.Size([1438]), (1, 28, 28), 10)

``x`` is float32 in [0, 1] (images ``(N, C, H, W)``) or ``(N, 2)`` points for toys; ``y`` int64
labels or ``None``; ``meta`` a JSON-serialisable record of sources, settings and checksums.
File-based datasets look in ``data_dir``, else ``$AEOT_DATA/<name>`` (or ``$AEOT_DATA``), else a
built-in location (fashion-mnist: Debian's ``/usr/share/datasets/fashion-mnist``). Nothing is
downloaded and nothing is cached on disk.
"""

from __future__ import annotations

# Importing the dataset modules registers them, in this order (the order of ``list_datasets``).
from aeot.data import digits as _digits  # noqa: F401
from aeot.data import toys as _toys  # noqa: F401
from aeot.data import mnist as _mnist  # noqa: F401
from aeot.data import mnist5k as _mnist5k  # noqa: F401
from aeot.data import cifar as _cifar  # noqa: F401
from aeot.data import folder as _folder  # noqa: F401
from aeot.data.base import Dataset
from aeot.data.idx import read_idx
from aeot.data.registry import (
    DatasetSpec,
    UnknownDatasetError,
    dataset_spec,
    describe_datasets,
    list_datasets,
    load_dataset,
    register_dataset,
)
from aeot.errors import ConfigError, DatasetError, OptionalDependencyError

__all__ = [
    "ConfigError",
    "Dataset",
    "DatasetError",
    "DatasetSpec",
    "OptionalDependencyError",
    "UnknownDatasetError",
    "dataset_spec",
    "describe_datasets",
    "list_datasets",
    "load_dataset",
    "read_idx",
    "register_dataset",
]
