"""Resumable semi-discrete solves (aeot.ot._sdot_checkpoint): a stopped solve carries on exactly."""

import pytest
import torch

import aeot.ot._sdot_multiscale as ms
from aeot.errors import CheckpointError
from aeot.ot.semidiscrete import solve_semidiscrete


class Stop(Exception):
    pass


def stop_at(step):
    def progress(ev):
        if ev.get("task") == "sdot" and ev["step"] == step:
            raise Stop

    return progress


@pytest.mark.filterwarnings("ignore:solve_semidiscrete did not converge")
@pytest.mark.parametrize("method,multiscale", [("newton", False), ("adam", False), ("newton", True)])
def test_a_stopped_solve_resumes_to_the_same_potential(tmp_path, monkeypatch, method, multiscale):
    monkeypatch.setattr(ms, "MIN_N", 256)  # the coarse-to-fine start from n = 256 on
    y = torch.randn(400, 3, generator=torch.Generator().manual_seed(0))
    kw = dict(seed=0, tol=0.08, tol_max=0.4, method=method, multiscale=multiscale, max_iter=20)
    ref = solve_semidiscrete(y, **kw)
    path = tmp_path / "solve.safetensors"
    with pytest.raises(Stop):
        solve_semidiscrete(y, checkpoint=path, checkpoint_every=0, progress=stop_at(5), **kw)
    assert path.is_file()
    res = solve_semidiscrete(y, checkpoint=path, checkpoint_every=0, **kw)
    assert res.n_iter == ref.n_iter and res.status == ref.status
    assert torch.equal(res.potential, ref.potential)
    assert torch.equal(res.cell_mass, ref.cell_mass)
    assert [e["p95"] for e in res.errors] == [e["p95"] for e in ref.errors]
    assert (res.warm_start is None) == (ref.warm_start is None) == (not multiscale)


def test_a_finished_solve_is_returned_and_a_tighter_tol_carries_on(tmp_path):
    y = torch.randn(300, 2, generator=torch.Generator().manual_seed(1))
    path = tmp_path / "solve.safetensors"
    first = solve_semidiscrete(y, seed=0, tol=0.1, checkpoint=path)
    assert first.converged
    again = solve_semidiscrete(y, seed=0, tol=0.1, checkpoint=path)
    assert torch.equal(again.potential, first.potential) and again.n_iter == first.n_iter
    tighter = solve_semidiscrete(y, seed=0, tol=0.04, checkpoint=path)
    assert tighter.n_iter > first.n_iter  # went on from the saved state, keeping its history
    assert tighter.errors[: first.n_iter] == first.errors
    assert tighter.errors[-1]["p95"] <= 0.04


def test_another_problems_checkpoint_is_refused(tmp_path):
    y = torch.randn(200, 2, generator=torch.Generator().manual_seed(2))
    path = tmp_path / "solve.safetensors"
    solve_semidiscrete(y, seed=0, tol=0.2, checkpoint=path)
    with pytest.raises(CheckpointError, match="another semi-discrete solve"):
        solve_semidiscrete(y + 0.5, seed=0, tol=0.2, checkpoint=path)
    with pytest.raises(CheckpointError, match="another semi-discrete solve"):
        solve_semidiscrete(y, seed=1, tol=0.2, checkpoint=path)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        solve_semidiscrete(y, seed=0, tol=0.2, checkpoint=path)


def test_resuming_past_max_iter_says_to_raise_it(tmp_path):
    y = torch.randn(200, 2, generator=torch.Generator().manual_seed(3))
    path = tmp_path / "solve.safetensors"
    with pytest.warns(RuntimeWarning):
        solve_semidiscrete(y, seed=0, tol=1e-3, max_iter=3, checkpoint=path)
    with pytest.raises(ValueError, match="raise max_iter"):
        solve_semidiscrete(y, seed=0, tol=1e-4, max_iter=3, checkpoint=path)
