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

Each sample is located by a *walk* (:func:`_walk`, batched over samples): from one
Delaunay simplex, cross the facet opposite the most negative barycentric coordinate into
the Delaunay neighbour there, i.e. one pivot of the dual simplex method on the LP above,
so the simplex stays Delaunay at every step and the walk ends in the simplex containing
``w``, or at a hull facet that separates ``w`` from every centre (outside). A walk starts
at the simplex of the nearest *anchor* (up to 512 points inside the hull located once) and
scores only the ``16 (d + 1)`` centres nearest ``w`` per pivot; its answer is certified
over all centres (no lifted centre below the simplex's affine function; no centre beyond
the separating facet), and a row that fails walks again with 8 times the candidates, then
scoring every centre. Walks that meet numerical trouble or run too long fall back to the
LP itself: each sample is then solved on a few nearest centres and *certified* against
all of them: the LP's dual ``(a, b)`` is the affine function through the lifted simplex,
and the simplex is Delaunay iff no centre lies strictly inside its circumsphere, i.e.
``||c_j||^2 >= <a, c_j> + b`` for every ``j``, one matrix product over all centres.
Violating centres join the candidates and the LP is solved again (column generation),
so the answer equals the LP over all ``n`` centres. A found simplex is returned in
canonical form (vertices ascending, weights solved again), so the answer does not depend
on the path. Points outside the hull are certified by a separating hyperplane
``<u, w> > max_j <u, c_j>`` found by Gilbert's (Frank-Wolfe) iterations towards the hull
point nearest ``w``, one float32 matrix product per iteration, counted only beyond the
rigorous float32 error bound; in high dimension nearly every uniform point of the box is
outside the hull of n << 2^d centres and is certified by the first iteration.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import linprog
from torch import Tensor

from aeot.ot._power import float32_error_bound

