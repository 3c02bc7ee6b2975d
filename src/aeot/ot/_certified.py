"""The large-n path of :func:`aeot.ot.assignment`: a sparse LAP solve certified by pricing.

Column generation, the classic scheme of sparse LAP / network-flow codes. Candidate edges: the k
nearest neighbours of every row and of every column, the sorted matchings along two principal axes
and the identity (so a perfect matching exists). Each round solves the LAP on the candidates
(``lap.lapmod``), computes exact dual potentials (u, v) (Bellman-Ford on the residual graph:
``c_ij - u_i - v_j >= 0`` on every candidate, ``= 0`` on the matching) and *prices* the whole matrix in
chunks (float32 matrix products, no n x n array): if no entry has ``c_ij - u_i - v_j < -tol`` the
duals are feasible for the full problem and, by LP duality, the sparse optimum is optimal for it.
Otherwise the most violated entries (a few per row, one per column) join the candidates and the
next round starts from the current duals. When the rounds stall (more than n violations after the
first one: the optimal matching moves points far from their nearest neighbours, e.g. a uniform
square matched to two moons, the OTtrans case), POT's network simplex (``ot.emd``) solves the dense
problem and the near-tight edges under its duals seed new rounds, which certify its optimum (its
own float64 duals, summed along its spanning tree, are off by more than the certificate's tolerance
on large n). The same hand-over happens when the rounds run out (``_MAX_ROUNDS``, the edge budget,
a failed round); only if the seeded rounds fail too does lap.lapjv get the full float64 matrix
reduced by the last duals (same optimal permutations, less work).

Exactness never depends on the heuristics: every priced entry whose float32 reduced cost is below
a rigorous rounding bound is recomputed in float64 from the coordinate differences, so a false
certificate would need a violation below ``tol = 1e-12 x`` the cost scale per row, i.e. the order
of float64 rounding of the costs themselves. For the squared cost, x and y are centred
separately (this changes ``c_ij`` by row and column constants only), which makes shifted point
sets as easy as centred ones. Memory is O(n (d + k)) plus float32 chunks of 2^20 entries (the
dense fallback alone needs an n x n float64 matrix).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from aeot.ot._costs import REFINE_CHUNK, cost_matrix, pair_costs
from aeot.ot._sdot_multiscale import carry_potential, cluster
from aeot.ot.semidiscrete import solve_semidiscrete

try:
    import lap as _lap
except ImportError as err:  # a hard dependency: never fall back silently to a slower solver
    raise ImportError(
        "aeot.ot.exact needs the linear assignment solver package 'lap' (a dependency of aeot); "
        "install it with: pip install 'lap>=0.5.12'"
    ) from err

_N_NEIGHBOURS = 8  # candidate edges per row and per column
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
_PRICE_CHUNK = 1 << 22  # entries per float32 chunk of the candidate and pricing passes
_SEED_FACTOR = 8  # the semi-discrete seed is solved on n / _SEED_FACTOR clusters of y
_SEED_TOL = 0.3  # its tolerance (p95 relative cell-mass error): a seed, certified afterwards
_SEED_TOL_MAX = 1e6  # no bound on the largest cell error
_DENSE_MAX_N = 16384  # the dense fallbacks need n x n float64 matrices (2 GiB at this n)


def certified_sparse(x: np.ndarray, y: np.ndarray, cost: str) -> np.ndarray:
    """Optimal permutation (n,) for large n: sparse LAP, certified by pricing the full matrix.

    Each round solves the LAP on the candidate edges (lap.lapmod on costs reduced by the previous
    round's duals), takes its exact duals (Bellman-Ford) and prices every entry of the full
    matrix; entries that violate dual feasibility join the candidates. No violation: the sparse
    optimum is optimal for the full problem. When the rounds stall (more than ``_STALL * n``
    violations after the first enrichment: the nearest-neighbour candidates miss a matching that
    moves points far, as from a uniform square to two moons), and also when the rounds run out
    (``_MAX_ROUNDS``, the edge budget, a failed round), POT's network simplex solves the dense
    problem and its near-tight edges seed new rounds, which certify its optimum. Only if those
    fail too does lap.lapjv get the matrix reduced by the last duals (lapjv's time varies widely
    between data sets, 1-53 s at n = 4096 in docs/benchmarks, the network simplex's 1.7-4 s).
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
    pi, u, v = _pricing_rounds(xp, yp, cost, keys, u, v, stall=True)
    if pi is None:  # stalled, or the rounds ran out or failed: semi-discrete duals seed new ones
        seeded = _semidiscrete_seed(xp, yp, cost)
        if seeded is not None:
            pi, u2, v2 = _pricing_rounds(xp, yp, cost, *seeded, stall=False)
            if pi is None and np.isfinite(u2).all() and np.isfinite(v2).all():
                u, v = u2, v2
    if pi is None and n > _DENSE_MAX_N:
        raise RuntimeError(
            f"assignment: the certified sparse rounds found no optimum for n = {n} points and the dense "
            f"fallbacks (POT's network simplex, lap.lapjv) need an n x n float64 matrix "
            f"({8 * n * n / 2**30:.1f} GiB), refused above n = {_DENSE_MAX_N}; match a subset of the points")
    if pi is None:  # the network simplex seeds new rounds, lapjv if those fail too
        seeded = _network_simplex_seed(xp, yp, cost, u, v)
        if seeded is not None:
            pi, u, v = _pricing_rounds(xp, yp, cost, *seeded, stall=False)
    return pi if pi is not None else _dense(xp, yp, cost, u, v)


def _pricing_rounds(xp, yp, cost, keys, u, v, *, stall: bool):
    """Rounds of sparse solve + pricing from the candidate ``keys`` and starting duals (u, v).

    Returns ``(pi, u, v)``: ``pi`` the certified optimal permutation, or None (then u, v are the
    last duals) when a round fails, the rounds or the edge budget run out, or, with ``stall``,
    they stop for lack of progress."""
    n = xp.shape[0]
    rows, cols = np.divmod(keys, n)
    vals = pair_costs(xp, yp, rows, cols, cost)  # (E,)
    for rnd in range(_MAX_ROUNDS):
        solved = _sparse_solve(n, keys, rows, cols, vals, u, v)
        if solved is None:
            break
        pi, u, v, tol = solved
        new = _price(xp, yp, cost, keys, pi, u, v, tol, _ENRICH if rnd < _ENRICH_ROUNDS else 0)
        if new.size == 0:
            return pi, u, v  # certified optimal
        if stall and rnd >= _ENRICH_ROUNDS and new.size > _STALL * n:
            return None, u, v  # duals far from optimal: long-range matching
        new_rows, new_cols = np.divmod(new, n)
        keys, vals = _merge(keys, vals, new, pair_costs(xp, yp, new_rows, new_cols, cost))
        if keys.size > _MAX_EDGES_PER_ROW * n:
            break
        rows, cols = np.divmod(keys, n)
    return None, u, v


def _merge(keys: np.ndarray, vals: np.ndarray, new: np.ndarray, new_vals: np.ndarray):
    """Sorted union of two key sets (E,), (F,) with their costs (a key in both keeps one cost):
    only the new edges' costs are computed in a round."""
    k = np.concatenate([keys, new])  # (E + F,)
    order = np.argsort(k, kind="stable")
    k = k[order]
    keep = np.r_[True, k[1:] != k[:-1]]
    return k[keep], np.concatenate([vals, new_vals])[order][keep]


def _network_simplex_seed(xp: np.ndarray, yp: np.ndarray, cost: str, u: np.ndarray, v: np.ndarray):
    """Candidate keys and duals from POT's network simplex on the dense matrix: its permutation
    plus each row's and column's ``_N_NEIGHBOURS`` smallest reduced costs under its duals; None
    if it fails. Its duals are float64 sums along the spanning tree, off by more than our
    certificate's tolerance on large n, so they seed certified rounds instead of certifying.

    The last duals (u, v) of the rounds warm-start it (POT's ``potentials_init``, POT >= 0.9.7):
    measured 7-11% faster on the stalled OTtrans-type matchings in d = 8 (n = 4096-5000), no
    change in d = 2."""
    import ot  # POT is a dependency of aeot

    n = xp.shape[0]
    c = cost_matrix(xp, yp, cost)  # (n, n) float64 tensor
    w = np.full(n, 1.0 / n)
    g, log = ot.emd(w, w, c.numpy(), numItermax=max(100_000, 50 * n * n), log=True, potentials_init=(u, v))
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


def _semidiscrete_seed(xp: np.ndarray, yp: np.ndarray, cost: str):
    """Candidate keys and duals ``(keys, u, v)`` from a semi-discrete potential; None if it fails.

    A matching that moves points far (a uniform box matched to clustered codes, the OTtrans
    case) is long-range under the nearest-neighbour candidates but local under good duals. The
    duals of the discrete problem are close to those of the semi-discrete one from the uniform
    measure on x's bounding box to y (exactly the problem when x is a uniform sample of the
    box, as OTtrans's prior): the coarse potential is solved on ``n / _SEED_FACTOR`` clusters of
    y (:func:`aeot.ot.solve_semidiscrete`, tolerance ``_SEED_TOL``) and carried to every point
    of y (:func:`aeot.ot._sdot_multiscale.carry_potential`); ``v_j = |y_j|^2 + 2 h_j`` is then
    the dual of ``|x - y_j|^2``. Candidates: each row's and each column's ``_N_NEIGHBOURS``
    smallest reduced costs under those duals, and the identity. It only seeds certified rounds:
    a poor seed costs time, never exactness. Measured (uniform box in d = 8 -> 10 Gaussian
    clusters): n = 4000 in 0.7 s against 11 s through the network simplex; n = 60,000 in about
    2 minutes with 1.1 GB peak memory, where the dense matrix alone would be 27 GiB.
    """
    n, d = xp.shape
    y = torch.from_numpy(yp)  # (n, d) float64
    lo, hi = xp.min(0), xp.max(0)  # (d,) the source box
    if not (hi > lo).all():
        return None  # x is flat along an axis: no box measure
    nu = torch.full((n,), 1.0 / n, dtype=torch.float64)
    assign, centroids, mass = cluster(y, nu, max(1, n // _SEED_FACTOR), seed=0)
    with warnings.catch_warnings():  # a seed: its accuracy is judged by the certificate
        warnings.simplefilter("ignore")
        res = solve_semidiscrete(centroids, weights=mass, low=torch.from_numpy(lo), high=torch.from_numpy(hi),
                                 tol=_SEED_TOL, tol_max=_SEED_TOL_MAX, normalize=False, seed=0)
    h = carry_potential(y, assign, res.targets, res.potential, res.centers, res.cell_mass,
                        float(np.prod(hi - lo))).numpy()  # (n,)
    v = np.einsum("ij,ij->i", yp, yp) + 2.0 * h  # (n,) duals of |x - y_j|^2
    if not np.isfinite(v).all():
        return None
    k = min(_N_NEIGHBOURS, n)
    row_nb, u = _reduced_nearest(xp, yp, v, k)  # (n, k), (n,) row minima = u
    col_nb, _ = _reduced_nearest(yp, xp, u, k)  # (n, k) rows nearest to each column
    rows = np.concatenate([np.repeat(np.arange(n), k), col_nb.reshape(-1), np.arange(n)])
    cols = np.concatenate([row_nb.reshape(-1), np.repeat(np.arange(n), k), np.arange(n)])
    keys = np.unique(rows.astype(np.int64) * n + cols)
    # the Euclidean cost keeps the squared cost's candidates (same geometry) but starts from zero duals
    return keys, np.zeros(n), v if cost == "sqeuclidean" else np.zeros(n)


def _reduced_nearest(a: np.ndarray, b: np.ndarray, off: np.ndarray, k: int):
    """For each point of a, the k points of b with the smallest ``|a_i - b_j|^2 - off_j`` (float32
    chunks; it only proposes candidates) and that smallest value: ``(idx (n, k), min (n,))``.
    The outputs are allocated before the loop: small per-chunk results kept across a loop of
    large temporaries fragment glibc's heap (measured: 12 GB peak RSS at n = 60,000)."""
    at, bt = torch.from_numpy(a).float(), torch.from_numpy(b).float()  # (n, d), (m, d)
    an, bn = (at * at).sum(1), (bt * bt).sum(1)  # (n,), (m,)
    offt = torch.from_numpy(np.asarray(off, dtype=np.float64)).float()  # (m,)
    idx = torch.empty(a.shape[0], k, dtype=torch.long)  # (n, k)
    low = torch.empty(a.shape[0])  # (n,)
    step = max(1, _PRICE_CHUNK // b.shape[0])
    for s in range(0, a.shape[0], step):
        r = torch.addmm(bn.unsqueeze(0), at[s:s + step], bt.T, alpha=-2.0)  # (b, m)
        r += an[s:s + step].unsqueeze(1)
        r -= offt.unsqueeze(0)
        val, i = torch.topk(r, k, dim=1, largest=False, sorted=False)
        idx[s:s + step] = i
        low[s:s + step] = val.amin(1)
        del r, val, i
    return idx.numpy(), low.double().numpy()


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
    return _reduced_nearest(a, b, np.zeros(b.shape[0]), k)[0]


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
    kk, ke = min(_N_ADD + 1, n), min(enrich, n)
    # per-row results go into arrays allocated before the loop: small results kept between the
    # chunks' large temporaries fragment glibc's heap (peak RSS 8 GB at n = 60,000 otherwise)
    viol_idx = torch.zeros(n, kk, dtype=torch.long)  # (n, kk) each row's most violated entries
    viol_hit = torch.zeros(n, kk, dtype=torch.bool)  # (n, kk) those below the rounding margin
    near_idx = torch.zeros(n, ke, dtype=torch.long)  # (n, ke) each row's near-tight entries
    near_ok = torch.zeros(n, ke, dtype=torch.bool)
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
        if ke:  # every row's `enrich` smallest reduced costs (near-tight edges) join
            val, idx = torch.topk(r, ke, dim=1, largest=False, sorted=False)
            near_idx[s:e], near_ok[s:e] = idx, val < math.inf
        bad_rows = torch.nonzero(r.amin(1) < 0).squeeze(1)
        if 4 * bad_rows.numel() >= e - s:  # most rows: no copy of r
            val, idx = torch.topk(r, kk, dim=1, largest=False, sorted=False)
            viol_idx[s:e], viol_hit[s:e] = idx, val < 0
        elif bad_rows.numel():
            val, idx = torch.topk(r[bad_rows], kk, dim=1, largest=False, sorted=False)
            viol_idx[bad_rows + s], viol_hit[bad_rows + s] = idx, val < 0
        del r
    i, j = torch.nonzero(viol_hit, as_tuple=True)
    fi, fj = i.numpy().astype(np.int64), viol_idx[i, j].numpy().astype(np.int64)
    full_rows = torch.nonzero(viol_hit.all(1)).squeeze(1).numpy()  # more than kk flagged entries
    i, j = torch.nonzero(near_ok, as_tuple=True)
    ei, ej = i.numpy().astype(np.int64), near_idx[i, j].numpy().astype(np.int64)
    exact_r = pair_costs(xp, yp, fi, fj, cost) - u[fi] - v[fj]
    bad = exact_r < -tol
    unchecked = np.setdiff1d(full_rows, fi[bad])  # rows with no violation found yet
    found = [fi[bad] * n + fj[bad]]
    if unchecked.size:  # rows with many entries below the margin (near-ties, or the Euclidean
        found.append(_exact_violations(xp, yp, cost, keys, first, unchecked, u, v, tol))  # sqrt bound)
    found = np.concatenate(found)
    if not found.size:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.r_[found, ei * n + ej])


def _exact_violations(xp, yp, cost, keys, first, rows, u, v, tol) -> np.ndarray:
    """Keys of the entries of ``rows`` outside the candidates whose float64 reduced cost (from
    the coordinate differences) is below -tol; the rows in chunks of ``REFINE_CHUNK`` elements."""
    n, d = xp.shape
    out = [np.zeros(0, dtype=np.int64)]
    step = max(1, REFINE_CHUNK // (n * d))
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
    c = cost_matrix(xp, yp, cost)  # (n, n)
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



def _lapjv(c: np.ndarray) -> np.ndarray:
    """Optimal permutation (n,) int64 of the dense float64 matrix c (lap.lapjv)."""
    perm, _ = _lap.lapjv(c, return_cost=False)
    perm = np.asarray(perm, dtype=np.int64)
    assert np.array_equal(np.sort(perm), np.arange(c.shape[0])), "lap.lapjv did not return a permutation"
    return perm
