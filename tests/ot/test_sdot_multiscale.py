"""Coarse-to-fine warm start of the semi-discrete solve: same answer with and without it."""

import math

import pytest
import torch

import aeot.ot._sdot_multiscale as ms
from aeot.ot._sdot_multiscale import carry_potential, cluster, nearest_center
from aeot.ot.semidiscrete import solve_semidiscrete


def grid_codes(k):
    """Centres of a k x k grid of [0, 1]^2: uniform weights put every cell on its grid square."""
    a = (torch.arange(k, dtype=torch.float64) + 0.5) / k
    return torch.cartesian_prod(a, a).float()  # (k^2, 2), row r = (a[r // k], a[r % k])


def fresh(m, d, seed):
    return torch.rand(m, d, generator=torch.Generator().manual_seed(seed))


@pytest.fixture
def small_min_n(monkeypatch):
    monkeypatch.setattr(ms, "MIN_N", 256)  # the warm start from n = 256 on, so that the test is fast


def test_grid_answer_is_the_same_with_and_without_the_warm_start(small_min_n):
    k = 32
    y = grid_codes(k)
    kw = dict(tol=0.2, tol_max=1.0, seed=0)
    warm = solve_semidiscrete(y, **kw)
    cold = solve_semidiscrete(y, multiscale=False, **kw)
    assert warm.converged and cold.converged
    assert warm.warm_start is not None and warm.warm_start["n"] == k * k // 8
    assert cold.warm_start is None
    x = fresh(400_000, 2, seed=7)
    truth = (x[:, 0] * k).long().clamp_max(k - 1) * k + (x[:, 1] * k).long().clamp_max(k - 1)
    for res in (warm, cold):
        idx = res.cell_index(x)
        # the brute-force answer: every cell is its grid square, up to the solve's tolerance
        assert float((idx == truth).double().mean()) > 0.97
        mass = torch.bincount(idx, minlength=k * k).double() / x.shape[0]
        err = (mass * k * k - 1).abs()
        noise = 1.96 / math.sqrt(x.shape[0] / (k * k))  # p95 of the evaluation's own noise
        assert float(err.quantile(0.95)) <= 0.2 + noise
    agree = (warm.cell_index(x) == cold.cell_index(x)).double().mean()
    assert float(agree) > 0.95


def test_warm_start_on_clustered_codes_meets_the_same_tolerance(small_min_n):
    g = torch.Generator().manual_seed(1)
    centres = 3.0 * torch.randn(4, 4, generator=g)
    y = centres[torch.randint(0, 4, (800,), generator=g)] + torch.randn(800, 4, generator=g)
    kw = dict(tol=0.2, tol_max=1.0, seed=0)
    warm, cold = solve_semidiscrete(y, **kw), solve_semidiscrete(y, multiscale=False, **kw)
    assert warm.converged and cold.converged and warm.warm_start is not None
    x = fresh(400_000, 4, seed=3)
    noise = 1.96 / math.sqrt(x.shape[0] / 800)
    for res in (warm, cold):
        mass = torch.bincount(res.cell_index(x), minlength=800).double() / x.shape[0]
        assert float((mass / res.weights - 1).abs().quantile(0.95)) <= 0.2 + noise + 0.05
    assert float((warm.cell_index(x) == cold.cell_index(x)).double().mean()) > 0.9


def test_one_target_per_cluster_carries_the_coarse_potential_unchanged():
    t = torch.rand(50, 3, dtype=torch.float64)
    h = torch.randn(50, dtype=torch.float64)
    out = carry_potential(t, torch.arange(50), t, h, t, torch.full((50,), 0.02, dtype=torch.float64), 1.0)
    torch.testing.assert_close(out, h - h.mean())


def test_clusters_keep_the_mass_and_drop_empty_ones():
    t = torch.cat([torch.zeros(10, 2), torch.ones(6, 2)]).double()  # two points, repeated
    nu = torch.full((16,), 1 / 16, dtype=torch.float64)
    assign, centres, mass = cluster(t, nu, 5, seed=0)
    assert centres.shape[0] == 2 and float(mass.sum()) == pytest.approx(1.0)
    assert sorted(mass.tolist()) == pytest.approx([6 / 16, 10 / 16])
    assert torch.equal(centres[assign], t)


def test_nearest_center_breaks_exact_ties_to_the_lowest_index():
    c = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [1.0, 0.0]])
    assert nearest_center(torch.tensor([[0.0, 1.0], [2.0, 0.0]]), c).tolist() == [0, 0]
