"""Exact optimal bijection between equal-size point sets, and the OT divergence.

The linear assignment problem (LAP) ``min_perm sum_i c(x_i, y_perm[i])`` is solved exactly by
the Jonker-Volgenant shortest augmenting path algorithm (R. Jonker and A. Volgenant, "A shortest
augmenting path algorithm for dense and sparse linear assignment problems", Computing 38, 1987),
as implemented by the ``lap`` package (``lap.lapjv``, dense, float64). It replaces the network
simplex of POT's ``ot.emd`` that the AE-OTtrans / AE-OTgen authors used (paper 004 §3.3) and gives
the same optimal cost.

Speed-up for large n (``n >= _PRECONDITION_MIN_N``, 1536): the dense solver is given the *reduced*
cost matrix ``c_ij - u_i - v_j`` instead of ``c``. Subtracting row and column constants changes
every permutation's total by the same amount, so the optimal permutations are identical; only the
solver's work changes. The potentials ``(u, v)`` are the exact duals of a cheap sparse assignment
problem restricted to the k nearest neighbours of each x_i plus the sorted 1-D matchings along the
two principal axes (solved with ``lap.lapmod``; duals by Bellman-Ford on the residual graph). With
near-optimal duals most rows are matched by the solver's first reduction pass. Exactness never
depends on this step: if it fails (not a permutation, Bellman-Ford not converged, potentials
implausibly large) the raw matrix is solved.

Numerics: the cost matrix is float64. Small problems (n * m * d <= 2^22) compute every entry
from the coordinate differences; larger ones use one matrix product on centred points and then
recompute the k smallest entries of every row (where cancellation could matter) from the
differences, so duplicate points cost exactly 0 and the optimal total agrees with scipy's
``linear_sum_assignment`` on an exactly computed matrix to ~1e-12 relative (tests check 1e-9).
Memory: one n x n float64 matrix (0.8 GB at n = 10^4) plus the solver's O(n) work arrays.

Speed (docs/benchmarks/assignment.md, n = 4096, Gaussian points): about 1.7-1.9x faster than
``lap.lapjv`` alone and 4-5x faster than POT's ``ot.emd``. Jonker-Volgenant is slow on some
structured inputs (strongly clustered or shifted point sets, where POT's network simplex can be
faster); the reduced matrix helps in most but not all such cases.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

try:
    import lap as _lap
except ImportError as err:  # a hard dependency: never fall back silently to a slower solver
    raise ImportError(
        "aeot.ot.exact needs the linear assignment solver package 'lap' (a dependency of aeot); "
        "install it with: pip install 'lap>=0.5.12'"
    ) from err

COSTS = ("sqeuclidean", "euclidean")

_PRECONDITION_MIN_N = 1536  # from this n on, the dense solver gets the reduced matrix
_EXACT_MAX_ELEMENTS = 1 << 22  # up to this n*m*d every cost comes from the differences
_N_NEIGHBOURS = 16  # candidate edges per row for the sparse dual problem; also rows refined exactly
_N_AXES = 2  # principal axes whose sorted matchings join the candidate edges
_BF_MAX_ITER = 500  # Bellman-Ford sweeps before giving up on the potentials
_REFINE_CHUNK = 1 << 22  # elements per chunk of the exact recomputation


def assignment(x: torch.Tensor, y: torch.Tensor, *, cost: str = "sqeuclidean") -> torch.Tensor:
    """Exact optimal bijection: ``perm`` (n,) minimising ``sum_i c(x_i, y[perm[i]])``.

    Solves the linear assignment problem exactly (Jonker & Volgenant 1987, via ``lap.lapjv`` in
    float64); this is the bijection sigma of AE-OTgen / AE-OTtrans (paper 004 §3.2-3.3), which
    the authors computed with POT's network simplex. ``cost="sqeuclidean"`` uses
    ``|x_i - y_j|^2``, ``cost="euclidean"`` uses ``|x_i - y_j|``. Ties (duplicate points,
    integer grids) are allowed; any optimal permutation may be returned.

    Args:
        x: (n, d) points, any real dtype, any device.
        y: (n, d) points, same n and d.
        cost: "sqeuclidean" or "euclidean".

    Returns:
        LongTensor (n,) on x's device: x[i] is matched to y[perm[i]].

    Raises:
        ValueError: naming the value, for non-finite entries, a non-2-D input, mismatched
            dimensions or sizes, n = 0, or an unknown cost.
    """
    _check_cost(cost)
    x64 = _points("x", x)  # (n, d)
    y64 = _points("y", y)  # (n, d)
    _check_dims(x64, y64)
    n = x64.shape[0]
    if y64.shape[0] != n:
        raise ValueError(
            f"assignment needs as many points in y as in x; got x with {n} points and y with "
            f"{y64.shape[0]} (use ot_divergence for unequal sizes)"
        )
    device = x.device if isinstance(x, torch.Tensor) else torch.device("cpu")
    if n == 1:
        return torch.zeros(1, dtype=torch.long, device=device)
    c, prep = _cost_matrix(x64, y64, cost)  # c (n, n) float64 CPU
    perm = _solve(c, prep)
    return torch.from_numpy(perm).to(device)


def ot_divergence(x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean Euclidean distance moved under the exact optimal transport between x and y.

    The OT divergence of AE-OTgen (paper 004 §4): "the average distance when transporting
    optimally from the generated distribution to the real distribution", i.e. the
    1-Wasserstein distance W1 between the empirical measures with uniform weights.

    * Equal sizes: the exact optimal bijection with Euclidean cost (:func:`assignment`), then
      the mean of ``|x_i - y[perm[i]]|`` (by Birkhoff's theorem this equals W1).
    * Unequal sizes (n != m): a bijection does not exist; the exact W1 is computed with POT's
      network simplex ``ot.emd2`` on uniform weights 1/n and 1/m (mass may split).

    Args:
        x: (n, d) points; y: (m, d) points (same d, any n, m >= 1).

    Returns:
        float >= 0; 0 when the point sets coincide; symmetric in x and y.

    Raises:
        ValueError: as :func:`assignment`, except that n and m may differ.
    """
    x64 = _points("x", x)  # (n, d)
    y64 = _points("y", y)  # (m, d)
    _check_dims(x64, y64)
    if x64.shape[0] == y64.shape[0]:
        perm = assignment(x64, y64, cost="euclidean").numpy()
        diff = x64 - y64[perm]  # (n, d)
        return float(np.sqrt(np.einsum("ij,ij->i", diff, diff)).mean())
    return _emd_divergence(x64, y64)


