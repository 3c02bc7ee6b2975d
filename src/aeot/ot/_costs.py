"""Cost matrices and pair costs for the exact assignment (aeot.ot.exact), in float64.

Small problems get every entry from the coordinate differences; larger ones one matrix product,
with the near entries (where cancellation could matter: near pairs, duplicates) recomputed from
the differences (see :func:`cost_matrix`).
"""

from __future__ import annotations

import math

import numpy as np
import torch

_EXACT_MAX_ELEMENTS = 1 << 14  # up to this n*m*d every cost comes from the differences
_NUMPY_MAX_ELEMENTS = 1 << 18  # cost matrices up to this n*m by numpy (torch's threads above)
_NEAR = 1e-4  # matrix-product costs below this times the squared-norm scale are recomputed
REFINE_CHUNK = 1 << 22  # elements per chunk of the exact recomputation


def pair_costs(x: np.ndarray, y: np.ndarray, rows: np.ndarray, cols: np.ndarray, cost: str) -> np.ndarray:
    """Costs c(x[rows[e]], y[cols[e]]) (E,) from the coordinate differences, in chunks."""
    out = np.empty(rows.shape[0])
    step = max(1, REFINE_CHUNK // x.shape[1])
    for s in range(0, rows.shape[0], step):
        diff = x[rows[s:s + step]] - y[cols[s:s + step]]  # (b, d)
        np.einsum("ij,ij->i", diff, diff, out=out[s:s + step])
    return np.sqrt(out, out=out) if cost == "euclidean" else out


def cost_matrix(x: np.ndarray, y: np.ndarray, cost: str) -> torch.Tensor:
    """Float64 cost matrix (n, m) as a CPU tensor.

    Small problems (``n * m * d <= _EXACT_MAX_ELEMENTS``): every entry from the coordinate
    differences. Larger ones: one matrix product on centred points (O(n m d) flops in BLAS), then
    every entry below ``_NEAR (|x_i|^2 + max_j |y_j|^2)`` (near pairs, where cancellation could
    matter) recomputed from the differences, so that duplicate points cost exactly 0 and every
    other entry is within a relative 2 (d + 4) eps / _NEAR (3e-10 at d = 64) of its exact value.
    """
    n, m, d = x.shape[0], y.shape[0], x.shape[1]
    if n * m * d <= _EXACT_MAX_ELEMENTS:
        c = np.empty((n, m))
        step = max(1, REFINE_CHUNK // (m * d))
        for s in range(0, n, step):
            diff = x[s:s + step, None, :] - y[None, :, :]  # (b, m, d)
            np.einsum("ijk,ijk->ij", diff, diff, out=c[s:s + step])
        if cost == "euclidean":
            np.sqrt(c, out=c)
        return torch.from_numpy(c)
    mean = (x.sum(0) + y.sum(0)) / (n + m)  # (d,)
    xc, yc = x - mean, y - mean  # (n, d), (m, d)
    xn, yn = np.einsum("ij,ij->i", xc, xc), np.einsum("ij,ij->i", yc, yc)  # (n,), (m,)
    with np.errstate(over="ignore"):
        if not math.isfinite(float((np.sqrt(xn.max()) + np.sqrt(yn.max())) ** 2)):
            raise ValueError(
                f"coordinates are too large for a float64 squared distance (largest squared norm "
                f"{max(xn.max(), yn.max()):.3g}); rescale the points")
    if n * m <= _NUMPY_MAX_ELEMENTS:  # numpy: no wake-up of torch's thread pool for tiny work
        cn = xc @ (-2.0 * yc.T)  # (n, m)
        cn += yn[None, :]
        cn += xn[:, None]
        c = torch.from_numpy(np.maximum(cn, 0.0, out=cn))
    else:
        c = torch.addmm(torch.from_numpy(yn).unsqueeze(0), torch.from_numpy(xc),
                        torch.from_numpy(yc).T, alpha=-2.0)  # (n, m) = |y|^2 - 2 x.y
        c += torch.from_numpy(xn).unsqueeze(1)
        c.clamp_(min=0.0)
    # |error| of an entry <= 2 (d + 4) eps (|x_i|^2 + |y_j|^2): entries below _NEAR times that
    # scale (near pairs, duplicates), where it could matter, are recomputed from the differences
    rows, cols = np.nonzero(c.numpy() < (_NEAR * (xn + yn.max()))[:, None])  # >= _NEAR (|x_i|^2 + |y_j|^2)
    c.numpy()[rows, cols] = pair_costs(x, y, rows, cols, "sqeuclidean")
    if cost == "euclidean":
        c.sqrt_()
    return c

