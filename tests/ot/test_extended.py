"""The extended semi-discrete OT map (AE-OT-GAN §3.2, Fig. 3, Theorem 1)."""

import math

import pytest
import torch

from aeot.ot.exact import assignment
from aeot.ot.extended import (
    MODES,
    apply_extended_map,
    barycentric,
    default_epsilon,
    extended_map,
    ot_map,
    project_simplex,
    sample_source,
)
from aeot.ot.semidiscrete import SemiDiscreteResult, solve_semidiscrete


def voronoi_result(sites, centers=None, potential_shift=None):
    """A solved-looking result whose power cells are the Voronoi cells of ``sites`` in [0, 1]^d.

    argmax_j <w, p_j> - |p_j|^2 / 2 = argmin_j |w - p_j|, so each site lies in its own cell.
    """
    n, d = sites.shape
    h = -(sites**2).sum(1) / 2
    if potential_shift is not None:
        h = h + potential_shift
    h = h - h.mean()
    return SemiDiscreteResult(
        potential=h, targets=sites, weights=torch.full((n,), 1.0 / n, dtype=sites.dtype),
        centers=sites.clone() if centers is None else centers, cell_mass=torch.full((n,), 1.0 / n, dtype=sites.dtype),
        low=torch.zeros(d, dtype=sites.dtype), high=torch.ones(d, dtype=sites.dtype),
        errors=[], converged=True, n_iter=0, n_samples=0, scale={},
    )


def random_setup(n=30, d=2, dz=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    sites = 0.05 + 0.9 * torch.rand(n, d, generator=g, dtype=torch.float64)
    codes = torch.randn(n, dz, generator=g)  # float32 codes: the output keeps their dtype
    return voronoi_result(sites), codes, g


def test_sample_at_a_mass_centre_maps_to_its_code():
    res, z, _ = random_setup()
    assert torch.equal(extended_map(res.centers, res, z, epsilon=math.inf), z)
    assert torch.equal(extended_map(res.centers, res, z, epsilon=math.inf, k=6), z)
    assert torch.equal(ot_map(res.centers, res, z), z)


def test_quadrant_cells_known_barycentric_answer():
    sites = torch.tensor([[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]], dtype=torch.float64)
    res = voronoi_result(sites)
    z = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [5.0, 5.0, 5.0]], dtype=torch.float64)
    w = torch.tensor([[0.4, 0.3]], dtype=torch.float64)  # cell 0; neighbours 1, 2; lambda = (0.6, 0.3, 0.1)
    # (the projection mode's top-3 cells; the four co-circular centres have two Delaunay
    # triangulations, so the paper's map is tested on centres in general position below)
    out = extended_map(w, res, z, epsilon=math.inf, mode="projection")
    assert torch.allclose(out, 0.6 * z[0] + 0.3 * z[1] + 0.1 * z[2], atol=1e-12)
    # sigma_epsilon test: |z0 - z1| = |z0 - z2| = |z1 - z2| = sqrt(2); a smaller epsilon gives z_i.
    assert torch.equal(extended_map(w, res, z, epsilon=1.4, mode="projection"), z[:1])
    assert torch.allclose(extended_map(w, res, z, epsilon=1.5, mode="projection"), out)


def test_projection_mode_inside_its_top_cells_simplex_gets_the_same_combination_of_codes():
    res, z, g = random_setup(n=40, d=2, dz=4)
    w = sample_source(400, res.low, res.high, g)  # (m, 2)
    # Independent answer: the top-3 cells by brute force, barycentric coordinates by a 3x3 solve.
    d2 = torch.cdist(w, res.targets)
    top = d2.argsort(1)[:, :3]  # (m, 3)
    c = res.centers[top]  # (m, 3, 2)
    a = torch.cat([c.transpose(1, 2), torch.ones(w.shape[0], 1, 3, dtype=w.dtype)], 1)  # (m, 3, 3)
    lam = torch.linalg.solve(a, torch.cat([w, torch.ones(w.shape[0], 1, dtype=w.dtype)], 1)[..., None])[..., 0]
    inside = (lam > 1e-6).all(1)
    assert inside.sum() > 50  # the test covers many samples
    expected = (lam[:, :, None] * z.double()[top]).sum(1)
    got = apply_extended_map(w, res, z, epsilon=math.inf, mode="projection")
    assert torch.allclose(got.values[inside].double(), expected[inside], atol=1e-5)
    assert got.interpolated[inside].all() and torch.equal(got.inside, inside)
    assert torch.equal(got.cells, top[:, 0])
    # chunking changes nothing
    assert torch.equal(extended_map(w, res, z, epsilon=math.inf, chunk_size=7, mode="projection"), got.values)


