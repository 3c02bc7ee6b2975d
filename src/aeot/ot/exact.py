"""Exact optimal bijection between equal-size point sets (interim scipy version)."""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment


def assignment(x: torch.Tensor, y: torch.Tensor, *, cost: str = "sqeuclidean") -> torch.Tensor:
    """perm (n,) minimising sum_i c(x_i, y_perm[i]); on x's device."""
    c = torch.cdist(x.double().cpu(), y.double().cpu())
    if cost == "sqeuclidean":
        c = c**2
    _, col = linear_sum_assignment(c.numpy())
    return torch.as_tensor(np.asarray(col), dtype=torch.long, device=x.device)


def ot_divergence(x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean Euclidean distance under the exact optimal matching with Euclidean cost."""
    perm = assignment(x, y, cost="euclidean")
    return float((x.double() - y.double()[perm]).norm(dim=1).mean())
