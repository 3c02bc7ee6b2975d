"""Distributed Monte Carlo of the semi-discrete solver: 2 CPU ranks (gloo) equal 1 process."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from aeot.ot.distributed import ChunkStream, Comm
from aeot.ot.semidiscrete import solve_semidiscrete

PROBLEM = {"n": 150, "d": 4, "seed": 3}
SOLVE = {"seed": 5, "chunk_size": 256, "max_iter": 30}


def problem_codes(n, d, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g) * torch.linspace(0.5, 2.0, d)


WORKER = textwrap.dedent(
    """
    import sys, torch, torch.distributed as dist
    sys.path.insert(0, sys.argv[2])
    from test_sdot_distributed import PROBLEM, SOLVE, problem_codes
    from aeot.ot.semidiscrete import solve_semidiscrete

    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    y = problem_codes(**PROBLEM)
    res = solve_semidiscrete(y, distributed=True, **SOLVE)
    pots = [torch.empty_like(res.potential) for _ in range(dist.get_world_size())]
    dist.all_gather(pots, res.potential)
    if dist.get_rank() == 0:
        torch.save({"potential": res.potential, "centers": res.centers, "cell_mass": res.cell_mass,
                    "errors": res.errors, "n_samples": res.n_samples, "converged": res.converged,
                    "same_on_all_ranks": all(torch.equal(p, pots[0]) for p in pots)}, sys.argv[1])
    dist.destroy_process_group()
    """
)


def test_two_gloo_ranks_equal_one_process(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    out = tmp_path / "rank0.pt"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    here = str(Path(__file__).parent)
    proc = subprocess.run([*torchrun, str(script), str(out), here], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = torch.load(out, weights_only=False)
    ref = solve_semidiscrete(problem_codes(**PROBLEM), **SOLVE)
    assert got["same_on_all_ranks"]
    assert got["converged"] and ref.converged
    # integer histograms and slab counts are all-reduced: the same potential, bit for bit
    assert torch.equal(got["potential"], ref.potential)
    assert torch.equal(got["cell_mass"], ref.cell_mass)
    assert got["errors"] == ref.errors and got["n_samples"] == ref.n_samples
    # centre sums (float64) are added in another order
    assert torch.allclose(got["centers"], ref.centers, atol=1e-6)


def test_chunks_are_the_same_points_on_any_rank_and_in_any_order():
    low, high = torch.tensor([-1.0, 0.0, 0.0]), torch.tensor([1.0, 2.0, 0.5])
    whole = torch.quasirandom.SobolEngine(3, scramble=True, seed=9).draw(40, dtype=torch.float32)
    whole = low + whole * (high - low)
    a = ChunkStream(3, low.double(), high.double(), chunk=8, seed=9, qmc=True, device="cpu")
    b = ChunkStream(3, low.double(), high.double(), chunk=8, seed=9, qmc=True, device="cpu")
    assert torch.allclose(torch.cat([a.draw(c) for c in range(5)]), whole, atol=1e-6)
    assert torch.equal(b.draw(3), a.draw(3)) and torch.equal(b.draw(1), a.draw(1))  # skip ahead, go back
    mc = ChunkStream(3, low.double(), high.double(), chunk=8, seed=9, qmc=False, device="cpu")
    assert torch.equal(mc.draw(4), mc.draw(4)) and not torch.equal(mc.draw(4), mc.draw(5))
    assert bool(((mc.draw(2) >= low) & (mc.draw(2) <= high)).all())


def test_single_process_comm_and_rank_shares():
    comm = Comm()
    assert (comm.rank, comm.world_size, comm.share(7)) == (0, 1, (0, 7))
    comm.rank, comm.world_size = 1, 3
    assert [Comm.share(comm, 7)] == [(2, 4)]
    if not dist.is_initialized():
        with pytest.raises(ValueError, match="init_process_group"):
            solve_semidiscrete(torch.randn(5, 2), distributed=True)


def test_share_covers_every_chunk_once():
    for world in (1, 2, 3, 5):
        c = Comm()
        c.world_size = world
        seen = []
        for r in range(world):
            c.rank = r
            lo, hi = c.share(17)
            seen += list(range(lo, hi))
        assert seen == list(range(17))
