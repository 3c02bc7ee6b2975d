"""The Delaunay simplex of a set of centres that contains a point, found locally and certified.

For points ``c_j`` (n, d) and a query ``w``, the Delaunay triangulation's barycentric
coordinates of ``w`` solve the linear programme (Rajan 1991; the lifting map)

    minimise  sum_j lambda_j ||c_j||^2
    s.t.      sum_j lambda_j c_j = w,  sum_j lambda_j = 1,  lambda >= 0,

whose optimal basis is the Delaunay simplex containing ``w`` (its lifted facet is the
lower convex hull of ``(c_j, ||c_j||^2)`` above ``w``). It is feasible exactly when ``w``
lies in the convex hull of the centres. The interpolation ``w -> sum_j lambda_j z_j`` is
therefore a continuous piecewise-linear map on that hull, linear on each Delaunay
simplex, and the same simplex is found for every ``w`` it contains, whatever the
search order: the triangulation is global, not a per-sample choice.

Each sample is solved on a few nearest centres and *certified* against all of them:
the LP's dual ``(a, b)`` is the affine function through the lifted simplex, and the
simplex is Delaunay iff no centre lies strictly inside its circumsphere, i.e.
``||c_j||^2 >= <a, c_j> + b`` for every ``j``, one matrix product over all centres.
Violating centres join the candidates and the LP is solved again (column generation),
so the answer equals the LP over all ``n`` centres. Points outside the hull are
certified by a separating hyperplane ``<u, w> > max_j <u, c_j>`` found by Gilbert's
(Frank-Wolfe) iterations towards the hull point nearest ``w``, again one matrix product
per iteration; in high dimension nearly every uniform point of the box is outside the
hull of n << 2^d centres and is certified in one or two iterations.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import linprog
from torch import Tensor

_CANDIDATES = 4  # initial candidates per sample: this many times d + 1 nearest centres
_GILBERT_STEPS = 32  # separating-hyperplane iterations before an LP decides
_ROUNDS = 8  # column-generation rounds before the LP runs over every centre
_TOL = 1e-9  # relative tolerance of the certificates


def containing_simplex(w: Tensor, centers: Tensor, *, chunk_size: int = 4096) -> tuple[Tensor, Tensor, Tensor]:
    """Delaunay simplex of ``centers`` (n, d) containing each row of ``w`` (m, d).

    Returns ``idx`` (m, d + 1) long, ``lam`` (m, d + 1) float64 and ``inside`` (m,) bool:
    ``w = sum_j lam_j centers[idx_j]`` with ``lam >= 0`` summing to 1 where ``inside``;
    unused slots (``w`` on a lower-dimensional face) carry ``lam = 0`` and repeat the
    first index. Rows outside the convex hull get ``inside = False``, ``lam = 0``.
    Everything in float64 on the CPU (the LPs run in scipy's HiGHS).
    """
    return _Hull(centers).locate(w, chunk_size=chunk_size)


class _Hull:
    """Centres prepared once for :func:`containing_simplex`: centred, scaled, lifted, and the
    support values ``max_j <u, c_j>`` of fixed directions (the axes and random ones), which
    certify most outside points with a few dot products."""

    N_DIRECTIONS = 64  # random directions besides the 2d axis directions

    def __init__(self, centers: Tensor):
        c = centers.detach().to("cpu", torch.float64)  # (n, d)
        self.mean = c.mean(0) if c.shape[0] else torch.zeros(c.shape[1], dtype=torch.float64)
        self.scale = float((c - self.mean).abs().max()) if c.numel() else 1.0
        self.scale = self.scale or 1.0
        self.c = (c - self.mean) / self.scale  # the LP is invariant, its numbers tame
        self.sq = (self.c * self.c).sum(1)  # (n,) lifted heights
        d = c.shape[1]
        g = torch.Generator().manual_seed(0)
        rand = torch.randn(self.N_DIRECTIONS, d, generator=g, dtype=torch.float64)
        eye = torch.eye(d, dtype=torch.float64)
        self.u = torch.cat([eye, -eye, rand / rand.norm(dim=1, keepdim=True)])  # (k, d) unit directions
        self.support = (self.c @ self.u.T).amax(0) if c.shape[0] else torch.full((self.u.shape[0],), -math.inf)

    def locate(self, w: Tensor, *, chunk_size: int = 4096) -> tuple[Tensor, Tensor, Tensor]:
        x = (w.detach().to("cpu", torch.float64) - self.mean) / self.scale  # (m, d)
        m, d = x.shape
        n = self.c.shape[0]
        idx = torch.zeros(m, d + 1, dtype=torch.long)
        lam = torch.zeros(m, d + 1, dtype=torch.float64)
        inside = torch.zeros(m, dtype=torch.bool)
        if m == 0 or n == 0:
            return idx, lam, inside
        tol = _TOL * (1.0 + x.norm(dim=1))
        out = ((x @ self.u.T) - self.support > tol[:, None]).any(1)  # (m,) separated by a fixed direction
        rest = (~out).nonzero().squeeze(1)
        for s in range(0, rest.numel(), chunk_size):
            rows = rest[s : s + chunk_size]
            maybe = rows[~_separated(x[rows], self.c)]  # rows not yet certified outside
            for r in maybe.tolist():
                found = _solve_one(x[r], self.c, self.sq)
                if found is not None:
                    j, v = found
                    idx[r, : len(j)] = torch.as_tensor(j)
                    idx[r, len(j) :] = int(j[0])
                    lam[r, : len(j)] = torch.as_tensor(v, dtype=torch.float64)
                    inside[r] = True
        return idx, lam, inside


def _separated(x: Tensor, c: Tensor) -> Tensor:
    """Rows of ``x`` (s, d) certified outside the hull of ``c`` (n, d) by a hyperplane: (s,) bool.

    Gilbert's algorithm: p is a hull point (start: the centroid); u = x - p; if
    ``<u, x> > max_j <u, c_j>`` the hyperplane separates; else step p towards the
    maximising centre (exact line search). A False row may still be outside.
    """
    done = torch.zeros(x.shape[0], dtype=torch.bool)
    act = torch.arange(x.shape[0])  # rows still undecided
    p = c.mean(0).expand(x.shape[0], -1).clone()  # (s, d)
    c_max = float(c.norm(dim=1).max())
    for _ in range(_GILBERT_STEPS):
        xa, pa = x[act], p[act]
        u = xa - pa  # (a, d)
        best, j = (u @ c.T).max(1)  # (a,) support value and point in direction u
        gap = (u * xa).sum(1) - best  # > 0: separated
        sep = gap > _TOL * (u.norm(dim=1) * (xa.norm(dim=1) + c_max) + 1e-300)
        done[act[sep]] = True
        v = c[j] - pa  # (a, d) direction to the support point
        vv = (v * v).sum(1)
        t = torch.where(vv > 0, ((u * v).sum(1) / vv.clamp_min(1e-300)).clamp(0.0, 1.0), torch.zeros_like(vv))
        p[act] = pa + t[:, None] * v
        act = act[~sep]
        if not act.numel():
            break
    return done


def _solve_one(x: Tensor, c: Tensor, sq: Tensor) -> tuple[list[int], list[float]] | None:
    """The Delaunay simplex containing x (d,), by column generation; None when x is outside.

    Candidates start as the ``4 (d + 1)`` nearest centres; an infeasible LP doubles them
    (nearest first), a non-Delaunay answer adds the ``d + 1`` centres deepest inside its
    circumsphere. After ``_ROUNDS`` rounds the LP runs over every centre.
    """
    n, d = c.shape
    order = torch.argsort(((c - x) ** 2).sum(1))  # (n,) nearest first
    k = min(n, _CANDIDATES * (d + 1))
    cand = order[:k]
    tol = _TOL * (1.0 + float(sq.max()))
    for _ in range(_ROUNDS):
        res = _lp(x, c[cand], sq[cand])
        if res is None:  # infeasible on the candidates: widen, or decide on all centres
            if cand.numel() >= n:
                return None
            k = min(n, 2 * k)
            cand = torch.unique(torch.cat([cand, order[:k]]))
            continue
        lam, a, b = res
        viol = sq - (c @ a + b)  # (n,) >= 0 for every centre iff the simplex is Delaunay
        bad = (viol < -tol).nonzero().squeeze(1)
        if not bad.numel():
            return _support(x, c, cand, lam)
        if bad.numel() > d + 1:  # the deepest violators: the LP stays small
            bad = bad[viol[bad].topk(d + 1, largest=False).indices]
        cand = torch.unique(torch.cat([cand, bad]))
    res = _lp(x, c, sq)  # every centre: exact, slower
    return None if res is None else _support(x, c, torch.arange(n), res[0])


def _support(x: Tensor, c: Tensor, cand: Tensor, lam: Tensor) -> tuple[list[int], list[float]]:
    """The simplex (support of the LP solution, largest weight first) and its exact weights.

    HiGHS meets the equalities to ~1e-7; the barycentric coordinates on the support are
    solved again in float64 (kept where they stay nonnegative).
    """
    keep = (lam > _TOL * lam.max()).nonzero().squeeze(1)
    j = cand[keep]
    sys = torch.cat([c[j].T, torch.ones(1, j.numel(), dtype=c.dtype)])  # (d + 1, s)
    rhs = torch.cat([x, torch.ones(1, dtype=c.dtype)])
    exact = torch.linalg.lstsq(sys, rhs[:, None]).solution[:, 0]
    ok = bool(torch.isfinite(exact).all()) and float(exact.min()) >= 0.0
    ok = ok and float((sys @ exact - rhs).abs().max()) <= 1e-10 * (1.0 + float(rhs.abs().max()))
    weights = exact if ok else lam[keep] / lam[keep].sum()
    order = torch.argsort(-weights, stable=True)
    return j[order].tolist(), weights[order].tolist()


def _lp(x: Tensor, c: Tensor, sq: Tensor) -> tuple[Tensor, Tensor, float] | None:
    """min sq . lam s.t. c' lam = x, 1' lam = 1, lam >= 0; (lam, a, b) or None if infeasible."""
    a_eq = np.vstack([c.numpy().T, np.ones(c.shape[0])])  # (d + 1, k)
    b_eq = np.append(x.numpy(), 1.0)
    res = linprog(sq.numpy(), A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    if res.status != 0:
        return None
    y = np.asarray(res.eqlin.marginals, dtype=np.float64)  # the dual (a, b)
    return torch.as_tensor(res.x, dtype=torch.float64), torch.as_tensor(y[:-1]), float(y[-1])


class Triangulation:
    """The Delaunay triangulation of ``centers`` (n, d), built once, queried by :meth:`locate`.

    Up to ``QHULL_MAX_DIM`` dimensions Qhull builds the whole triangulation (scipy.spatial;
    a point is located by a walk, vectorised); above it, or when Qhull refuses degenerate
    centres, :func:`containing_simplex` solves and certifies the lifting LP per sample.
    Both give the Delaunay simplex containing the point (tested against each other).
    """

    QHULL_MAX_DIM = 4

    def __init__(self, centers: Tensor):
        self.centers = centers.detach().to("cpu", torch.float64)  # (n, d)
        n, d = self.centers.shape
        self._qhull = None
        self._hull: _Hull | None = None
        if d <= self.QHULL_MAX_DIM and n > d + 1:
            from scipy.spatial import Delaunay, QhullError

            try:
                self._qhull = Delaunay(self.centers.numpy())
            except (QhullError, ValueError):  # coplanar / coincident centres: the LP copes
                self._qhull = None

    def locate(self, w: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``idx`` (m, d + 1), ``lam`` (m, d + 1), ``inside`` (m,) as :func:`containing_simplex`."""
        if self._qhull is None:
            if self._hull is None:
                self._hull = _Hull(self.centers)
            return self._hull.locate(w)
        x = w.detach().to("cpu", torch.float64).numpy()
        tri = self._qhull
        s = tri.find_simplex(x)  # (m,) -1 outside the hull
        inside = s >= 0
        t = tri.transform[np.where(inside, s, 0)]  # (m, d + 1, d)
        b = np.einsum("mij,mj->mi", t[:, :-1], x - t[:, -1])  # (m, d)
        lam = np.concatenate([b, 1.0 - b.sum(1, keepdims=True)], 1).clip(0.0, None)  # (m, d + 1)
        lam = lam / lam.sum(1, keepdims=True)
        idx = tri.simplices[np.where(inside, s, 0)]
        order = np.argsort(-lam, axis=1, kind="stable")  # largest weight first, as the LP path
        lam, idx = np.take_along_axis(lam, order, 1), np.take_along_axis(idx, order, 1)
        lam[~inside] = 0.0
        return (torch.as_tensor(idx, dtype=torch.long), torch.as_tensor(lam, dtype=torch.float64),
                torch.as_tensor(inside))
