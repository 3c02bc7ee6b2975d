"""Input checks of :func:`aeot.ot.semidiscrete.solve_semidiscrete` (ValueError naming the value)."""

from __future__ import annotations

import torch
from torch import Tensor

from aeot._validation import check_int, check_positive_number
from aeot.ot.distributed import SOBOL_MAX_DIM


def _positive_int(name: str, value) -> int:
    return check_int(name, value, what="a positive integer", error=ValueError)


def _positive_float(name: str, value) -> float:
    return check_positive_number(name, value, what="a positive finite number", error=ValueError)


def _box_corner(name: str, value, d: int, device) -> Tensor:
    t = torch.as_tensor(value, dtype=torch.float64).to(device)
    if t.ndim == 0:
        t = t.expand(d).clone()
    if t.shape != (d,):
        raise ValueError(f"{name} must be a scalar or have shape ({d},), got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} must be finite, got {t.tolist()}")
    return t


def validate_inputs(y, weights, low, high, *, max_iter, tol, tol_max, lr, n_samples, max_samples,
                    hessian_samples, qmc, chunk_size, target_chunk, max_time=None):
    """Return (y, nu (n,) float64 summing to 1, low (d,), high (d,)) float64 on y's device."""
    if not isinstance(y, Tensor):
        raise ValueError(f"y must be a torch.Tensor of shape (n, d), got {type(y).__name__}")
    if y.ndim != 2 or y.shape[0] == 0 or y.shape[1] == 0:
        raise ValueError(f"y must have shape (n, d) with n >= 1 and d >= 1, got {tuple(y.shape)}")
    if not y.is_floating_point():
        raise ValueError(f"y must be a floating-point tensor, got dtype {y.dtype}")
    if not bool(torch.isfinite(y).all()):
        bad = int((~torch.isfinite(y)).any(1).nonzero()[0])
        raise ValueError(f"y must be finite, got a NaN/inf in row {bad}")
    n, d = y.shape
    if qmc and d > SOBOL_MAX_DIM:
        raise ValueError(f"qmc=True supports d <= {SOBOL_MAX_DIM} (Sobol), got d={d}; pass qmc=False")
    if n > 1:
        uniq, inv, cnt = torch.unique(y.detach(), dim=0, return_inverse=True, return_counts=True)
        if uniq.shape[0] < n:
            dup = int((cnt > 1).nonzero()[0])
            rows = (inv == dup).nonzero().flatten()[:2].tolist()
            raise ValueError(
                f"y has {n - uniq.shape[0]} duplicate rows (e.g. rows {rows[0]} and {rows[1]}); two cells of "
                "the same point cannot both have mass: merge duplicates and add their weights"
            )
    if weights is None:
        nu = torch.full((n,), 1.0 / n, dtype=torch.float64, device=y.device)
    else:
        nu = torch.as_tensor(weights).to(device=y.device, dtype=torch.float64)
        if nu.shape != (n,):
            raise ValueError(f"weights must have shape ({n},), got {tuple(nu.shape)}")
        if not bool(torch.isfinite(nu).all()) or bool((nu <= 0).any()):
            raise ValueError(f"weights must be finite and positive, got min {float(nu.min()):.3g}")
        total = float(nu.sum())
        if abs(total - 1.0) > 1e-5:
            raise ValueError(f"weights must sum to 1, got sum {total:.8g}")
        nu = nu / nu.sum()
    low_t = _box_corner("low", low, d, y.device)
    high_t = _box_corner("high", high, d, y.device)
    if bool((low_t >= high_t).any()):
        raise ValueError(f"low must be < high in every coordinate, got low={low!r}, high={high!r}")
    _positive_int("max_iter", max_iter)
    _positive_float("tol", tol)
    _positive_float("tol_max", tol_max)
    _positive_float("lr", lr)
    for name, v in (("n_samples", n_samples), ("max_samples", max_samples), ("hessian_samples", hessian_samples),
                    ("chunk_size", chunk_size)):
        if v is not None:
            _positive_int(name, v)
    if max_time is not None:
        _positive_float("max_time", max_time)
    _positive_int("target_chunk", target_chunk)
    if n_samples is not None and max_samples is not None and n_samples > max_samples:
        raise ValueError(f"n_samples must be <= max_samples={max_samples}, got {n_samples}")
    return y, nu, low_t, high_t
