"""The real reference images of an evaluation, chosen in one place.

:class:`ReferenceSet` is the deterministic subset of a dataset's test split that every
evaluation compares against: ``aeot evaluate``, the evaluation at the end of ``aeot run`` and
the refiner's per-epoch FID all select it here, so equal ``(dataset, n, seed)`` give the same
images and the same cache entries of their features.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from aeot.data import load_dataset
from aeot.errors import ConfigError
from aeot.metrics.cache import feature_cache_key

__all__ = ["ReferenceSet", "load_images"]

SPLIT = "test"


def load_images(dataset: str, split: str, *, data_dir: str | None = None, n: int | None = None,
                image_size: int | None = None):
    """Dataset ``dataset``'s ``split`` as images (a 2-D toy set is refused).

    Parameters
    ----------
    dataset : str
        A registered dataset name (``aeot datasets``).
    split : str
        ``"train"`` or ``"test"``.
    data_dir : str, optional
        Where the dataset's files are (default: ``$AEOT_DATA`` and the built-in places).
    n : int, optional
        A deterministic subset of ``n`` items (``None``: all of them).
    image_size : int, optional
        The dataset's image size option (``None``: its default).

    Returns
    -------
    aeot.data.Dataset
    """
    params: dict[str, Any] = {} if image_size is None else {"image_size": image_size}
    ds = load_dataset(dataset, split=split, data_dir=data_dir, n=n, **params)
    if ds.image_shape is None:
        raise ConfigError(f"dataset {dataset!r} is a 2-D toy set, not images; use `aeot toy` for it")
    return ds


@dataclass(frozen=True, eq=False)
class ReferenceSet:
    """``n`` real test images (a subset drawn with ``seed``, in the split's order) and their labels.

    Build one with :meth:`select`; ``x`` (m, C, H, W) in [0, 1], ``y`` (m,) or ``None`` for an
    unlabelled set, ``n_classes`` of the whole split (``None`` when unlabelled).
    """

    dataset: str
    seed: int
    x: torch.Tensor = field(repr=False)
    y: torch.Tensor | None = field(repr=False)
    n_classes: int | None

    @classmethod
    def select(cls, dataset: str, n: int, *, seed: int = 0, data_dir: str | None = None,
               image_size: int | None = None) -> ReferenceSet:
        """The first ``n`` of a ``seed``-permutation of the test split (all of it when smaller), sorted.

        Parameters
        ----------
        dataset : str
            A registered image dataset.
        n : int
            Images wanted; capped by the size of the test split.
        seed : int
            Picks the subset (0: that of ``aeot evaluate`` and of the refiner's FID).
        data_dir, image_size
            As for :func:`load_images`.

        Returns
        -------
        ReferenceSet
        """
        test = load_images(dataset, SPLIT, data_dir=data_dir, image_size=image_size)
        n_real = min(n, len(test))
        idx = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[:n_real].sort().values
        y = None if test.y is None else test.y[idx]
        n_classes = int(test.n_classes or (int(test.y.max()) + 1 if test.y is not None else 0)) or None
        return cls(dataset=dataset, seed=seed, x=test.x[idx], y=y, n_classes=n_classes)

    @property
    def n(self) -> int:
        """The number of reference images."""
        return int(self.x.shape[0])

    @property
    def image_size(self) -> int:
        return int(self.x.shape[-1])

    @property
    def labelled_grey(self) -> bool:
        """Whether a domain classifier can describe it: one channel, with labels."""
        return self.x.shape[1] == 1 and self.y is not None

    def cache_key(self, variant: str, network_sha1: str, *, n: int | None = None) -> str:
        """The feature-cache key of ``variant`` (``"real"``, ``"blur1-halfB"``) of this set in a network's features."""
        return feature_cache_key(dataset=self.dataset, split=SPLIT, image_size=self.image_size,
                                 n=self.n if n is None else n, variant=f"{variant}-seed{self.seed}",
                                 network_sha1=network_sha1)
