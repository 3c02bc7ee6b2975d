"""Semi-discrete OT solver (AE-OT-GAN §3.2): known answers, marginals, inputs, kernel."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from aeot.ot.semidiscrete import SemiDiscreteResult, cell_index, power_scores_topk, solve_semidiscrete

ROOT = Path(__file__).resolve().parents[2]


def codes(n, d, seed=0, k=4):
    """A small Gaussian mixture: a few clusters of codes, as an autoencoder produces."""
    g = torch.Generator().manual_seed(seed)
    centres = 3.0 * torch.randn(k, d, generator=g)
    return centres[torch.randint(0, k, (n,), generator=g)] + torch.randn(n, d, generator=g)


def rel_errors(result, m=200_000, seed=123):
    """Relative cell errors |mu_i / nu_i - 1| of fresh i.i.d. uniform samples pushed through T."""
    g = torch.Generator().manual_seed(seed)
    d = result.targets.shape[1]
    w = result.low + (result.high - result.low) * torch.rand(m, d, generator=g, dtype=torch.float64)
    counts = torch.bincount(result.cell_index(w.float()), minlength=len(result.weights)).double()
    return (counts / m / result.weights - 1).abs()


def power_polygon(i, t, h, low, high):
    """Exact power cell i of the box [low, high]^2 by half-plane clipping (numpy, float64)."""
    poly = [np.array(p, dtype=float) for p in [(low, low), (high, low), (high, high), (low, high)]]
    for j in range(len(t)):
        if j == i:
            continue
        a, c = t[i] - t[j], h[i] - h[j]  # keep a.x + c >= 0
        out = []
        for k in range(len(poly)):
            p, q = poly[k], poly[(k + 1) % len(poly)]
            fp, fq = a @ p + c, a @ q + c
            if fp >= 0:
                out.append(p)
            if fp * fq < 0:
                out.append(p + fp / (fp - fq) * (q - p))
        poly = out
        if not poly:
            return 0.0, np.full(2, np.nan)
    x, y = np.array([p[0] for p in poly]), np.array([p[1] for p in poly])
    cross = x * np.roll(y, -1) - np.roll(x, -1) * y
    area = cross.sum() / 2
    cx = ((x + np.roll(x, -1)) * cross).sum() / (6 * area)
    cy = ((y + np.roll(y, -1)) * cross).sum() / (6 * area)
    return area, np.array([cx, cy])


# ------------------------------------------------------------------ known answers
def test_1d_cells_are_intervals_of_length_nu_in_sorted_order():
    g = torch.Generator().manual_seed(0)
    y = torch.randn(8, 1, generator=g, dtype=torch.float64)
    nu = torch.rand(8, generator=g, dtype=torch.float64) + 0.2
    nu /= nu.sum()
    res = solve_semidiscrete(y, weights=nu, tol=0.01, tol_max=0.02, seed=1)
    assert res.converged
    order = torch.argsort(res.targets[:, 0])
    t, h = res.targets[order, 0].double(), res.potential[order].double()
    # boundary between consecutive (sorted) cells i, i+1 solves x t_i + h_i = x t_{i+1} + h_{i+1}
    bounds = (h[:-1] - h[1:]) / (t[1:] - t[:-1])
    assert torch.all(bounds[1:] > bounds[:-1])  # cells are intervals in the order of the codes
    lengths = torch.diff(torch.cat([torch.zeros(1, dtype=torch.float64), bounds, torch.ones(1, dtype=torch.float64)]))
    assert float((lengths / res.weights[order] - 1).abs().max()) < 0.03  # of length nu_i


def test_2d_cell_areas_match_exact_power_diagram():
    g = torch.Generator().manual_seed(1)
    y = torch.randn(12, 2, generator=g, dtype=torch.float64) * torch.tensor([1.0, 3.0], dtype=torch.float64)
    nu = torch.linspace(1.0, 3.0, 12, dtype=torch.float64)
    nu /= nu.sum()
    res = solve_semidiscrete(y, weights=nu, tol=0.03, tol_max=0.06, seed=2)
    assert res.converged
    t, h = res.targets.double().numpy(), res.potential.double().numpy()
    exact = [power_polygon(i, t, h, 0.0, 1.0) for i in range(12)]
    areas = np.array([a for a, _ in exact])
    assert abs(areas.sum() - 1.0) < 1e-9  # the cells tile the box
    # the exact cells of the solved potential carry the prescribed masses
    assert np.max(np.abs(areas / nu.numpy() - 1)) < 0.08
    # the solver's own estimate is the exact area up to Monte Carlo noise
    m = res.errors[-1]["n_samples"]
    assert np.all(np.abs(res.cell_mass.numpy() - areas) < 5 * np.sqrt(areas / m) + 1e-9)
    # mass centres: the estimate is the exact polygon centroid up to noise
    cents = np.stack([c for _, c in exact])
    assert np.max(np.abs(res.centers.double().numpy() - cents)) < 0.01


# ------------------------------------------------------------------ marginals
def test_push_forward_gives_each_code_its_mass():
    res = solve_semidiscrete(codes(60, 5), seed=0)
    assert res.converged and res.errors[-1]["p95"] <= 0.1 and res.errors[-1]["max"] <= 0.5
    e = rel_errors(res)  # independent check: i.i.d. samples, noise p95 about 0.034 here
    assert float(e.quantile(0.95)) < 0.1 + 0.05 and float(e.max()) < 0.5


@pytest.mark.parametrize("shape", ["moons", "circles"])
def test_2d_curve_data_converges_and_pushes_forward(shape):
    # codes on curves: the Voronoi start gives hull cells dozens of times their mass and many
    # empty cells (at n = 1000 the solver with LM damping 0.05 stalled: docs/benchmarks/sdot.md)
    from sklearn.datasets import make_circles, make_moons

    make = make_moons if shape == "moons" else make_circles
    kw = {} if shape == "moons" else {"factor": 0.5}
    y = torch.tensor(make(300, noise=0.05, random_state=0, **kw)[0], dtype=torch.float32)
    res = solve_semidiscrete(y, seed=0)
    assert res.converged, res.errors[-1]
    assert res.errors[0]["max"] > 5  # a hard start: the test would catch a solver that stalls
    e = rel_errors(res, m=400_000)  # independent i.i.d. check, noise p95 about 0.05 here
    assert float(e.quantile(0.95)) < 0.1 + 0.06 and float(e.max()) < 0.5 + 0.15


def test_non_uniform_weights_and_other_box():
    y = codes(40, 3, seed=1)
    nu = torch.arange(1, 41, dtype=torch.float64)
    nu /= nu.sum()  # masses differ by a factor 40
    res = solve_semidiscrete(y, weights=nu, low=torch.tensor([-1.0, 0.0, 2.0]), high=3.0, seed=4)
    assert res.converged
    assert torch.equal(res.low, torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64))
    assert bool(((res.centers >= res.low.float()) & (res.centers <= res.high.float())).all())
    e = rel_errors(res, m=300_000)
    assert float(e.quantile(0.95)) < 0.15 and float(e.max()) < 0.5


def test_result_fields_and_recorded_scale():
    y = codes(50, 4) * 7.0 + 100.0
    res = solve_semidiscrete(y, seed=0)
    assert isinstance(res, SemiDiscreteResult)
    assert res.potential.shape == (50,) and abs(float(res.potential.double().mean())) < 1e-5
    assert res.targets.shape == (50, 4) and res.centers.shape == (50, 4) and res.cell_mass.shape == (50,)
    assert math.isclose(float(res.weights.sum()), 1.0) and res.n_iter == len(res.errors) >= 1
    assert res.n_samples >= sum(e["n_samples"] for e in res.errors)
    assert torch.isfinite(res.centers).all() and not bool(res.empty.any())
    sc = res.scale  # targets = offset + (codes - center) / scale
    mapped = sc["offset"] + (y.double() - sc["center"]) / sc["scale"]
    assert torch.allclose(mapped.float(), res.targets, atol=1e-5)
    # the codes land around the box centre, not at raw coordinates around 100
    assert float((res.targets - 0.5).abs().max()) < 2.0


def test_normalize_false_and_affine_codes_give_the_same_cells():
    y = codes(30, 3, seed=5)
    a = solve_semidiscrete(y, seed=0)
    b = solve_semidiscrete(y, seed=0, normalize=False)
    c = solve_semidiscrete(3.0 * y + 5.0, seed=0)  # uniform scaling + translation: same problem
    assert torch.equal(b.targets, y) and b.scale["scale"] == 1.0
    w = torch.rand(20_000, 3, generator=torch.Generator().manual_seed(0))
    ia = a.cell_index(w)
    assert float((ia == b.cell_index(w)).double().mean()) > 0.999
    assert float((ia == c.cell_index(w)).double().mean()) > 0.999


def test_same_seed_same_result_other_seed_differs():
    y = codes(40, 3, seed=2)
    a, b = solve_semidiscrete(y, seed=7), solve_semidiscrete(y, seed=7)
    assert torch.equal(a.potential, b.potential) and torch.equal(a.centers, b.centers)
    assert a.errors == b.errors
    c = solve_semidiscrete(y, seed=8)
    assert not torch.equal(a.potential, c.potential)
    d = solve_semidiscrete(y, seed=7, qmc=False)  # i.i.d. uniforms: also converges, differs
    assert d.converged and not torch.equal(a.potential, d.potential)


def test_progress_callback_reports_each_iteration():
    seen = []
    res = solve_semidiscrete(codes(30, 2), seed=0, progress=seen.append)
    assert len(seen) == res.n_iter
    assert {"event", "task", "step", "total", "p95", "max", "empty", "n_samples"} <= set(seen[-1])
    assert seen[-1]["task"] == "sdot" and seen[-1]["step"] == res.n_iter


def test_single_code_takes_the_whole_box():
    res = solve_semidiscrete(torch.tensor([[2.0, -1.0]]))
    assert res.converged and torch.equal(res.cell_index(torch.rand(5, 2)), torch.zeros(5, dtype=torch.long))


# ------------------------------------------------------------------ non-convergence and bad inputs
def test_warns_naming_max_iter():
    with pytest.warns(RuntimeWarning, match="max_iter"):
        res = solve_semidiscrete(codes(100, 4), max_iter=1)
    assert not res.converged and res.n_iter == 1 and res.status == "max_iter"


def test_warns_naming_max_samples_when_the_budget_is_the_noise_floor():
    with pytest.warns(RuntimeWarning, match="max_samples"):
        res = solve_semidiscrete(codes(200, 3), max_samples=4096, n_samples=4096, max_iter=12, chunk_size=1024)
    assert not res.converged and max(e["n_samples"] for e in res.errors) == 4096


def test_budget_follows_n_and_tol_and_the_old_cap_could_not_reach_tol():
    from aeot.ot._sdot_budget import NOISE_MARGIN, noise_p95, samples_for_tol

    for n, tol in [(1000, 0.1), (60_000, 0.1), (60_000, 0.2), (200_000, 0.1)]:
        nu = torch.full((n,), 1.0 / n, dtype=torch.float64)
        need = samples_for_tol(nu, tol, 0.5)
        # the least budget whose noise p95 is within tol / NOISE_MARGIN
        assert noise_p95(nu, need) <= tol / NOISE_MARGIN < noise_p95(nu, int(0.98 * need))
    nu = torch.full((60_000,), 1.0 / 60_000, dtype=torch.float64)
    assert samples_for_tol(nu, 0.1, 0.5) > 1 << 24  # the former fixed cap: tol = 0.1 unreachable at n = 60,000
    assert noise_p95(nu, 1 << 24) > 0.1  # its noise alone was above tol


def test_a_budget_that_cannot_reach_tol_warns_before_starting_and_stops_at_the_noise_floor():
    events = []
    with pytest.warns(RuntimeWarning) as record:
        res = solve_semidiscrete(codes(200, 3), max_samples=4096, n_samples=4096, chunk_size=1024, max_iter=300,
                                 progress=lambda r: events.append(("step", len(record))))
    msgs = [str(w.message) for w in record]
    first = msgs[0]
    # said before the first iteration: the cap, the accuracy it can reach, the knob
    assert events[0] == ("step", 1) and "max_samples=4096" in first and "can reach about tol=" in first
    reach = float(first.split("can reach about tol=")[1].split(",")[0])
    assert reach > 0.1  # 4096 samples for 200 cells: noise p95 about 0.43
    # ... and it stops there with a clear result instead of looping to max_iter
    assert not res.converged and res.status == "noise_floor" and res.n_iter < 30
    assert "noise floor" in msgs[-1] and "raise max_samples" in msgs[-1]
    assert res.errors[-1]["p95"] <= 1.5 * res.errors[-1]["noise_p95"] + 0.1


def test_default_budget_converges_where_the_tolerance_needs_it():
    res = solve_semidiscrete(codes(300, 4), seed=0, tol=0.05, tol_max=0.3)
    assert res.converged and res.status == "converged" and res.errors[-1]["p95"] <= 0.05
    # the budget grew to what tol = 0.05 needs, past the default first budget of 16 n
    assert res.errors[-1]["n_samples"] >= 0.25 * 300 * (1.96 * 1.5 / 0.05) ** 2


def test_max_time_stops_with_a_clear_result():
    with pytest.warns(RuntimeWarning, match="max_time"):
        res = solve_semidiscrete(codes(200, 3), max_time=1e-6, seed=0)
    assert not res.converged and res.status == "max_time" and res.n_iter == 1
    with pytest.raises(ValueError, match="max_time"):
        solve_semidiscrete(codes(20, 2), max_time=0.0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"y": torch.tensor([[0.0, float("nan")], [1.0, 2.0]])}, "finite"),
        ({"y": torch.zeros(0, 3)}, r"shape \(n, d\)"),
        ({"y": torch.zeros(5)}, r"shape \(n, d\)"),
        ({"y": torch.zeros(3, 2, dtype=torch.long)}, "floating"),
        ({"y": torch.tensor([[0.0, 1.0], [2.0, 3.0], [0.0, 1.0]])}, "duplicate rows"),
        ({"weights": torch.tensor([0.5, 0.6, -0.1])}, "positive"),
        ({"weights": torch.tensor([0.3, 0.3, 0.3])}, "sum to 1"),
        ({"weights": torch.tensor([0.5, 0.5])}, r"weights must have shape \(3,\)"),
        ({"low": 1.0, "high": 1.0}, "low must be < high"),
        ({"low": torch.zeros(3)}, r"low must be a scalar or have shape \(2,\)"),
        ({"high": float("inf")}, "high must be finite"),
        ({"max_iter": 0}, "max_iter"),
        ({"tol": -0.1}, "tol"),
        ({"n_samples": 10, "max_samples": 5}, "n_samples"),
    ],
)
def test_bad_inputs_raise_value_error_naming_the_value(kwargs, match):
    args = {"y": torch.tensor([[0.0, 1.0], [2.0, 3.0], [1.0, -1.0]])}
    args.update(kwargs)
    y = args.pop("y")
    with pytest.raises(ValueError, match=match):
        solve_semidiscrete(y, **args)


# ------------------------------------------------------------------ the score kernel
@pytest.mark.parametrize("n, d", [(1, 3), (7, 2), (700, 5), (3000, 20)])
def test_kernel_matches_dense_scores(n, d):
    g = torch.Generator().manual_seed(n)
    y, h, w = torch.randn(n, d, generator=g), torch.randn(n, generator=g), torch.rand(333, d, generator=g)
    dense = w @ y.T + h  # (m, n)
    assert torch.equal(cell_index(w, y, h, chunk_size=100), dense.argmax(1))
    k = min(n, 5)
    v, i = power_scores_topk(w, y, h, k, chunk_size=64)
    rv, ri = dense.topk(k, 1)
    assert torch.equal(i, ri) and torch.allclose(v, rv, atol=1e-5)
    with pytest.raises(ValueError, match="k must be"):
        power_scores_topk(w, y, h, n + 1)


def test_kernel_slab_pairs_and_target_tiles():
    from aeot.ot._power import PowerScorer

    g = torch.Generator().manual_seed(0)
    y, h, w = torch.randn(1000, 4, generator=g), 0.1 * torch.randn(1000, generator=g), torch.rand(500, 4, generator=g)
    dense = w @ y.T + h
    scorer = PowerScorer(y, h, target_chunk=256)  # four target tiles
    _, idx, rows, cols = scorer.argmax(w, slab=0.05)
    assert torch.equal(idx, dense.argmax(1))
    near = dense > dense.max(1, keepdim=True).values - 0.05
    near[torch.arange(500), idx] = False
    assert set(zip(rows.tolist(), cols.tolist())) == set(map(tuple, near.nonzero().tolist()))


@pytest.mark.slow
def test_benchmark_quick_runs(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "sdot.py"), "--quick", "--markdown",
                          str(tmp_path / "sdot.md")], capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stderr
    assert "scores_per_s" in out.stdout and (tmp_path / "sdot.md").read_text().startswith("#")


def test_adam_method_reaches_the_same_marginals():
    # the reference code's update (Adam on h): slower than Newton, but it must get there too
    res = solve_semidiscrete(codes(60, 5), seed=0, method="adam")
    assert res.converged, res.errors[-1]
    e = rel_errors(res)
    assert float(e.quantile(0.95)) < 0.1 + 0.05 and float(e.max()) < 0.5
    with pytest.raises(ValueError, match="method must be 'newton' or 'adam', got 'sgd'"):
        solve_semidiscrete(codes(10, 2), method="sgd")


def test_the_scorer_reuses_one_score_tile_so_long_solves_do_not_fragment_the_heap():
    """Every tile of every call writes into one buffer (a fresh 4 MiB tile per step, between the
    small results callers keep, made glibc's heap grow with the solve: 409 MB against 276 MB
    peak RSS for n = 3000 at tol 0.15); the scores are those of a fresh product."""
    from aeot.ot._power import PowerScorer

    g = torch.Generator().manual_seed(0)
    t, h = torch.randn(300, 3, generator=g), torch.randn(300, generator=g)
    scorer = PowerScorer(t, h, target_chunk=128)
    x = torch.randn(64, 3, generator=g)
    ptrs, tiles = set(), []
    for _ in range(2):
        for j0, sc in scorer._tiles(x):
            ptrs.add(sc.data_ptr())
            tiles.append((j0, sc.clone()))
    assert len(ptrs) == 1 and len(tiles) == 2 * scorer.n_pad // scorer.t
    want = x @ t.T + h  # (64, 300)
    for j0, sc in tiles:
        cols = min(scorer.t, 300 - j0)
        assert torch.allclose(sc[:, :cols], want[:, j0:j0 + cols], atol=1e-5)
    best, idx = scorer.argmax(x)
    assert torch.equal(idx, want.argmax(1)) or torch.allclose(best, want.max(1).values, atol=1e-5)
