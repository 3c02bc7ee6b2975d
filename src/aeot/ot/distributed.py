"""Distributed Monte Carlo for the semi-discrete solver: sample streams and reductions.

The solver's samples form one global stream cut into chunks of ``chunk`` points.  In an
iteration that uses chunks ``[c0, c0 + m)``, rank ``r`` of ``R`` draws and scores the
contiguous sub-range ``[c0 + floor(r m / R), c0 + floor((r + 1) m / R))``; histograms are
all-reduced (SUM), slab edges are all-gathered, and rank 0's potential is broadcast.  A
chunk is the same points wherever it is drawn (scrambled Sobol: points
``[c * chunk, (c + 1) * chunk)`` of one sequence, reached by fast-forwarding; plain Monte
Carlo: a generator seeded by ``(seed, c)``), so the ranks' streams are disjoint and a
single process with the same seed draws exactly the union of them.  Integer histograms
make the distributed potential equal to the single-process one; only the float64 sums of
the cell centres are added in a different order.

Launch with ``torchrun --nproc_per_node R script.py`` after
``torch.distributed.init_process_group("gloo" or "nccl")`` and pass ``distributed=True``
(or a ``group``) to :func:`aeot.ot.semidiscrete.solve_semidiscrete`.
"""

from __future__ import annotations

import torch
from torch import Tensor

SOBOL_MAX_DIM = 21201  # torch.quasirandom.SobolEngine.MAXDIM
_SOBOL_EPOCH = 1 << 30  # points of one scrambled sequence before re-scrambling (SobolEngine MAXBIT)


class Comm:
    """Reductions over a process group, or identity operations in a single process."""

    def __init__(self, group=None, distributed: bool = False):
        self.active = bool(distributed) or group is not None
        self.group = group
        if self.active:
            import torch.distributed as dist

            if not (dist.is_available() and dist.is_initialized()):
                raise ValueError(
                    "distributed=True (or a group) needs torch.distributed.init_process_group() first, "
                    "e.g. under `torchrun --nproc_per_node 2`"
                )
            self._dist = dist
            self.rank = dist.get_rank(group)
            self.world_size = dist.get_world_size(group)
        else:
            self.rank, self.world_size = 0, 1

    def share(self, n_chunks: int) -> tuple[int, int]:
        """This rank's half-open range of chunk offsets within ``n_chunks`` chunks."""
        r, w = self.rank, self.world_size
        return (r * n_chunks) // w, ((r + 1) * n_chunks) // w

    def all_reduce_(self, t: Tensor) -> Tensor:
        if self.active and self.world_size > 1:
            self._dist.all_reduce(t, group=self.group)
        return t

    def broadcast_(self, t: Tensor) -> Tensor:
        if self.active and self.world_size > 1:
            src = self._dist.get_global_rank(self.group, 0) if self.group is not None else 0
            self._dist.broadcast(t, src=src, group=self.group)
        return t

    def all_gather_cat(self, t: Tensor) -> Tensor:
        """Concatenate 1-D tensors of different lengths from every rank, in rank order."""
        if not (self.active and self.world_size > 1):
            return t
        size = torch.tensor([t.numel()], dtype=torch.long, device=t.device)
        sizes = [torch.zeros_like(size) for _ in range(self.world_size)]
        self._dist.all_gather(sizes, size, group=self.group)
        sizes_l = [int(s) for s in sizes]
        m = max(sizes_l)
        padded = torch.zeros(m, dtype=t.dtype, device=t.device)
        padded[: t.numel()] = t
        out = [torch.empty_like(padded) for _ in range(self.world_size)]
        self._dist.all_gather(out, padded, group=self.group)
        return torch.cat([o[:s] for o, s in zip(out, sizes_l)])


class ChunkStream:
    """Uniform points on the box ``[low, high]`` (d,), drawn chunk by chunk.

    ``draw(c)`` returns chunk ``c`` (``chunk`` points, (chunk, d) float32 on ``device``): with
    ``qmc`` the points ``[c * chunk, (c + 1) * chunk)`` of a scrambled Sobol sequence seeded by
    ``seed`` (re-scrambled every 2^30 points), else i.i.d. uniforms from a generator seeded
    by ``(seed, c)``.  Drawing chunks in increasing order costs one fast-forward per gap.
    """

    def __init__(self, d: int, low: Tensor, high: Tensor, *, chunk: int, seed: int, qmc: bool, device):
        self.d, self.chunk, self.seed, self.qmc = d, int(chunk), int(seed), bool(qmc)
        self.device = torch.device(device)
        self.low = low.to(device=self.device, dtype=torch.float32)
        self.width = (high - low).to(device=self.device, dtype=torch.float32)
        self._per_epoch = max(1, _SOBOL_EPOCH // self.chunk)  # chunks per scrambled sequence
        self._engine = None
        self._epoch = -1
        self._pos = 0  # next point index of the current engine

    def _unit(self, c: int) -> Tensor:
        if not self.qmc:
            g = torch.Generator().manual_seed(((self.seed & 0xFFFFFFFF) << 32) | (c & 0xFFFFFFFF))
            return torch.rand(self.chunk, self.d, generator=g)
        epoch, local = divmod(c, self._per_epoch)
        start = local * self.chunk
        if epoch != self._epoch or start < self._pos:
            seed = self.seed if epoch == 0 else hash((self.seed, epoch)) & 0x7FFFFFFF
            self._engine = torch.quasirandom.SobolEngine(self.d, scramble=True, seed=seed)
            self._epoch, self._pos = epoch, 0
        if start > self._pos:
            self._engine.fast_forward(start - self._pos)
        self._pos = start + self.chunk
        return self._engine.draw(self.chunk, dtype=torch.float32)

    def draw(self, c: int) -> Tensor:
        u = self._unit(int(c)).to(self.device, non_blocking=True)  # (chunk, d) in [0, 1)
        return torch.addcmul(self.low, u, self.width)