def _emd_divergence(x: np.ndarray, y: np.ndarray) -> float:
    """W1 between uniform empirical measures of different sizes (POT network simplex)."""
    import ot  # POT is a dependency of aeot; imported here because only this path needs it

    n, m = x.shape[0], y.shape[0]
    c = _cost_matrix(x, y, "euclidean")[0].numpy()  # (n, m)
    a = np.full(n, 1.0 / n)
    b = np.full(m, 1.0 / m)
    value, log = ot.emd2(a, b, c, numItermax=max(100_000, 50 * n * m), log=True)
    if log.get("warning"):
        warnings.warn(f"ot_divergence: POT's network simplex did not converge ({log['warning']})")
    return max(float(value), 0.0)


# ----------------------------------------------------------------------------- validation


def _check_cost(cost: str) -> None:
    if not isinstance(cost, str) or cost not in COSTS:
        raise ValueError(f"cost must be one of {COSTS}; got {cost!r}")


def _points(name: str, t) -> np.ndarray:
    """Validated float64 numpy copy (on the CPU) of a point set (n, d)."""
    if isinstance(t, torch.Tensor):
        if t.is_complex():
            raise ValueError(f"{name} must be real; got dtype {t.dtype}")
        t = t.detach().to(device="cpu", dtype=torch.float64).numpy()
    try:
        a = np.asarray(t)
        if np.iscomplexobj(a):
            raise ValueError(f"{name} must be real; got dtype {a.dtype}")
        a = a.astype(np.float64, copy=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a tensor of points (n, d); got {t!r:.80}") from err
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D tensor of points (n, d); got shape {tuple(a.shape)}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} must hold at least one point of dimension >= 1; got shape {tuple(a.shape)}")
    finite = np.isfinite(a)
    if not finite.all():
        i, j = (int(k) for k in np.argwhere(~finite)[0])
        raise ValueError(f"{name} must be finite; got {a[i, j]} at {name}[{i}, {j}]")
    return np.ascontiguousarray(a)