_CANDIDATES = 4  # initial candidates per sample: this many times d + 1 nearest centres
_GILBERT_STEPS = 32  # separating-hyperplane iterations before an LP decides
_ROUNDS = 8  # column-generation rounds before the LP runs over every centre
_TOL = 1e-9  # relative tolerance of the certificates
_WALK_BATCH = 256  # samples walked together (a (batch, n) float64 matrix per step)
_WALK_STEPS = 2000  # pivots before a walk is left to the LP
_LOCAL = 16  # centres scored per pivot: this many times d + 1 nearest the sample (certified over all)
_ANCHORS = 512  # located points inside the hull where walks start


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
        self.c32 = self.c.float()  # (n, d) for the float32 first certificate
        self.c_norm_max = float(self.c.norm(dim=1).max()) if c.shape[0] else 0.0
        self._anchors: tuple[Tensor, Tensor] | None = None  # (a, d) points, (a, d + 1) their simplices
        self.start = None  # a full Delaunay simplex (d + 1 vertices) where the first walks begin
        if c.shape[0] > d + 1:
            found = _solve_one(self.c.mean(0), self.c, self.sq)
            if found is not None and len(found[0]) == d + 1:
                self.start = torch.as_tensor(found[0], dtype=torch.long)

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
            maybe = rows[~_separated(x[rows], self.c, self.c32)]  # rows not yet certified outside
            if self.start is not None:  # walk the triangulation; what it leaves goes to the LP
                left = []
                for b in range(0, maybe.numel(), _WALK_BATCH):
                    r = maybe[b : b + _WALK_BATCH]
                    simplex, weights, state = self._walk_local(x[r])
                    ok = state == 1  # 1 inside, 0 outside (a hull facet separates), -1 undecided
                    idx[r[ok]], lam[r[ok]], inside[r[ok]] = simplex[ok], weights[ok], True
                    left.append(r[state == -1])
                maybe = torch.cat(left) if left else maybe[:0]
            for r in maybe.tolist():
                found = _solve_one(x[r], self.c, self.sq)
                if found is not None:
                    j, v = found
                    idx[r, : len(j)] = torch.as_tensor(j)
                    idx[r, len(j) :] = int(j[0])
                    lam[r, : len(j)] = torch.as_tensor(v, dtype=torch.float64)
                    inside[r] = True
        return idx, lam, inside


    def _walk_local(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """:func:`_walk` from the nearest anchor's simplex, scoring the ``_LOCAL (d + 1)``
        nearest centres per pivot, certified over all centres inside the walk. Rows whose
        answer fails the certificate (a simplex of the candidates' triangulation that is not
        Delaunay in all, a hull facet of the candidates that is not one of all) walk again
        with 8 times the candidates, and then scoring every centre."""
        xs, simplices = self._anchor_table()
        start = simplices[torch.cdist(x, xs).argmin(1)]  # (b, d + 1)
        d = self.c.shape[1]
        idx = torch.zeros(x.shape[0], d + 1, dtype=torch.long)
        lam = torch.zeros(x.shape[0], d + 1, dtype=torch.float64)
        state = torch.full((x.shape[0],), -1, dtype=torch.long)
        rows, k = torch.arange(x.shape[0]), _LOCAL * (d + 1)
        while rows.numel():
            cand = self._nearest(x[rows], k)
            i, l, s, _ = _walk(x[rows], self.c, self.sq, start[rows], cand)
            idx[rows], lam[rows], state[rows] = i, l, s
            if cand is None:
                break
            rows, k = rows[s == -1], 8 * k
        return idx, lam, state

    def _nearest(self, x: Tensor, k: int) -> Tensor | None:
        """The ``k`` centres nearest each row of ``x`` (b, d): (b, k) indices, ascending; None
        (score every centre) when ``k`` reaches the number of centres."""
        if k >= self.c.shape[0]:
            return None
        near = torch.cdist(x, self.c).topk(k, dim=1, largest=False).indices
        return near.sort(1).values  # ascending index: ratio ties go to the smaller index, as over all

    def _anchor_table(self) -> tuple[Tensor, Tensor]:
        """Points inside the hull and their Delaunay simplices, where walks begin (built once).

        The anchors are centres pulled 1% towards the centroid (inside the hull), located in
        rounds of growing size, each walk starting from the nearest anchor already located;
        the first from the centroid's simplex. A fixed generator: the same centres always
        give the same anchors.
        """
        if self._anchors is None:
            d = self.c.shape[1]
            xs, simplices = self.c.mean(0, keepdim=True), self.start[None]
            pick = torch.randperm(self.c.shape[0], generator=torch.Generator().manual_seed(0))[:_ANCHORS]
            pts = self.c[pick] * 0.99 + 0.01 * self.c.mean(0)
            size = 4 * (d + 1)
            done = 0
            while done < pts.shape[0]:
                a = pts[done : done + size]
                near = torch.cdist(a, xs).argmin(1)
                simplex, lam, state, _ = _walk(a, self.c, self.sq, simplices[near], self._nearest(a, _LOCAL * (d + 1)))
                full = (state == 1) & (lam > 0).all(1)  # d + 1 distinct vertices: a start simplex
                xs, simplices = torch.cat([xs, a[full]]), torch.cat([simplices, simplex[full]])
                done += a.shape[0]
                size *= 4
            self._anchors = (xs, simplices)
        return self._anchors


def _walk(x: Tensor, c: Tensor, sq: Tensor, start: Tensor,
          cand: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Visibility walk in the Delaunay triangulation, batched: rows x (b, d) from ``start``.

    ``start`` is one Delaunay simplex (d + 1,) for every row or one per row (b, d + 1).
    Each step is one pivot of the dual simplex method on the lifting LP: the simplex ``S``
    stays Delaunay (no lifted centre below its affine function ``phi_S``); when ``w`` has a
    negative barycentric coordinate ``lambda_r``, the facet opposite ``c_r`` is crossed and
    the new vertex is the centre that the hyperplane, rotated about that facet, touches
    first (smallest ``gap_j / psi_j`` over ``psi_j > 0``, ties to the smaller index). No
    centre on the far side of the facet means a hull facet separates ``w``: outside.

    ``cand`` (b, K), ascending per row: score only these centres (the walk then runs in the Delaunay
    triangulation of the candidates and the start's vertices; the caller certifies the
    answer over all centres). Returns ``idx`` (b, d + 1), ``lam`` (b, d + 1) (largest
    weight first, unused slots repeating the first index with weight 0), ``state`` (b,):
    1 inside, 0 outside, -1 undecided (degenerate pivots or too many steps: the caller
    falls back to the LP), and ``facet`` (b, d + 1): for outside rows the affine function
    ``h(v) = facet . (v, 1)`` with ``h(w) > 0 >= h(c_j)`` on every scored centre.
    """
    b, d = x.shape
    n = c.shape[0]
    simplex = start.expand(b, d + 1).clone()  # (b, d + 1): one start for all rows, or one per row
    state = torch.full((b,), -1, dtype=torch.long)
    lam = torch.zeros(b, d + 1, dtype=torch.float64)
    facet = torch.zeros(b, d + 1, dtype=torch.float64)
    xh = torch.cat([x, torch.ones(b, 1, dtype=x.dtype)], 1)  # (b, d + 1)
    ch = torch.cat([c, torch.ones(n, 1, dtype=c.dtype)], 1)  # (n, d + 1) homogeneous centres
    act = torch.arange(b)
    tol = _TOL * (1.0 + float(sq.max()))
    for _ in range(_WALK_STEPS):
        m = ch[simplex[act]].transpose(1, 2)  # (a, d + 1, d + 1): columns are the vertices
        minv, info = torch.linalg.inv_ex(m)
        bad = info != 0
        beta = (minv @ xh[act, :, None])[..., 0]  # (a, d + 1) barycentric coordinates of w
        done = ~bad & (beta.min(1).values >= -1e-12)
        if cand is not None and done.any():  # certify over every centre: no lifted centre below phi_S
            coef = minv[done].transpose(1, 2) @ sq[simplex[act[done]]][..., None]  # (f, d + 1, 1)
            lost = (sq - (ch @ coef)[..., 0]).min(1).values < -tol  # another simplex contains w
            state[act[done][lost]] = -2  # marked; the LP decides
            done[done.clone()] = ~lost
        lam[act[done]] = beta[done]
        state[act[done]] = 1
        go = ~bad & ~done & (state[act] != -2)
        if not go.any():
            break
        sub, mi, bt = act[go], minv[go], beta[go]
        r = bt.argmin(1)  # (g,) the facet to cross: opposite the most negative coordinate
        row = -mi[torch.arange(sub.numel()), r]  # (g, d + 1): psi_j = row . (c_j, 1)
        coef = mi.transpose(1, 2) @ sq[simplex[sub]][..., None]  # (g, d + 1, 1): phi_S's coefficients
        if cand is None:
            psi = row @ ch.T  # (g, n): 0 on the facet, > 0 beyond it
            gap = sq - (ch @ coef)[..., 0]  # (g, n) >= 0: no lifted centre below phi_S
            cols = None
        else:
            cols = cand[sub]  # (g, K)
            chc = ch[cols]  # (g, K, d + 1)
            psi = (chc @ row[..., None])[..., 0]
            gap = sq[cols] - (chc @ coef)[..., 0]
        if (gap.min(1).values < -tol).any():  # lost Delaunay-ness numerically: leave to the LP
            keep = gap.min(1).values >= -tol
            sub, r, psi, gap, row = sub[keep], r[keep], psi[keep], gap[keep], row[keep]
            cols = None if cols is None else cols[keep]
        ratio = torch.where(psi > 1e-12, gap.clamp_min(0.0) / psi.clamp_min(1e-300), torch.full_like(psi, math.inf))
        best, j = ratio.min(1)  # first occurrence: ties to the smaller index
        if cols is not None:
            j = cols.gather(1, j[:, None])[:, 0]
        hull = ~torch.isfinite(best)
        if cand is not None and hull.any():  # a hull facet of the candidates: does it bound every centre?
            crosses = (row[hull] @ ch.T).amax(1) > 1e-12  # a centre beyond it: not a hull facet of all
            state[sub[hull][crosses]] = -2
            hull[hull.clone()] = ~crosses
        state[sub[hull]] = 0
        facet[sub[hull]] = -row[hull]  # h(c_j) = -psi_j <= 0 on every scored centre, h(w) = -beta_r > 0
        hull = hull | ~torch.isfinite(best)  # certified or marked: either way, this row stops
        walk = ~hull
        simplex[sub[walk], r[walk]] = j[walk]
        act = sub[walk]
        if not act.numel():
            break
    state[state == -2] = -1
    inside = state == 1
    if inside.any():  # canonical: vertices in ascending order, weights solved again, whatever the path
        rows = inside.nonzero().squeeze(1)
        simplex[rows] = simplex[rows].sort(1).values
        sol = torch.linalg.solve_ex(ch[simplex[rows]].transpose(1, 2), xh[rows, :, None])
        lam[rows] = torch.where((sol.info == 0)[:, None], sol.result[..., 0], lam[rows])
    lam = torch.where(inside[:, None], lam.clamp_min(0.0), torch.zeros_like(lam))
    lam = torch.where(inside[:, None], lam / lam.sum(1, keepdim=True).clamp_min(1e-300), lam)
    lam = torch.where(lam > _TOL, lam, torch.zeros_like(lam))
    order = torch.argsort(-lam, dim=1, stable=True)
    lam, simplex = lam.gather(1, order), simplex.gather(1, order)
    simplex = torch.where(lam > 0, simplex, simplex[:, :1])
    return simplex, lam, state, facet


def _separated(x: Tensor, c: Tensor, c32: Tensor | None = None) -> Tensor:
    """Rows of ``x`` (s, d) certified outside the hull of ``c`` (n, d) by a hyperplane: (s,) bool.

    Gilbert's algorithm: p is a hull point (start: the centroid); u = x - p; if
    ``<u, x> > max_j <u, c_j>`` the hyperplane separates; else step p towards the
    maximising centre (exact line search). A False row may still be outside. The support
    values are scored in float32 (``c32``, the centres' float32 copy) and a row counts as
    separated only when its gap exceeds the float32 error bound (:func:`float32_error_bound`),
    so every True row is separated in exact arithmetic.
    """
    done = torch.zeros(x.shape[0], dtype=torch.bool)
    act = torch.arange(x.shape[0])  # rows still undecided
    p = c.mean(0).expand(x.shape[0], -1).clone()  # (s, d)
    c32 = c.float() if c32 is None else c32
    c_max = float(c.norm(dim=1).max())
    for _ in range(_GILBERT_STEPS):
        xa, pa = x[act], p[act]
        u = xa - pa  # (a, d)
        best, j = (u.float() @ c32.T).max(1)  # (a,) support value (float32) and point in direction u
        gap = (u * xa).sum(1) - best.double() - float32_error_bound(u, c_max, 0.0)  # > 0: separated
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
