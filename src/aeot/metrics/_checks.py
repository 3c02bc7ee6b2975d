"""Input checks shared by the metrics: images in [0, 1] and 2-D feature matrices."""

from __future__ import annotations

from typing import Any

import torch


def check_images(x: Any, *, name: str = "images", channels: tuple[int, ...] = (1, 3)) -> torch.Tensor:
    """``x`` if it is a float tensor (N, C, H, W) with C in ``channels`` and values in [0, 1]; else ValueError."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (N, C, H, W), got {type(x).__name__}")
    if x.ndim != 4 or x.shape[0] == 0 or x.shape[1] not in channels:
        raise ValueError(f"{name} must have shape (N, C, H, W) with N >= 1 and C in {channels}, "
                         f"got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be floating point in [0, 1], got {x.dtype}; divide uint8 images by 255")
    lo, hi = float(x.min()), float(x.max())
    if not (lo >= -1e-6 and hi <= 1 + 1e-6):  # also catches NaN
        raise ValueError(f"{name} must lie in [0, 1], got values in [{lo:.4g}, {hi:.4g}]; "
                         f"map [-1, 1] images with (x + 1) / 2")
    return x


def check_features(f: Any, *, name: str = "features", min_rows: int = 1) -> torch.Tensor:
    """``f`` as a float64 CPU tensor if it is a finite (n, d) matrix with n >= ``min_rows``; else ValueError."""
    if not isinstance(f, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (n, d), got {type(f).__name__}")
    if f.ndim != 2 or f.shape[1] == 0:
        raise ValueError(f"{name} must have shape (n, d), got {tuple(f.shape)}")
    if f.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows, got {f.shape[0]}; use more samples")
    f = f.detach().to("cpu", torch.float64)
    if not torch.isfinite(f).all():
        raise ValueError(f"{name} has NaN or inf entries; check the feature extractor and its input")
    return f


def check_same_dim(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {a.shape[1]} and {b.shape[1]}; use one feature extractor for both")