def test_epsilon_zero_is_the_plain_ot_map():
    res, z, g = random_setup(n=25, d=3, dz=2)
    w = sample_source(300, res.low, res.high, g)
    t = ot_map(w, res, z)
    assert torch.equal(t, z[torch.cdist(w, res.targets).argmin(1)])
    for mode in ("paper", "pyomt-pairs", "projection", "plain", "simplex", "pairs"):  # and the old names
        assert torch.equal(extended_map(w, res, z, epsilon=0.0, mode=mode), t)
    assert torch.equal(extended_map(w, res, z, epsilon=math.inf, mode="plain"), t)


def test_outputs_lie_in_the_epsilon_complex_around_the_own_code():
    res, z, g = random_setup(n=50, d=2, dz=3)
    w = sample_source(500, res.low, res.high, g)
    for eps in (0.5, 1.5, 4.0):
        for mode, k in (("paper", None), ("projection", None), ("projection", 2), ("projection", 6),
                        ("pyomt-pairs", 4)):
            out = apply_extended_map(w, res, z, epsilon=eps, mode=mode, k=k, angle=math.pi)
            gap = (out.values - z[out.cells]).norm(dim=1)
            assert gap.max() <= eps + 1e-5, (eps, mode, k)
            assert torch.isfinite(out.values).all()
    # a bigger epsilon interpolates at least as often in pairs mode (one neighbour, monotone test)
    f = [apply_extended_map(w, res, z, epsilon=e, mode="pyomt-pairs", angle=math.pi).interpolated.float().mean()
         for e in (0.5, 1.5, 4.0)]
    assert f[0] <= f[1] <= f[2] and f[2] > 0.5


def test_degenerate_configurations_never_give_nan():
    res, z, g = random_setup(n=20, d=2, dz=3)
    w = sample_source(300, res.low, res.high, g)
    dup = z.clone()
    dup[1::2] = dup[0::2]  # duplicate codes
    same_centres = res.centers.clone()
    same_centres[:10] = 0.5  # coincident centres (as empty cells' fallback would give)
    shift = torch.zeros(20, dtype=torch.float64)
    shift[::3] = -10.0  # these cells are empty: their planes never win
    cases = [
        (voronoi_result(res.targets), dup),
        (voronoi_result(res.targets, centers=same_centres), z),
        (voronoi_result(res.targets, centers=torch.zeros_like(res.centers) + 0.3), z),
        (voronoi_result(res.targets, potential_shift=shift), z),
    ]
    for r, codes in cases:
        for mode in MODES:
            for k in (1, 2, 3, 8, 50):
                out = apply_extended_map(w, r, codes, epsilon=1.0, k=k, mode=mode, angle=math.pi)
                assert torch.isfinite(out.values).all(), (mode, k)
                assert ((out.values - codes[out.cells]).norm(dim=1) <= 1.0 + 1e-5).all()
    r = voronoi_result(res.targets, potential_shift=shift)
    assert not torch.isin(ot_map(w, r, torch.arange(20.0)[:, None]).long().squeeze(1), torch.arange(0, 20, 3)).any()
    # a single code: everything maps onto it
    one = voronoi_result(torch.full((1, 2), 0.5, dtype=torch.float64))
    assert torch.equal(extended_map(w, one, z[:1], epsilon=1.0), z[:1].expand(300, 3))
    assert extended_map(w[:0], res, z, epsilon=1.0).shape == (0, 3)


def test_pairs_mode_fixed_weight_and_angle_threshold():
    sites = torch.tensor([[0.25, 0.5], [0.75, 0.5]], dtype=torch.float64)
    res = voronoi_result(sites)
    z = torch.tensor([[0.0, 0.0], [4.0, 0.0]])
    w = torch.tensor([[0.1, 0.5], [0.9, 0.2]], dtype=torch.float64)  # cells 0 and 1
    out = extended_map(w, res, z, epsilon=math.inf, mode="pyomt-pairs", angle=math.pi)
    assert torch.allclose(out, torch.tensor([[3.0, 0.0], [1.0, 0.0]]))  # 0.25 z_i + 0.75 z_j
    out = extended_map(w, res, z, epsilon=math.inf, mode="pyomt-pairs", angle=math.pi, pair_weight=0.5)
    assert torch.allclose(out, torch.tensor([[2.0, 0.0], [2.0, 0.0]]))
    # normals (y, -1)/|(y, -1)| of the two planes make an angle of about 0.38 rad
    nm = torch.cat([sites, -torch.ones(2, 1, dtype=torch.float64)], 1)
    theta = float(torch.acos((nm[0] / nm[0].norm()) @ (nm[1] / nm[1].norm())))
    assert torch.equal(extended_map(w, res, z, epsilon=math.inf, mode="pairs", angle=theta * 0.99), z)
    assert not torch.equal(extended_map(w, res, z, epsilon=math.inf, mode="pairs", angle=theta * 1.01), z)
    assert torch.equal(extended_map(w, res, z, epsilon=3.9, mode="pairs", angle=math.pi), z)


