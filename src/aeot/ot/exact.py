"""Exact optimal bijection between equal-size point sets, and the OT divergence.

The linear assignment problem (LAP) ``min_perm sum_i c(x_i, y_perm[i])`` is solved exactly by
shortest augmenting paths: scipy's ``linear_sum_assignment`` on the dense matrix for small n,
and for large n the sparse Jonker-Volgenant algorithm (R. Jonker and A. Volgenant, "A shortest
augmenting path algorithm for dense and sparse linear assignment problems", Computing 38, 1987)
of the ``lap`` package (``lap.lapmod``; ``lap.lapjv`` for its dense fallback), all in float64.
It replaces the network simplex of POT's ``ot.emd`` that the AE-OTtrans / AE-OTgen authors used
(paper 004 §3.3) and gives the same optimal cost.

Small n (``n < _SPARSE_MIN_N``, 1200): scipy's ``linear_sum_assignment`` (the shortest augmenting
path of D. F. Crouse, "On implementing 2D rectangular assignment algorithms", IEEE TAES 52, 2016)
on the float64 matrix reduced by its row minima, then its column minima (row and column constants
leave the optimal permutations unchanged; the reduced matrix gives the augmentations a head start:
1.2-2.5x faster than the raw matrix at n = 128-1024). ``lap.lapjv`` is sometimes faster (n = 128;
Gaussian points at n = 1024, d = 8) but its time varies tenfold between data sets (0.02-0.4 s at
n = 1024 in docs/benchmarks/assignment.md, against 0.04-0.05 s for this path). For the squared
cost the matrix is built from x and y centred separately (again row and column constants only),
so an offset between the sets costs nothing.

Large n: a sparse solve certified by pricing (column generation; the classic scheme of sparse
LAP / network-flow codes). Candidate edges: the k nearest neighbours of every row and of every
column, the sorted matchings along two principal axes and the identity (so a perfect matching
exists). Each round solves the LAP on the candidates (``lap.lapmod``), computes exact dual
potentials (u, v) (Bellman-Ford on the residual graph: ``c_ij - u_i - v_j >= 0`` on every
candidate, ``= 0`` on the matching) and *prices* the whole matrix in chunks (float32 matrix
products, no n x n array): if no entry has ``c_ij - u_i - v_j < -tol`` the duals are feasible for
the full problem and, by LP duality, the sparse optimum is optimal for it. Otherwise the most
violated entries (a few per row, one per column) join the candidates and the next round starts
from the current duals. When the rounds stall (more than n violations after the first one: the
optimal matching moves points far from their nearest neighbours, e.g. a uniform square matched to
two moons, the OTtrans case), POT's network simplex (``ot.emd``) solves the dense problem and the
near-tight edges under its duals seed new rounds, which certify its optimum (its own float64
duals, summed along its spanning tree, are off by more than the certificate's tolerance on large
n). After ``_MAX_ROUNDS`` rounds lap.lapjv gets the full float64 matrix reduced by the last duals
(same optimal permutations, less work).

Exactness never depends on the heuristics: every priced entry whose float32 reduced cost is below
a rigorous rounding bound is recomputed in float64 from the coordinate differences, so a false
certificate would need a violation below ``tol = 1e-12 x`` the cost scale per row, i.e. the order
of float64 rounding of the costs themselves. For the squared cost, x and y are centred
separately (this changes ``c_ij`` by row and column constants only), which makes shifted point
sets as easy as centred ones. Memory is O(n (d + k)) plus float32 chunks of 2^20 entries (the
dense fallback alone needs an n x n float64 matrix).

Speed (docs/benchmarks/assignment.md, ``python benchmarks/assignment.py``, 2-core machine):
at n = 4096, Gaussian points 0.21 s (d = 8) and 0.31 s (d = 64), 16.6x and 14.8x faster than
POT's ``ot.emd`` and 4.3-5.0x faster than the fastest other exact solver (``lap.lapjv``);
10 Gaussian clusters 0.7-0.8 s, 2.5-3.0x faster than ``ot.emd`` (which is fast on clustered
data) and 2.5-2.6x faster than any other solver. At n = 1024 (dense path) 1.0-1.2x the fastest
other solver in 3 of the 4 (data, d) cells, 0.53x on Gaussian d = 8 where ``lap.lapjv`` is fast; at
n = 128 0.54-0.78x (the others get the cost matrix for free there; aeot's own, with the input
checks, is a third of its 0.3-0.5 ms). On the sparse path the time goes to ``lap.lapmod`` (its
first solve from zero duals on clustered data: a quarter of the total) and to the full float32
passes over the n x n entries: two for the candidates and one per pricing round (2-3 rounds on
Gaussian data, ~6 on clustered data). Uniform square -> two moons
(docs/benchmarks/assignment-uniform-moons.md): at n = 4096 0.7-0.9x POT's time (the network
simplex plus the certificate), 6-12x faster than scipy; at n = 1024 0.4-0.85x POT's time. Before
the hand-over, the same 2-D instance at n = 5000 took 125 s.
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

_SPARSE_MIN_N = 1200  # from this n on: sparse solve certified by pricing (dense below: at
# n = 1024 the dense solve was faster on 3 of 4 benchmark data sets, at n = 1280 slower on 3 of 4)
_EXACT_MAX_ELEMENTS = 1 << 14  # up to this n*m*d every cost comes from the differences
_N_NEIGHBOURS = 8  # candidate edges per row and per column
_NUMPY_MAX_ELEMENTS = 1 << 18  # cost matrices up to this n*m by numpy (torch's threads above)
_NEAR = 1e-4  # matrix-product costs below this times the squared-norm scale are recomputed
_N_AXES = 2  # principal axes whose sorted matchings join the candidate edges
_N_ADD = 4  # violated entries added per row in a pricing round
_ENRICH = 8  # near-tight edges per row added in the first pricing rounds
_ENRICH_ROUNDS = 1
_MAX_ROUNDS = 12  # pricing rounds before the dense fallback
_STALL = 1.0  # more violated entries than this * n after the enrichment round: dense fallback
_MAX_EDGES_PER_ROW = 64  # more candidate edges than this * n: dense fallback
_MIN_DISTINCT = 0.4  # fewer distinct points than this * n on either side: dense solver
_TOL = 1e-12  # violations below this times the cost scale count as rounding
_BF_MAX_ITER = 2000  # Bellman-Ford sweeps before giving up on the duals
_REFINE_CHUNK = 1 << 22  # elements per chunk of the exact recomputation
_PRICE_CHUNK = 1 << 22  # entries per float32 chunk of the candidate and pricing passes


def assignment(x: torch.Tensor, y: torch.Tensor, *, cost: str = "sqeuclidean") -> torch.Tensor:
    """Exact optimal bijection: ``perm`` (n,) minimising ``sum_i c(x_i, y[perm[i]])``.

    Solves the linear assignment problem exactly (for n < 1200 scipy's shortest augmenting path
    on the reduced float64 matrix; from n = 1200 a sparse Jonker-Volgenant ``lap.lapmod`` solve
    (Jonker & Volgenant 1987) whose optimality is certified by pricing
    every entry, see the module docstring); this is the bijection sigma of AE-OTgen / AE-OTtrans
    (paper 004 §3.2-3.3), which the authors computed with POT's network simplex.
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
        perm = _certified_sparse(x64, y64, cost)
    else:
        if cost == "sqeuclidean":  # row and column constants only: same optimal permutations
            x64, y64 = x64 - x64.mean(0), y64 - y64.mean(0)
        perm = _reduced_lsa(_cost_matrix(x64, y64, cost).numpy())
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
    c = _cost_matrix(x, y, "euclidean").numpy()  # (n, m)
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


