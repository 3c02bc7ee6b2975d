"""Exact optimal bijection between equal-size point sets, and the OT divergence.

The linear assignment problem (LAP) ``min_perm sum_i c(x_i, y_perm[i])`` is solved exactly by
shortest augmenting paths: scipy's ``linear_sum_assignment`` on the dense matrix for small n,
and for large n the sparse Jonker-Volgenant algorithm (R. Jonker and A. Volgenant, "A shortest
augmenting path algorithm for dense and sparse linear assignment problems", Computing 38, 1987)
of the ``lap`` package (``lap.lapmod``; ``lap.lapjv`` for its dense fallback), all in float64.
It replaces the network simplex of POT's ``ot.emd`` that the AE-OTtrans / AE-OTgen authors used
(Zhang et al. (2019) §3.3) and gives the same optimal cost.

Small n (``n < _SPARSE_MIN_N``, 1200): scipy's ``linear_sum_assignment`` (the shortest augmenting
path of D. F. Crouse, "On implementing 2D rectangular assignment algorithms", IEEE TAES 52, 2016)
on the float64 matrix reduced by its row minima, then its column minima (row and column constants
leave the optimal permutations unchanged; the reduced matrix gives the augmentations a head start:
1.2-2.5x faster than the raw matrix at n = 128-1024). ``lap.lapjv`` is sometimes faster (n = 128;
Gaussian points at n = 1024, d = 8) but its time varies tenfold between data sets (0.02-0.4 s at
n = 1024 in docs/benchmarks/assignment.md, against 0.04-0.05 s for this path). For the squared
cost the matrix is built from x and y centred separately (again row and column constants only),
so an offset between the sets costs nothing.

Large n (``n >= _SPARSE_MIN_N``): a sparse solve certified by pricing, in
:mod:`aeot.ot._certified` (its docstring describes the rounds and why the certificate is exact).
Cost matrices come from :mod:`aeot.ot._costs`.

Speed (docs/benchmarks/assignment.md, ``python benchmarks/assignment.py``, 2-core machine): at n =
4096, i.i.d. Gaussian and uniform points 0.17-0.30 s, 13.3-15.9x faster than POT's ``ot.emd`` and
4.6-6.7x faster than the fastest other exact solver (``lap.lapjv``); 10 Gaussian clusters 0.71 s,
2.4-2.7x faster than ``ot.emd`` (which is fast on clustered data) and than any other solver. At n =
1024 (dense path) 0.99-1.25x the fastest other solver in 5 of the 6 (data, d) cells, 0.51x on
Gaussian d = 8 where ``lap.lapjv`` is fast; at n = 128 0.44-0.74x (the others get the cost matrix
for free there; aeot's own takes 0.07-0.11 ms of its 0.4-0.8 ms). On the sparse path the time goes
to ``lap.lapmod`` (its first solve from zero duals on clustered data: a quarter of the total) and
to the full float32 passes over the n x n entries: two for the candidates and one per pricing round
(2-3 rounds on i.i.d. data, ~6 on clustered data). Uniform square -> two moons
(docs/benchmarks/assignment-uniform-moons.md): at n = 4096 0.8-1.0x POT's time (the network
simplex plus the certificate), 7-14x faster than scipy.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from aeot.ot._certified import certified_sparse
from aeot.ot._costs import cost_matrix

COSTS = ("sqeuclidean", "euclidean")

_SPARSE_MIN_N = 1200  # from this n on: sparse solve certified by pricing (dense below: at
# n = 1024 the dense solve was faster on 3 of 4 benchmark data sets, at n = 1280 slower on 3 of 4)


def assignment(x: torch.Tensor, y: torch.Tensor, *, cost: str = "sqeuclidean") -> torch.Tensor:
    """Exact optimal bijection: ``perm`` (n,) minimising ``sum_i c(x_i, y[perm[i]])``.

    Solves the linear assignment problem exactly (for n < 1200 scipy's shortest augmenting path
    on the reduced float64 matrix; from n = 1200 a sparse Jonker-Volgenant ``lap.lapmod`` solve
    (Jonker & Volgenant 1987) whose optimality is certified by pricing
    every entry, see the module docstring); this is the bijection sigma of AE-OTgen / AE-OTtrans
    (Zhang et al. (2019) §3.2-3.3), which the authors computed with POT's network simplex.
    ``cost="sqeuclidean"`` uses ``|x_i - y_j|^2``, ``cost="euclidean"`` uses ``|x_i - y_j|``.
    Ties (duplicate points, integer grids) are allowed; any optimal permutation may be returned.

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
    if n >= _SPARSE_MIN_N:
        perm = certified_sparse(x64, y64, cost)
    else:
        if cost == "sqeuclidean":  # row and column constants only: same optimal permutations
            x64, y64 = x64 - x64.mean(0), y64 - y64.mean(0)
        perm = _reduced_lsa(cost_matrix(x64, y64, cost).numpy())
    return torch.from_numpy(perm).to(device)


def ot_divergence(x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean Euclidean distance moved under the exact optimal transport between x and y.

    The OT divergence of AE-OTgen (Zhang et al. (2019) §4): "the average distance when transporting
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
    c = cost_matrix(x, y, "euclidean").numpy()  # (n, m)
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




def _reduced_lsa(c: np.ndarray) -> np.ndarray:
    """Optimal permutation (n,) int64 of the dense float64 matrix c, reduced in place by its row
    minima, then its column minima, and solved by scipy's ``linear_sum_assignment``."""
    from scipy.optimize import linear_sum_assignment  # scipy is a dependency of aeot

    c -= c.min(1, keepdims=True)
    c -= c.min(0, keepdims=True)
    rows, perm = linear_sum_assignment(c)
    perm = np.asarray(perm, dtype=np.int64)
    assert np.array_equal(rows, np.arange(c.shape[0])), "linear_sum_assignment did not return every row"
    return perm

