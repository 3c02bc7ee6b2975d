"""Near-ties of power scores are decided once, in float64, whatever the float32 GEMM does.

Issue 18: on an Intel CPU the float32 scores of ``cell_index`` and ``power_scores_topk``
reduced in different orders and picked different cells for a sample whose two best scores
differed by 4.7e-8. These tests build ties that float32 cannot resolve at all, so without
the float64 re-check the answers below are wrong on every machine.
"""

import torch

from aeot.ot.extended import apply_extended_map, ot_map
from aeot.ot.semidiscrete import SemiDiscreteResult, cell_index, power_scores_topk


def _exact(w, y, h):
    """Reference ranking: float64 scores, ties to the smaller index."""
    return torch.sort(w.double() @ y.double().T + h.double(), dim=1, descending=True, stable=True)[1]


def test_the_issue_near_tie_goes_to_the_float64_winner():
    # The issue's sample: two best scores 0.845038093 and 0.845038046. Here the second target
    # is a copy of the first with a potential 1e-10 higher, so the two float32 scores are
    # bitwise equal and the float32 kernel alone answers cell 0 (or either, by kernel order);
    # the exact answer is cell 1.
    g = torch.Generator().manual_seed(0)
    y = torch.rand(6, 4, generator=g, dtype=torch.float64)
    y[1] = y[0]
    w = torch.rand(1, 4, generator=g, dtype=torch.float64)
    h = 0.5 - (w @ y.T)[0]  # every other target scores 0.5
    h[0] = 0.845038046 - float(w @ y[0])
    h[1] = h[0] + 1e-10
    assert float((w.float() @ y.float().T + h.float())[0, 0]) == float((w.float() @ y.float().T + h.float())[0, 1])
    want = _exact(w, y, h)
    assert int(want[0, 0]) == 1
    assert int(cell_index(w, y, h)[0]) == 1
    _, top = power_scores_topk(w, y, h, 3)
    assert torch.equal(top, want[:, :3])


def test_exact_ties_go_to_the_smaller_index_in_every_path():
    g = torch.Generator().manual_seed(1)
    y = torch.rand(40, 3, generator=g)
    y[7] = y[30]  # duplicate targets, equal potentials: an exact tie in any precision
    h = -(y**2).sum(1) / 2  # Voronoi cells: every target owns a cell
    w = torch.rand(2000, 3, generator=g)
    idx = cell_index(w, y, h)
    _, top = power_scores_topk(w, y, h, 4)
    assert torch.equal(top[:, 0], idx)
    assert not (idx == 30).any() and (idx == 7).any()
    tied = (top == 7).any(1)
    pos7, pos30 = (top == 7).float().argmax(1), (top == 30).float().argmax(1)
    both = tied & (top == 30).any(1)
    assert (pos7[both] < pos30[both]).all()


def test_cell_index_and_topk_agree_with_float64_on_many_near_ties():
    # Each target has a copy whose potential is 1e-10 higher or lower: every sample meets a
    # near-tie that float32 cannot see. Both paths must return the float64 answer, chunked
    # or not.
    g = torch.Generator().manual_seed(2)
    half, d, m = 150, 16, 3000
    y = torch.rand(half, d, generator=g, dtype=torch.float64).repeat(2, 1)  # (300, d)
    h = torch.rand(half, generator=g, dtype=torch.float64).repeat(2)
    h[half:] += 1e-10 * torch.where(torch.rand(half, generator=g) < 0.5, -1.0, 1.0).double()
    w = torch.rand(m, d, generator=g, dtype=torch.float64)
    want = _exact(w, y, h)
    ref32 = (w.float() @ y.float().T + h.float()).argmax(1)
    assert (ref32 != want[:, 0]).any()  # float32 alone gets some wrong: the test bites
    for chunk in (None, 64):
        idx = cell_index(w, y, h, chunk_size=chunk)
        vals, top = power_scores_topk(w, y, h, 5, chunk_size=chunk)
        assert torch.equal(idx, want[:, 0])
        assert torch.equal(top, want[:, :5])
        assert (vals[:, :-1] >= vals[:, 1:]).all()


def test_extended_map_cells_are_the_plain_map_cells():
    g = torch.Generator().manual_seed(3)
    n, d = 60, 2
    y = torch.rand(n, d, generator=g)
    y[5] = y[9]
    h = -(y**2).sum(1) / 2
    res = SemiDiscreteResult(
        potential=h, targets=y, weights=torch.full((n,), 1.0 / n, dtype=torch.float64), centers=y.double(),
        cell_mass=torch.full((n,), 1.0 / n, dtype=torch.float64), low=torch.zeros(d), high=torch.ones(d),
        errors=[], converged=True, n_iter=0, n_samples=0, scale={},
    )
    codes = torch.randn(n, 3, generator=g)
    w = torch.rand(3000, d, generator=g)
    out = apply_extended_map(w, res, codes, epsilon=0.5)
    assert torch.equal(codes[out.cells], ot_map(w, res, codes))
