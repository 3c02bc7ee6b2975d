"""The paper's extended map (AE-OT-GAN §3.2, Fig. 3): Delaunay simplices of the mass centres.

Issue 19's "Done when": on 2-D and on d = 16 codes every interpolated sample lies inside the
simplex it was interpolated in, T~(c_j) = z_j, T~ is continuous along segments inside the
interpolated region, its push-forward has no atoms, and Theorem 1's W2 <= epsilon holds.
"""

import math

import pytest
import torch
from scipy.spatial import Delaunay

from aeot.ot._delaunay import Triangulation, containing_simplex
from aeot.ot.extended import apply_extended_map, default_epsilon, extended_map, sample_source
from aeot.ot.semidiscrete import SemiDiscreteResult, solve_semidiscrete


def voronoi_result(sites):
    n, d = sites.shape
    h = -(sites**2).sum(1) / 2
    return SemiDiscreteResult(
        potential=h - h.mean(), targets=sites, weights=torch.full((n,), 1.0 / n, dtype=sites.dtype),
        centers=sites.clone(), cell_mass=torch.full((n,), 1.0 / n, dtype=sites.dtype),
        low=torch.zeros(d, dtype=sites.dtype), high=torch.ones(d, dtype=sites.dtype),
        errors=[], converged=True, n_iter=0, n_samples=0, scale={},
    )