def test_barycentric_projection_and_simplex_projection():
    g = torch.Generator().manual_seed(3)
    v = torch.randn(200, 5, generator=g, dtype=torch.float64) * 3
    p = project_simplex(v)
    assert (p >= 0).all() and torch.allclose(p.sum(1), torch.ones(200, dtype=torch.float64))
    # optimality: (v - p) . (q - p) <= 0 for every vertex q of the simplex
    assert ((torch.eye(5, dtype=torch.float64)[None] - p[:, None]) @ (v - p)[..., None] <= 1e-9).all()
    # w far outside a triangle projects onto the nearest point of its hull
    c = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]], dtype=torch.float64)
    lam = barycentric(torch.tensor([[2.0, 2.0]], dtype=torch.float64), c)
    assert torch.allclose(lam, torch.tensor([[0.0, 0.5, 0.5]], dtype=torch.float64), atol=1e-6)
    lam = barycentric(torch.tensor([[-1.0, 0.25]], dtype=torch.float64), c)
    assert torch.allclose(lam, torch.tensor([[0.75, 0.0, 0.25]], dtype=torch.float64), atol=1e-6)


def test_default_epsilon_is_a_quantile_of_the_simplex_diameters():
    res, z, g = random_setup(n=40, d=2, dz=3)
    for mode in ("paper", "projection", "pyomt-pairs"):
        eps = [default_epsilon(res, z, quantile=q, mode=mode, angle=math.pi,
                               generator=torch.Generator().manual_seed(1)) for q in (0.0, 0.5, 0.8, 1.0)]
        assert eps == sorted(eps) and eps[1] > 0
        # about the quantile's share of the fresh source samples that have a simplex interpolates
        w = sample_source(2000, res.low, res.high, g)
        out = apply_extended_map(w, res, z, epsilon=eps[2], mode=mode, angle=math.pi)
        f = out.interpolated.float().sum() / (out.inside.sum() if mode == "paper" else w.shape[0])
        assert 0.55 < f <= 0.9, (mode, f)
    assert default_epsilon(voronoi_result(res.targets[:1]), z[:1], mode="pyomt-pairs") == 0.0  # no pairs at all
    assert default_epsilon(res, z, mode="plain") == 0.0
    # Many simplices straddle a gap (codes of every 4th cell sit 100 away): the quantile alone
    # would land among them; the cap at 3x the median diameter keeps epsilon within the modes.
    far = z.clone()
    far[::4] += 100.0
    # (the projection mode's top-3 simplices: with the own cell added, more than half of the
    # paper's simplices straddle here, beyond what any cap at the median can separate)
    dm = apply_extended_map(sample_source(1000, res.low, res.high, g), res, far, epsilon=math.inf,
                            mode="projection").diameter
    assert (dm > 50).float().mean() > 0.25
    eps = default_epsilon(res, far, generator=torch.Generator().manual_seed(1), mode="projection")
    assert 0 < eps < 50
    with pytest.raises(ValueError, match="quantile"):
        default_epsilon(res, z, quantile=2.0)


def test_bad_arguments_name_the_value():
    res, z, _ = random_setup()
    w = res.centers[:3]
    with pytest.raises(ValueError, match="mode"):
        extended_map(w, res, z, epsilon=1.0, mode="triangles")
    with pytest.raises(ValueError, match="epsilon"):
        extended_map(w, res, z, epsilon=-1.0)
    with pytest.raises(ValueError, match="k must"):
        extended_map(w, res, z, epsilon=1.0, k=0)
    with pytest.raises(ValueError, match="codes"):
        extended_map(w, res, z[:5], epsilon=1.0)


def test_theorem_1_w2_to_the_codes_is_at_most_epsilon():
    g = torch.Generator().manual_seed(5)
    n = 40
    codes = torch.cat([torch.randn(n // 2, 2, generator=g) * 0.3, torch.randn(n // 2, 2, generator=g) * 0.3 + 3])
    res = solve_semidiscrete(codes, seed=0)
    eps = default_epsilon(res, codes, generator=g)
    m = 4 * n
    w = sample_source(m, res.low, res.high, g)
    out = apply_extended_map(w, res, codes, epsilon=eps)
    t = codes[out.cells]  # T(w): the plain map, the same cells
    assert torch.equal(t, ot_map(w, res, codes))
    # The coupling (T(w), T~(w)) bounds W2 pointwise and on average.
    coupling = ((out.values - t).double() ** 2).sum(1).mean().sqrt()
    assert ((out.values - t).norm(dim=1) <= eps + 1e-5).all() and coupling <= eps + 1e-6
    assert out.interpolated.float().mean() > 0.2  # the bound is not met trivially
    # Exact W2 between equal-size empirical measures: the optimal matching can only do better.
    def w2(a, b):
        perm = assignment(a.double(), b.double(), cost="sqeuclidean")
        return float(((a.double() - b.double()[perm]) ** 2).sum(1).mean().sqrt())
    assert w2(out.values, t) <= float(coupling) + 1e-9
    # Against the codes' empirical measure (each code m / n times), by the triangle inequality.
    target = codes.repeat(m // n, 1)
    assert w2(out.values, target) <= eps + w2(t, target) + 1e-6