def _pair_costs(x: np.ndarray, y: np.ndarray, rows: np.ndarray, cols: np.ndarray, cost: str) -> np.ndarray:
    """Costs c(x[rows[e]], y[cols[e]]) (E,) from the coordinate differences, in chunks."""
    out = np.empty(rows.shape[0])
    step = max(1, _REFINE_CHUNK // x.shape[1])
    for s in range(0, rows.shape[0], step):
        diff = x[rows[s:s + step]] - y[cols[s:s + step]]  # (b, d)
        np.einsum("ij,ij->i", diff, diff, out=out[s:s + step])
    return np.sqrt(out, out=out) if cost == "euclidean" else out


def _cost_matrix(x: np.ndarray, y: np.ndarray, cost: str) -> torch.Tensor:
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
        step = max(1, _REFINE_CHUNK // (m * d))
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
    c.numpy()[rows, cols] = _pair_costs(x, y, rows, cols, "sqeuclidean")
    if cost == "euclidean":
        c.sqrt_()
    return c


# ----------------------------------------------------------------------------- sparse solve + pricing


def _certified_sparse(x: np.ndarray, y: np.ndarray, cost: str) -> np.ndarray:
    """Optimal permutation (n,) for large n: sparse LAP, certified by pricing the full matrix.

    Each round solves the LAP on the candidate edges (lap.lapmod on costs reduced by the previous
    round's duals), takes its exact duals (Bellman-Ford) and prices every entry of the full
    matrix; entries that violate dual feasibility join the candidates. No violation: the sparse
    optimum is optimal for the full problem. When the rounds stall (more than ``_STALL * n``
    violations after the first enrichment: the nearest-neighbour candidates miss a matching that
    moves points far, as from a uniform square to two moons), POT's network simplex solves the
    dense problem and its near-tight edges seed new rounds, which certify its optimum. After
    ``_MAX_ROUNDS`` rounds (or a failed round) lap.lapjv gets the matrix reduced by the last duals.
    """
    n = x.shape[0]
    # sqeuclidean: centring x and y separately changes c_ij by row and column constants only
    # (the optimal permutations are the same) and removes any offset between the two sets.
    if cost == "sqeuclidean":
        xp, yp = x - x.mean(0), y - y.mean(0)  # (n, d) each
    else:
        mean = (x.sum(0) + y.sum(0)) / (2 * n)
        xp, yp = x - mean, y - mean
    top = max(float(np.abs(xp).max()), float(np.abs(yp).max()))
    if top == 0.0:
        return np.arange(n)  # all points equal: every permutation is optimal
    if top > 1e150 or top < 1e-150:  # float64 squares would overflow or underflow
        raise ValueError(f"coordinates too large or too small for float64 costs (largest centred "
                         f"coordinate {top:.3g}); rescale the points")
    scale = 2.0 ** -math.frexp(top)[1]  # a power of 2: exact, and the float32 passes stay in range
    xp, yp = xp * scale, yp * scale
    u, v = np.zeros(n), np.zeros(n)
    if min(_n_distinct(x), _n_distinct(y)) < _MIN_DISTINCT * n:
        # many exact duplicates: identical rows get different sparse duals (ties), so pricing
        # rounds converge slowly; the dense solver handles the ties directly
        return _dense(xp, yp, cost, u, v)
    keys = _candidates(x - x.mean(0), y - y.mean(0), scale)
    pi, u, v, stalled = _pricing_rounds(xp, yp, cost, keys, u, v, stall=True)
    if pi is None and stalled:
        seeded = _network_simplex_seed(xp, yp, cost)
        if seeded is not None:
            pi, u, v, _ = _pricing_rounds(xp, yp, cost, *seeded, stall=False)
    return pi if pi is not None else _dense(xp, yp, cost, u, v)


def _pricing_rounds(xp, yp, cost, keys, u, v, *, stall: bool):
    """Rounds of sparse solve + pricing from the candidate ``keys`` and starting duals (u, v).

    Returns ``(pi, u, v, stalled)``: ``pi`` the certified optimal permutation, or None (then u, v
    are the last duals, and ``stalled`` says whether the rounds stopped for lack of progress)."""
    n = xp.shape[0]
    rows, cols = np.divmod(keys, n)
    vals = _pair_costs(xp, yp, rows, cols, cost)  # (E,)
    for rnd in range(_MAX_ROUNDS):
        solved = _sparse_solve(n, keys, rows, cols, vals, u, v)
        if solved is None:
            break
        pi, u, v, tol = solved
        new = _price(xp, yp, cost, keys, pi, u, v, tol, _ENRICH if rnd < _ENRICH_ROUNDS else 0)
        if new.size == 0:
            return pi, u, v, False  # certified optimal
        if stall and rnd >= _ENRICH_ROUNDS and new.size > _STALL * n:
            return None, u, v, True  # duals far from optimal: long-range matching
        new_rows, new_cols = np.divmod(new, n)
        keys, vals = _merge(keys, vals, new, _pair_costs(xp, yp, new_rows, new_cols, cost))
        if keys.size > _MAX_EDGES_PER_ROW * n:
            break
        rows, cols = np.divmod(keys, n)
    return None, u, v, False


def _merge(keys: np.ndarray, vals: np.ndarray, new: np.ndarray, new_vals: np.ndarray):
    """Sorted union of two key sets (E,), (F,) with their costs (a key in both keeps one cost):
    only the new edges' costs are computed in a round."""
    k = np.concatenate([keys, new])  # (E + F,)
    order = np.argsort(k, kind="stable")
    k = k[order]
    keep = np.r_[True, k[1:] != k[:-1]]
    return k[keep], np.concatenate([vals, new_vals])[order][keep]


def _network_simplex_seed(xp: np.ndarray, yp: np.ndarray, cost: str):
    """Candidate keys and duals from POT's network simplex on the dense matrix: its permutation
    plus each row's and column's ``_N_NEIGHBOURS`` smallest reduced costs under its duals; None
    if it fails. Its duals are float64 sums along the spanning tree, off by more than our
    certificate's tolerance on large n, so they seed certified rounds instead of certifying."""
    import ot  # POT is a dependency of aeot

    n = xp.shape[0]
    c = _cost_matrix(xp, yp, cost)  # (n, n) float64 tensor
    w = np.full(n, 1.0 / n)
    g, log = ot.emd(w, w, c.numpy(), numItermax=max(100_000, 50 * n * n), log=True)
    if log.get("warning") or log.get("result_code") != 1:
        return None
    perm = np.asarray(g.argmax(1), dtype=np.int64)  # (n,): a vertex of the Birkhoff polytope
    del g
    if not np.array_equal(np.sort(perm), np.arange(n)):
        return None
    u, v = np.asarray(log["u"], dtype=np.float64), np.asarray(log["v"], dtype=np.float64)
    if not (np.isfinite(u).all() and np.isfinite(v).all()):
        return None
    c -= torch.from_numpy(u).unsqueeze(1)
    c -= torch.from_numpy(v).unsqueeze(0)  # reduced costs, ~0 on the optimal matching
    k = min(_N_NEIGHBOURS, n)
    row_nb = torch.topk(c, k, dim=1, largest=False, sorted=False).indices.numpy()  # (n, k)
    col_nb = torch.topk(c, k, dim=0, largest=False, sorted=False).indices.numpy()  # (k, n)
    rows = np.concatenate([np.arange(n), np.repeat(np.arange(n), k), col_nb.reshape(-1)])
    cols = np.concatenate([perm, row_nb.reshape(-1), np.tile(np.arange(n), k)])
    return np.unique(rows * n + cols), u, v


def _candidates(xs: np.ndarray, ys: np.ndarray, scale: float) -> np.ndarray:
    """Sorted keys i * n + j of the candidate edges (E,): each row's and each column's k nearest
    (squared distance between the separately centred sets, float32 matrix products in chunks),
    plus the sorted matchings along principal axes (a perfect matching: the problem is feasible)."""
    n, k = xs.shape[0], min(_N_NEIGHBOURS, xs.shape[0])
    xs, ys = xs * scale, ys * scale
    row_nb = _nearest(xs, ys, k)  # (n, k) columns nearest to each row
    col_nb = _nearest(ys, xs, k)  # (n, k) rows nearest to each column
    rows = [np.repeat(np.arange(n), k), col_nb.reshape(-1)]
    cols = [row_nb.reshape(-1), np.repeat(np.arange(n), k)]
    for axis in _principal_axes(xs, ys, _N_AXES):
        rows.append(np.argsort(xs @ axis, kind="stable"))
        cols.append(np.argsort(ys @ axis, kind="stable"))
    rows.append(np.arange(n))  # the identity too: feasible even without an axis
    cols.append(np.arange(n))
    return np.unique(np.concatenate(rows).astype(np.int64) * n + np.concatenate(cols))


def _nearest(a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """Indices (n, k) of the k points of b nearest to each point of a (float32 chunks)."""
    at, bt = torch.from_numpy(a).float(), torch.from_numpy(b).float()  # (n, d), (m, d)
    bn = (bt * bt).sum(1)  # (m,)
    step = max(1, _PRICE_CHUNK // b.shape[0])
    return torch.cat([
        torch.topk(torch.addmm(bn.unsqueeze(0), at[s:s + step], bt.T, alpha=-2.0), k, dim=1,
                   largest=False, sorted=False).indices  # (b, k): |b_j|^2 - 2 a.b_j
        for s in range(0, a.shape[0], step)]).numpy()


def _principal_axes(xc: np.ndarray, yc: np.ndarray, k: int) -> list[np.ndarray]:
    """Top-k principal directions of the pooled centred points (deterministic power iteration;
    rough axes suffice: they only seed candidate edges)."""
    d = xc.shape[1]
    axes: list[np.ndarray] = []
    for a in range(min(k, d)):
        w = np.ones(d)
        w[a] += 1.0  # deterministic start
        norm = 0.0
        for _ in range(8):
            w = (xc @ w) @ xc + (yc @ w) @ yc  # (d,) scatter @ w
            for prev in axes:
                w -= (w @ prev) * prev
            norm = float(np.sqrt(w @ w))
            if norm == 0.0 or not math.isfinite(norm):
                break
            w = w / norm
        if norm > 0.0 and math.isfinite(norm):
            axes.append(w)
    return axes


def _sparse_solve(n, keys, rows, cols, vals, u0, v0):
    """Optimum pi (n,) of the LAP on the edges (rows, cols, vals) and exact duals (u, v) with
    ``vals - u[rows] - v[cols] >= -tol`` everywhere and ``== 0`` (within tol) on pi; or None.

    lap.lapmod gets the costs reduced by (u0, v0) (any row/column constants: same optimum, less
    work when they are nearly optimal duals); the duals are then shortest-path distances in the
    residual graph (edges pi(i) -> j of weight r_ij - r_i,pi(i); Bellman-Ford, Jacobi sweeps).
    """
    first = np.searchsorted(rows, np.arange(n + 1))  # (n + 1,) row starts
    r = vals - u0[rows] - v0[cols]  # (E,)
    row_min = np.minimum.reduceat(r, first[:-1])  # every row has an edge
    u0 = u0 + row_min
    r -= row_min[rows]  # >= 0, one zero per row
    span = float(r.max())
    try:
        pi, _ = _lap.lapmod(n, r * (1000.0 / span) if span > 0 else r, first.astype(np.int32),
                            cols.astype(np.int32), return_cost=False)
    except (ValueError, RuntimeError):
        return None
    pi = np.asarray(pi, dtype=np.int64)
    if pi.shape != (n,) or not np.array_equal(np.sort(pi), np.arange(n)):
        return None
    pos = np.searchsorted(keys, np.arange(n) * n + pi)
    if not np.array_equal(keys[np.minimum(pos, keys.size - 1)], np.arange(n) * n + pi):
        return None
    r_pi = r[pos]  # (n,)
    src, w = pi[rows], r - r_pi[rows]
    keep = src != cols
    src, dst, w = src[keep], cols[keep], w[keep]
    order = np.argsort(dst, kind="stable")
    src, dst, w = src[order], dst[order], w[order]
    scale_ = max(float(np.abs(vals).max()), float(np.abs(u0).max()), float(np.abs(v0).max()))
    tol = _TOL * scale_
    dv = np.zeros(n)
    if dst.size:
        starts = np.flatnonzero(np.r_[True, dst[1:] != dst[:-1]])
        heads = dst[starts]
        for _ in range(_BF_MAX_ITER):
            best = np.minimum.reduceat(dv[src] + w, starts)  # (len(heads),)
            improve = best < dv[heads] - 0.1 * tol
            if not improve.any():
                break
            dv[heads[improve]] = best[improve]
        else:
            return None  # no convergence: pi is not optimal on the candidates (rounding)
    v = v0 + dv
    u = u0 + r_pi - dv[pi]
    reduced = vals - u[rows] - v[cols]
    if reduced.min() < -tol or np.abs(reduced[pos]).max() > tol:
        return None  # complementary slackness / feasibility lost to rounding
    return pi, u, v, tol


def _price(xp, yp, cost, keys, pi, u, v, tol, enrich=0) -> np.ndarray:
    """Keys (sorted) of entries outside the candidates with reduced cost below -tol; empty when
    (u, v) is feasible for the full matrix, i.e. the sparse optimum is optimal.

    The reduced costs ``c_ij - u_i - v_j`` are computed in float32 chunks (matrix products) with a
    rigorous rounding margin ``s_i + s_j``; every entry below the margin is recomputed exactly from
    the coordinate differences, so rounding can never give a false certificate.
    """
    n, d = xp.shape
    eps = float(np.finfo(np.float32).eps)
    xn, yn = np.einsum("ij,ij->i", xp, xp), np.einsum("ij,ij->i", yp, yp)  # (n,), (n,) <= d
    if cost == "sqeuclidean":  # r = (|x|^2 - u) + (|y|^2 - v) - 2 x.y
        a, b = xn - u, yn - v
        a_off = a - eps * (d + 8) * (2 * xn + np.abs(a)) - 1e-20
        b_off = b - eps * (d + 8) * (2 * yn + np.abs(b)) - 1e-20
    else:  # r = sqrt(|x|^2 + |y|^2 - 2 x.y) - u - v, |sqrt(c') - sqrt(c)| <= sqrt|c' - c|
        a_off = u + np.sqrt(eps * 2 * (d + 8) * xn) + eps * 4 * (np.abs(u) + np.sqrt(xn)) + 1e-20
        b_off = v + np.sqrt(eps * 2 * (d + 8) * yn) + eps * 4 * (np.abs(v) + np.sqrt(yn)) + 1e-20
    if cost == "sqeuclidean":  # one matrix product: [x, a, 1] . [-2 y, 1, b] = r
        one = np.ones((n, 1))
        xt = torch.from_numpy(np.hstack([xp, a_off[:, None], one])).float()  # (n, d + 2)
        yt = torch.from_numpy(np.hstack([-2.0 * yp, one, b_off[:, None]])).float()  # (n, d + 2)
    else:
        xt, yt = torch.from_numpy(xp).float(), torch.from_numpy(yp).float()  # (n, d)
        at, bt = torch.from_numpy(a_off).float(), torch.from_numpy(b_off).float()  # (n,)
        xnt, ynt = torch.from_numpy(xn).float(), torch.from_numpy(yn).float()
    first = np.searchsorted(keys, np.arange(n + 1) * n)  # candidate row starts
    k = min(_N_ADD, n)
    fi, fj, full_rows = [], [], [np.zeros(0, dtype=np.int64)]
    ei, ej = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    step = max(1, _PRICE_CHUNK // n)
    for s in range(0, n, step):
        e = min(n, s + step)
        if cost == "sqeuclidean":
            r = xt[s:e] @ yt.T  # (b, n)
        else:
            r = torch.addmm(ynt.unsqueeze(0), xt[s:e], yt.T, alpha=-2.0)
            r += xnt[s:e].unsqueeze(1)
            r.clamp_(min=0.0).sqrt_()
            r -= at[s:e].unsqueeze(1)
            r -= bt.unsqueeze(0)
        sk = keys[first[s]:first[e]]  # candidate edges of these rows: already certified
        r[torch.from_numpy(sk // n - s), torch.from_numpy(sk % n)] = math.inf
        if enrich:  # every row's `enrich` smallest reduced costs (near-tight edges) join
            val, idx = torch.topk(r, min(enrich, n), dim=1, largest=False, sorted=False)
            i, j = torch.nonzero(val < math.inf, as_tuple=True)
            ei.append(i.numpy() + s)
            ej.append(idx[i, j].numpy())
        bad_rows = torch.nonzero(r.amin(1) < 0).squeeze(1)
        if bad_rows.numel():
            val, idx = torch.topk(r[bad_rows], min(k + 1, n), dim=1, largest=False, sorted=False)
            hit = val < 0
            i, j = torch.nonzero(hit, as_tuple=True)
            fi.append(bad_rows[i].numpy() + s)
            fj.append(idx[i, j].numpy())
            full_rows.append(bad_rows[hit.all(1)].numpy() + s)  # more than k+1 flagged entries
    fi.append(np.zeros(0, dtype=np.int64))
    fj.append(np.zeros(0, dtype=np.int64))
    fi, fj = np.concatenate(fi).astype(np.int64), np.concatenate(fj).astype(np.int64)
    exact_r = _pair_costs(xp, yp, fi, fj, cost) - u[fi] - v[fj]
    bad = exact_r < -tol
    unchecked = np.setdiff1d(np.concatenate(full_rows), fi[bad])  # rows with no violation found yet
    found = [fi[bad] * n + fj[bad]]
    if unchecked.size:  # rows with many entries below the margin (near-ties, or the Euclidean
        found.append(_exact_violations(xp, yp, cost, keys, first, unchecked, u, v, tol))  # sqrt bound)
    found = np.concatenate(found)
    if not found.size:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.r_[found, np.concatenate(ei) * n + np.concatenate(ej)])


def _exact_violations(xp, yp, cost, keys, first, rows, u, v, tol) -> np.ndarray:
    """Keys of the entries of ``rows`` outside the candidates whose float64 reduced cost (from
    the coordinate differences) is below -tol; the rows in chunks of ``_REFINE_CHUNK`` elements."""
    n, d = xp.shape
    out = [np.zeros(0, dtype=np.int64)]
    step = max(1, _REFINE_CHUNK // (n * d))
    for s in range(0, rows.size, step):
        r_rows = rows[s:s + step]  # (b,)
        diff = xp[r_rows, None, :] - yp[None, :, :]  # (b, n, d)
        r = np.einsum("ijk,ijk->ij", diff, diff)  # (b, n)
        if cost == "euclidean":
            np.sqrt(r, out=r)
        r -= u[r_rows, None]
        r -= v[None, :]
        for a, i in enumerate(r_rows):  # candidate edges are certified already
            r[a, keys[first[i]:first[i + 1]] % n] = np.inf
        a, j = np.nonzero(r < -tol)
        out.append(r_rows[a] * n + j)
    return np.concatenate(out)


def _dense(xp: np.ndarray, yp: np.ndarray, cost: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Fallback: lap.lapjv on the full float64 matrix reduced by (u, v) when those are sane (any
    row and column constants leave the optimal permutations unchanged)."""
    c = _cost_matrix(xp, yp, cost)  # (n, n)
    bound = float(c.max())
    if np.isfinite(u).all() and np.isfinite(v).all() and np.abs(u).max() + np.abs(v).max() <= 8 * bound:
        c -= torch.from_numpy(u).unsqueeze(1)
        c -= torch.from_numpy(v).unsqueeze(0)
    return _lapjv(c.numpy())


def _n_distinct(a: np.ndarray) -> int:
    """Number of distinct rows of a (n, d), up to collisions of one random projection (which can
    only lower the count; it decides a heuristic, never the optimum). 1-D: ~50x faster than
    ``np.unique(a, axis=0)``, whose 3 ms at n = 1024 were a tenth of the whole solve."""
    w = np.random.default_rng(0).standard_normal(a.shape[1])  # (d,) fixed: deterministic
    proj = a[:, 0] * w[0]  # (n,): elementwise, so equal rows give bitwise equal projections
    for k in range(1, a.shape[1]):  # (a BLAS product may round rows differently by position)
        proj += a[:, k] * w[k]
    return int(np.unique(proj).size)


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


def _lapjv(c: np.ndarray) -> np.ndarray:
    """Optimal permutation (n,) int64 of the dense float64 matrix c (lap.lapjv)."""
    perm, _ = _lap.lapjv(c, return_cost=False)
    perm = np.asarray(perm, dtype=np.int64)
    assert np.array_equal(np.sort(perm), np.arange(c.shape[0])), "lap.lapjv did not return a permutation"
    return perm