def setup(d, n, dz=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    sites = 0.05 + 0.9 * torch.rand(n, d, generator=g, dtype=torch.float64)
    return voronoi_result(sites), torch.randn(n, dz, generator=g, dtype=torch.float64), g


def hull_points(res, m, g):
    """m points inside the hull of the centres (convex combinations of a few of them)."""
    n = res.centers.shape[0]
    pick = torch.randint(n, (m, 4), generator=g)
    wts = torch.rand(m, 4, generator=g, dtype=torch.float64)
    return (wts[:, :, None] * res.centers[pick]).sum(1) / wts.sum(1, keepdim=True)


@pytest.mark.parametrize("d,n", [(2, 60), (16, 120)])
def test_interpolated_samples_lie_in_their_simplex_and_centres_map_to_codes(d, n):
    res, z, g = setup(d, n)
    w = torch.cat([hull_points(res, 200, g), sample_source(200, res.low, res.high, g)])
    tri = Triangulation(res.centers)
    idx, lam, inside = tri.locate(w)
    assert inside[:200].all()  # convex combinations of centres are inside the hull
    assert (lam >= 0).all() and (lam <= 1).all()
    assert torch.allclose(lam[inside].sum(1), torch.ones(int(inside.sum()), dtype=torch.float64))
    rec = (lam[:, :, None] * res.centers[idx]).sum(1)
    assert torch.allclose(rec[inside], w[inside], atol=1e-9)  # w = sum_j lambda_j c_j
    out = apply_extended_map(w, res, z, epsilon=math.inf, triangulation=tri)
    assert torch.equal(out.inside, inside)
    mixed = (lam[:, :, None] * z[idx]).sum(1)
    assert torch.allclose(out.values[inside], mixed[inside], atol=1e-9)
    assert torch.equal(out.values[~inside], z[out.cells[~inside]])  # the rule outside the hull
    # T~(c_j) = z_j
    assert torch.allclose(extended_map(res.centers, res, z, epsilon=math.inf, triangulation=tri), z, atol=1e-9)


def test_the_simplices_are_delaunay_and_both_search_paths_agree():
    # Qhull's full triangulation (d <= 4) and the certified LP give the same simplex.
    for d in (2, 3):
        res, _, g = setup(d, 80)
        w = sample_source(300, res.low, res.high, g)
        a = Triangulation(res.centers).locate(w)
        b = containing_simplex(w, res.centers)
        assert torch.equal(a[2], b[2]) and a[2].float().mean() > 0.3
        dense = [torch.zeros(300, 80, dtype=torch.float64).scatter_add_(1, i, v) for i, v, _ in (a, b)]
        assert torch.allclose(dense[0], dense[1], atol=1e-9)
        qh = Delaunay(res.centers.numpy())
        s = qh.find_simplex(w.numpy())
        assert torch.equal(torch.as_tensor(s >= 0), b[2])


def test_the_walk_and_the_certified_lp_find_the_same_simplex_in_16_dimensions():
    from aeot.ot import _delaunay

    res, _, g = setup(16, 120)
    hull = _delaunay._Hull(res.centers)
    assert hull.start is not None  # the walk is used, not only the LP
    w = hull_points(res, 30, g)
    idx, lam, inside = hull.locate(w)
    assert inside.all()
    for r in range(30):
        found = _delaunay._solve_one((w[r] - hull.mean) / hull.scale, hull.c, hull.sq)
        assert found is not None and set(found[0]) == set(idx[r][lam[r] > 0].tolist())
        assert torch.allclose(torch.tensor(sorted(found[1]), dtype=torch.float64),
                              lam[r][lam[r] > 0].sort().values, atol=1e-8)


def test_the_local_walk_equals_the_walk_over_every_centre_in_8_dimensions():
    """Walks that score only nearby centres, from the nearest anchor, are certified over all
    centres: they find the same simplex (inside) and the same verdict (outside) as walks that
    score every centre from the centroid's simplex."""
    from aeot.ot import _delaunay

    res, _, g = setup(8, 400, seed=3)
    hull = _delaunay._Hull(res.centers)
    x = torch.cat([(hull_points(res, 60, g) - hull.mean) / hull.scale,
                   (torch.rand(60, 8, generator=g, dtype=torch.float64) - hull.mean) / hull.scale])
    full_idx, full_lam, full_state, _ = _delaunay._walk(x, hull.c, hull.sq, hull.start)
    idx, lam, state = hull._walk_local(x)
    decided = (full_state >= 0) & (state >= 0)
    assert decided.float().mean() > 0.9 and torch.equal(state[decided], full_state[decided])
    both = decided & (state == 1)
    assert both.sum() >= 60  # every hull point, at least
    dense = [torch.zeros(int(both.sum()), 400, dtype=torch.float64).scatter_add_(1, i[both], v[both])
             for i, v in ((idx, lam), (full_idx, full_lam))]
    assert torch.allclose(dense[0], dense[1], atol=1e-9)


def test_the_float32_outside_certificate_never_separates_a_hull_point():
    """Gilbert's steps score in float32; a row counts as outside only beyond the error bound."""
    from aeot.ot import _delaunay

    res, _, g = setup(64, 300, seed=4)
    hull = _delaunay._Hull(res.centers)
    inside = (hull_points(res, 200, g) - hull.mean) / hull.scale
    vertices = hull.c[:50]  # on the hull itself: the hardest rows, never separated
    assert not _delaunay._separated(torch.cat([inside, vertices]), hull.c, hull.c32).any()
    far = (torch.rand(200, 64, generator=g, dtype=torch.float64) - hull.mean) / hull.scale
    assert _delaunay._separated(far, hull.c, hull.c32).float().mean() > 0.9


def _limit_jumps(res, z, tri, a, b, steps=200, top=4, halvings=36, mode="paper"):
    """The largest jumps of T~ along the segment a-b, each followed down by bisection.

    For each of the ``top`` largest jumps between neighbouring steps, the interval is
    halved ``halvings`` times, keeping the half with the larger jump. A continuous map's
    jump goes to 0 (here below ~1e-9); a discontinuity keeps its size.
    """
    def f(t):
        return apply_extended_map(a + t[:, None] * (b - a), res, z, epsilon=math.inf, mode=mode,
                                  triangulation=tri).values

    t = torch.linspace(0, 1, steps + 1, dtype=torch.float64)
    v = f(t)
    jumps = (v[1:] - v[:-1]).norm(dim=1)
    k = jumps.topk(top).indices
    lo, hi, vlo, vhi = t[k], t[k + 1], v[k], v[k + 1]
    for _ in range(halvings):
        mid = (lo + hi) / 2
        vm = f(mid)
        left = (vm - vlo).norm(dim=1) >= (vhi - vm).norm(dim=1)
        hi, vhi = torch.where(left, mid, hi), torch.where(left[:, None], vm, vhi)
        lo, vlo = torch.where(left, lo, mid), torch.where(left[:, None], vlo, vm)
    return float(jumps.max()), float((vhi - vlo).norm(dim=1).max())


@pytest.mark.parametrize("d,n", [(2, 60), (16, 120)])
def test_continuous_along_segments_inside_the_interpolated_region(d, n):
    res, z, g = setup(d, n)
    tri = Triangulation(res.centers)
    ends = hull_points(res, 4, g)
    for a, b in zip(ends[0::2], ends[1::2]):
        step_jump, limit = _limit_jumps(res, z, tri, a, b)
        assert step_jump > 0 and limit <= 1e-6 * step_jump, (step_jump, limit)
    if d == 2:  # the projection mode jumps where its top-3 cells change: the test bites
        found = max(_limit_jumps(res, z, None, a, b, mode="projection")[1] for a, b in zip(ends[0::2], ends[1::2]))
        assert found > 1e-2


def test_push_forward_has_no_atoms():
    res, z, g = setup(2, 60)
    w = hull_points(res, 3000, g)
    out = apply_extended_map(w, res, z, epsilon=math.inf)
    v = out.values[out.interpolated]
    assert v.shape[0] > 2900
    assert torch.unique(v, dim=0).shape[0] == v.shape[0]  # distinct draws, distinct codes
    assert not (torch.cdist(v, z).min(1).values < 1e-9).any()  # none is a training code


def test_theorem_1_for_the_paper_map_on_a_solved_problem():
    g = torch.Generator().manual_seed(7)
    codes = torch.cat([torch.randn(30, 2, generator=g) * 0.3, torch.randn(30, 2, generator=g) * 0.3 + 3])
    res = solve_semidiscrete(codes, seed=0)
    eps = default_epsilon(res, codes, generator=g)
    w = sample_source(600, res.low, res.high, g)
    out = apply_extended_map(w, res, codes, epsilon=eps, mode="paper")
    gap = (out.values - codes[out.cells]).double().norm(dim=1)  # ||T~(w) - T(w)||
    assert (gap <= eps + 1e-5).all() and float(gap.pow(2).mean().sqrt()) <= eps
    assert out.interpolated.float().mean() > 0.2
    # the interpolated samples lie in their simplex of the solver's mass centres
    idx, lam, inside = Triangulation(res.centers).locate(w)
    assert torch.equal(inside, out.inside)
    rec = (lam[:, :, None] * res.centers.double()[idx]).sum(1)
    assert torch.allclose(rec[inside], w.double()[inside], atol=1e-8)


def test_outside_the_hull_in_high_dimension_is_certified_without_an_lp():
    # d = 32, 200 centres: uniform points of the box are outside their hull; the
    # separating-hyperplane iterations decide them all, and a convex combination is inside.
    res, _, g = setup(32, 200)
    w = sample_source(500, res.low, res.high, g)
    _, _, inside = containing_simplex(w, res.centers)
    assert not inside.any()
    _, lam, inside = containing_simplex(hull_points(res, 5, g), res.centers)
    assert inside.all() and ((lam > 0).sum(1) <= 33).all()