def _check_dims(x: np.ndarray, y: np.ndarray) -> None:
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"x and y must have the same dimension; got x of shape {tuple(x.shape)} "
            f"and y of shape {tuple(y.shape)}"
        )


# ----------------------------------------------------------------------------- cost matrix


def _cost_matrix(x: np.ndarray, y: np.ndarray, cost: str):
    """Float64 cost matrix (n, m) as a CPU tensor, and what the duals need (or None).

    Small problems (``n * m * d <= _EXACT_MAX_ELEMENTS``): every entry from the coordinate
    differences; the second result is None. Larger ones: one matrix product on centred points
    (O(n m d) flops in BLAS), then each row's k smallest entries (where cancellation could matter)
    recomputed from the differences; the second result is (xc, yc, neighbours (n, k), bound),
    bound being an upper bound of every cost.
    """
    n, m, d = x.shape[0], y.shape[0], x.shape[1]
    if n * m * d <= _EXACT_MAX_ELEMENTS:
        c = np.empty((n, m))
        step = max(1, _REFINE_CHUNK // (m * d))
        for s in range(0, n, step):
            diff = x[s:s + step, None, :] - y[None, :, :]  # (b, m, d)
            np.einsum("ijk,ijk->ij", diff, diff, out=c[s:s + step])
        if cost == "euclidean":
            np.sqrt(c, out=c)
        return torch.from_numpy(c), None
    mean = (x.sum(0) + y.sum(0)) / (n + m)  # (d,)
    xc, yc = x - mean, y - mean  # (n, d), (m, d)
    xn, yn = np.einsum("ij,ij->i", xc, xc), np.einsum("ij,ij->i", yc, yc)  # (n,), (m,)
    with np.errstate(over="ignore"):
        bound = float((np.sqrt(xn.max()) + np.sqrt(yn.max())) ** 2)  # >= every squared distance
    if not math.isfinite(bound):
        raise ValueError(
            f"coordinates are too large for a float64 squared distance (largest squared norm "
            f"{max(xn.max(), yn.max()):.3g}); rescale the points"
        )
    c = torch.addmm(torch.from_numpy(yn).unsqueeze(0), torch.from_numpy(xc),
                    torch.from_numpy(yc).T, alpha=-2.0)  # (n, m) = |y|^2 - 2 x.y
    c += torch.from_numpy(xn).unsqueeze(1)
    c.clamp_(min=0.0)
    k = min(_N_NEIGHBOURS, m)
    neighbours = torch.topk(c, k, dim=1, largest=False, sorted=False).indices.numpy()  # (n, k)
    c_np = c.numpy()  # shares memory with c
    step = max(1, _REFINE_CHUNK // (k * d))
    for s in range(0, n, step):
        nb = neighbours[s:s + step]  # (b, k)
        diff = x[s:s + step, None, :] - y[nb]  # (b, k, d)
        c_np[np.arange(s, s + nb.shape[0])[:, None], nb] = np.einsum("ijk,ijk->ij", diff, diff)
    if cost == "euclidean":
        c.sqrt_()
        bound = math.sqrt(bound)
    return c, (xc, yc, neighbours, bound)


# ----------------------------------------------------------------------------- solver


def _solve(c: torch.Tensor, prep) -> np.ndarray:
    """Optimal permutation (n,) int64 of the square cost matrix c (modified in place).

    From ``n >= _PRECONDITION_MIN_N`` on (with ``prep`` from :func:`_cost_matrix`) the matrix is
    first reduced by the duals of the sparse candidate problem.
    """
    n = c.shape[0]
    c_np = c.numpy()  # shares memory with c
    if prep is not None and n >= _PRECONDITION_MIN_N:
        duals = _sparse_duals(c_np, *prep)
        if duals is not None:
            u, v = duals
            c -= torch.from_numpy(u).unsqueeze(1)  # reduced costs c_ij - u_i - v_j
            c -= torch.from_numpy(v).unsqueeze(0)
    perm, _ = _lap.lapjv(c_np, return_cost=False)
    perm = np.asarray(perm, dtype=np.int64)
    assert np.array_equal(np.sort(perm), np.arange(n)), "lap.lapjv did not return a permutation"
    return perm


def _principal_axes(xc: np.ndarray, yc: np.ndarray, k: int) -> list[np.ndarray]:
    """Top-k principal directions of the pooled centred points (deterministic power iteration).

    Only O((n + m) d) einsum products: numpy's threaded BLAS is slow for these shapes on a
    busy machine, and rough axes suffice (they only seed candidate edges).
    """
    d = xc.shape[1]
    axes: list[np.ndarray] = []
    for a in range(min(k, d)):
        w = np.ones(d)
        w[a] += 1.0  # deterministic start
        norm = 0.0
        for _ in range(8):
            w = np.einsum("ij,i->j", xc, np.einsum("ij,j->i", xc, w)) + np.einsum(
                "ij,i->j", yc, np.einsum("ij,j->i", yc, w))  # (d,) scatter @ w
            for prev in axes:
                w -= (w @ prev) * prev
            norm = float(np.sqrt(w @ w))
            if norm == 0.0:
                break
            w = w / norm
        if norm > 0.0:
            axes.append(w)
    return axes


def _sparse_duals(c: np.ndarray, xc: np.ndarray, yc: np.ndarray, neighbours: np.ndarray,
                  bound: float):
    """Duals (u, v) of the LAP restricted to candidate edges, or None if they are unreliable.

    Candidates: each row's k nearest columns plus the rank matchings along principal axes (a
    perfect matching, so the sparse problem is feasible). The sparse optimum pi comes from
    lap.lapmod; the column potentials v are shortest-path distances in the graph with edges
    pi(i) -> j of weight c_ij - c_i,pi(i) (Bellman-Ford from a virtual source), and
    u_i = c_i,pi(i) - v_pi(i), so that c_ij - u_i - v_j >= 0 on every candidate edge.
    """
    n, k = neighbours.shape
    rows = [np.repeat(np.arange(n, dtype=np.int64), k)]
    cols = [neighbours.reshape(-1).astype(np.int64)]
    for axis in _principal_axes(xc, yc, _N_AXES):
        rows.append(np.argsort(np.einsum("ij,j->i", xc, axis), kind="stable"))
        cols.append(np.argsort(np.einsum("ij,j->i", yc, axis), kind="stable"))
    if len(rows) == 1:  # no axis (all points equal): the identity keeps the problem feasible
        rows.append(np.arange(n))
        cols.append(np.arange(n))
    keys = np.unique(np.concatenate(rows) * n + np.concatenate(cols))  # row-major, sorted
    rows_e, cols_e = keys // n, keys % n  # (E,), (E,)
    vals = c[rows_e, cols_e]  # (E,)
    first = np.searchsorted(rows_e, np.arange(n + 1)).astype(np.int32)  # (n + 1,)
    span = float(vals.max() - vals.min())
    scaled = (vals - vals.min()) * (1000.0 / span if span > 0 else 0.0)  # lapmod needs [0, 1e6)
    try:
        pi, _ = _lap.lapmod(n, scaled, first, cols_e.astype(np.int32), return_cost=False)
    except (ValueError, RuntimeError):
        return None
    pi = np.asarray(pi, dtype=np.int64)
    if pi.shape != (n,) or not np.array_equal(np.sort(pi), np.arange(n)):
        return None
    # Bellman-Ford (Jacobi sweeps) on edges pi(i) -> j, grouped by head j.
    src = pi[rows_e]
    w = vals - c[rows_e, src]
    keep = src != cols_e
    src, dst, w = src[keep], cols_e[keep], w[keep]
    order = np.argsort(dst, kind="stable")
    src, dst, w = src[order], dst[order], w[order]
    v = np.zeros(n)
    if dst.size:
        starts = np.flatnonzero(np.r_[True, dst[1:] != dst[:-1]])
        heads = dst[starts]
        tol = 1e-12 * float(np.abs(vals).max())
        for _ in range(_BF_MAX_ITER):
            best = np.minimum.reduceat(v[src] + w, starts)  # (len(heads),)
            improve = best < v[heads] - tol
            if not improve.any():
                break
            v[heads[improve]] = best[improve]
        else:
            return None
    u = c[np.arange(n), pi] - v[pi]
    if np.abs(u).max() + np.abs(v).max() > 8.0 * bound:
        return None  # potentials this large would cost precision in the reduced matrix
    return u, v
