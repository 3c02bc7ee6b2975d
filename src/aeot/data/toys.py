"""2-D toy sets: ``moons``, ``circles``, ``8gaussians`` and ``swissroll``.

Each returns ``x`` of shape ``(n_samples, 2)`` float32 (not rescaled to [0, 1]). The split only
selects the seed stream: train and test are independent draws from the same distribution,
each a pure function of ``(seed, split)``. Labels where they are natural: the half moon
(moons), the circle (circles, 0 = outer, 1 = inner) and the mixture component (8gaussians);
``swissroll`` has none.
"""

from __future__ import annotations

import numpy as np
import torch

from aeot._validation import check_positive_int, check_real
from aeot.data.base import Dataset, labels_tensor, split_seed
from aeot.data.registry import register_dataset

__all__ = ["load_8gaussians", "load_circles", "load_moons", "load_swissroll"]


def _toy(name: str, x: np.ndarray, y: np.ndarray | None, n_classes: int | None, source: str) -> Dataset:
    x32 = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))  # (n, 2)
    return Dataset(x=x32, y=None if y is None else labels_tensor(y), name=name,
                   meta={"source": source, "split_rule": "independent draw per split (seed stream)"},
                   n_classes=n_classes)


@register_dataset("moons", "2-D toy: two interleaving half circles (sklearn make_moons); labels = moon")
def load_moons(*, split: str, seed: int = 0, n_samples: int = 10000, noise: float = 0.05) -> Dataset:
    """Two interleaving half circles, ``(n_samples, 2)``, Gaussian noise of std ``noise``."""
    from sklearn.datasets import make_moons

    n_samples = check_positive_int("n_samples", n_samples)
    noise = check_real("noise", noise, low=0.0)
    x, y = make_moons(n_samples=n_samples, noise=noise, random_state=split_seed(seed, split))
    return _toy("moons", x, y, 2, "sklearn.datasets.make_moons")


@register_dataset("circles", "2-D toy: two concentric circles (sklearn make_circles); labels = circle")
def load_circles(*, split: str, seed: int = 0, n_samples: int = 10000, noise: float = 0.05,
                 factor: float = 0.5) -> Dataset:
    """Two concentric circles, radii 1 and ``factor``, ``(n_samples, 2)``; label 1 = inner circle."""
    from sklearn.datasets import make_circles

    n_samples = check_positive_int("n_samples", n_samples)
    noise = check_real("noise", noise, low=0.0)
    factor = check_real("factor", factor, low=0.0, high=1.0, low_open=True, high_open=True)
    x, y = make_circles(n_samples=n_samples, noise=noise, factor=factor, random_state=split_seed(seed, split))
    return _toy("circles", x, y, 2, "sklearn.datasets.make_circles")


@register_dataset("8gaussians", "2-D toy: ring of 8 Gaussians (radius 2, std 0.02); labels = component")
def load_8gaussians(*, split: str, seed: int = 0, n_samples: int = 10000, radius: float = 2.0,
                    std: float = 0.02) -> Dataset:
    """A mixture of 8 equally weighted isotropic Gaussians of std ``std`` whose centres lie on a
    circle of ``radius`` at angles ``k * pi / 4``, ``k = 0..7``; the label is ``k``.

    The classic mode-collapse test (Metz et al., "Unrolled GANs", 2017; Gulrajani et al., 2017).
    """
    n_samples = check_positive_int("n_samples", n_samples)
    radius = check_real("radius", radius, low=0.0, low_open=True)
    std = check_real("std", std, low=0.0)
    rng = np.random.default_rng(split_seed(seed, split))
    k = rng.integers(0, 8, size=n_samples)  # (n,)
    angle = k * (np.pi / 4)
    centres = radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)  # (n, 2)
    x = centres + std * rng.standard_normal((n_samples, 2))
    return _toy("8gaussians", x, k, 8, "ring of 8 Gaussians (numpy)")


@register_dataset("swissroll", "2-D toy: swiss roll (sklearn make_swiss_roll, (x, z) coordinates / 7.5)")
def load_swissroll(*, split: str, seed: int = 0, n_samples: int = 10000, noise: float = 0.5,
                   scale: float = 7.5) -> Dataset:
    """The (x, z) coordinates of sklearn's 3-D swiss roll divided by ``scale``, ``(n_samples, 2)``.

    ``noise`` is the std of the Gaussian noise sklearn adds before scaling (0.5 / 7.5 ~ 0.067
    after it); the roll then spans roughly [-1.3, 1.7] in both coordinates.
    """
    from sklearn.datasets import make_swiss_roll

    n_samples = check_positive_int("n_samples", n_samples)
    noise = check_real("noise", noise, low=0.0)
    scale = check_real("scale", scale, low=0.0, low_open=True)
    x3, _ = make_swiss_roll(n_samples=n_samples, noise=noise, random_state=split_seed(seed, split))
    return _toy("swissroll", x3[:, [0, 2]] / scale, None, None, "sklearn.datasets.make_swiss_roll")
