"""The power-diagram kernel: chunked argmax / top-k of the scores ``<w, y_j> + h_j``.

A score matrix ``W @ Y^T + h`` for ``m`` samples and ``n`` targets is never
materialised: samples are taken ``chunk_size`` at a time and targets
``target_chunk`` at a time, keeping a running best per sample.  One score costs
``2 d`` flops in the matmul (``torch.addmm``, float32) plus one read in the
reduction; on a CPU ``torch.max(dim)`` with indices is several times slower per
element than ``amax``, so the reduction is done in two levels: a fast ``amax``
over strided blocks of ``BLOCK`` columns, an index-returning max over the
``t / BLOCK`` block maxima, and a gather of the winning block (exact: the
maximum lies in the block with the largest maximum).  The same idea gives the
exact top-k (the top k entries lie in the k blocks with the largest maxima) and
the "slab" pairs used by the semi-discrete solver's Hessian estimate.

Near-ties are decided once, here.  Float32 GEMM kernels sum in different orders on
different CPUs (and GPUs), so two scores closer than the float32 rounding error can
rank either way.  :func:`cell_index` and :func:`power_scores_topk` (everything that
assigns samples to cells outside the solver's Monte Carlo estimate) re-score, in
float64, every target whose float32 score is within twice a rigorous bound of the
float32 error (:func:`float32_error_bound`) of the decision, and rank by the float64 score,
ties broken by the smaller index.  Their answers are therefore the exact float64
argmax / top-k on every machine, and ``power_scores_topk(...)[1][:, 0]`` always
equals ``cell_index(...)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

BLOCK = 16  # columns per strided block of the two-level reduction
ALIGN = 256  # tiles are padded to a multiple of this (block rows of 16 floats: aligned, vectorised)
TARGET_CHUNK = 2048  # targets per score tile (a multiple of ALIGN)
_WIDE = 16  # extra float32 candidates for the rows whose top k a near-tie leaves uncertain


def default_chunk_size(device: torch.device) -> int:
    """Samples per score tile: small tiles stay in cache on a CPU, large ones fill a GPU.

    On the CPU a tile of 512 samples x TARGET_CHUNK targets (4 MiB of float32 scores) was
    measured 1.74x (d = 8) and 1.34x (d = 64) faster than 1024 samples (8 MiB) on the shared
    2-core AMD EPYC (n = 10,000, median of bracketed side-by-side rounds, with other users'
    jobs holding a load average near 7: the last-level cache is shared).
    """
    return 512 if device.type == "cpu" else 16384


def _round_up(a: int, b: int) -> int:
    return -(-a // b) * b


class PowerScorer:
    """Targets laid out once for the chunked kernel; the potential can be replaced cheaply.

    ``targets`` (n, d) and ``potential`` (n,) are cast to float32 on the targets' device;
    the targets are padded to whole tiles with zero rows whose potential is ``-inf``, so a
    padded column never wins.
    """

    def __init__(self, targets: Tensor, potential: Tensor | None = None, *, target_chunk: int = TARGET_CHUNK):
        n, d = targets.shape
        self.n, self.d, self.device = n, d, targets.device
        # MKL's sgemm is ~2x slower for 2 <= K < 12 than for K = 16 (measured on 2 AVX-512
        # cores): pad the inner dimension with zeros on the CPU.
        self.d_pad = 16 if (self.device.type == "cpu" and 2 <= d < 16) else d
        t = min(_round_up(max(int(target_chunk), ALIGN), ALIGN), _round_up(n, ALIGN))
        self.t = t
        self.n_pad = _round_up(n, t)
        yt = torch.zeros(self.d_pad, self.n_pad, dtype=torch.float32, device=self.device)
        yt[:d, :n] = targets.detach().to(torch.float32).T
        self._yt = [yt[:, j : j + t].contiguous() for j in range(0, self.n_pad, t)]  # (d_pad, t) each
        self._h: list[Tensor] = []
        self._buf: Tensor | None = None  # the score tile, reused (see _tiles)
        self.set_potential(torch.zeros(n, device=self.device) if potential is None else potential)

    def set_potential(self, potential: Tensor) -> None:
        hp = torch.full((self.n_pad,), float("-inf"), dtype=torch.float32, device=self.device)
        hp[: self.n] = potential.detach().to(device=self.device, dtype=torch.float32)
        self._h = [hp[j : j + self.t] for j in range(0, self.n_pad, self.t)]

    def _tiles(self, x: Tensor):
        if self.d_pad != self.d:
            x = torch.nn.functional.pad(x, (0, self.d_pad - self.d))
        buf = self._buf
        if buf is None or buf.shape != (x.shape[0], self.t) or buf.device != x.device:
            buf = self._buf = torch.empty(x.shape[0], self.t, dtype=torch.float32, device=x.device)
        for c, (yt, h) in enumerate(zip(self._yt, self._h)):
            # one (s, t) buffer for every tile: a fresh 4 MiB tile per step, between the small
            # results the callers keep, fragmented glibc's heap (peak RSS grew with the solve)
            yield c * self.t, torch.addmm(h, x, yt, out=buf)  # (s, t) scores of one tile, valid until the next

    # ------------------------------------------------------------------ argmax
    def argmax(self, x: Tensor, slab: float | None = None, cell_slab: Tensor | None = None):
        """Best target per sample: values (s,), indices (s,).

        With ``slab`` (a score width ``delta``) also returns the pairs (rows (p,), cols (p,))
        of every sample and every *other* target whose score is within ``delta`` of the
        sample's best score: the samples lying in the ``delta``-slab of a cell facet.  With
        ``cell_slab`` (n,) the width is that of the sample's best cell (``slab`` must then be
        at least its maximum: it bounds the candidates collected on the way).
        """
        best = idx = None
        cand: list[tuple[Tensor, Tensor, Tensor]] = []
        for j0, sc in self._tiles(x):
            s, t = sc.shape
            L = t // BLOCK
            v3 = sc.view(s, BLOCK, L)  # block b of column l holds columns b*L + l
            bm = v3.amax(1)  # (s, L) block maxima: fast, vectorised
            bv, bl = bm.max(1)  # (s,) the winning block (slow op, on t/BLOCK elements)
            inner = v3.gather(2, bl.view(s, 1, 1).expand(s, BLOCK, 1)).squeeze(2).argmax(1)  # (s,)
            col = inner * L + bl + j0
            if best is None:
                best, idx = bv, col
            else:
                better = bv > best
                best = torch.where(better, bv, best)
                idx = torch.where(better, col, idx)
            if slab is not None:
                r, l = (bm > (best - slab).unsqueeze(1)).nonzero(as_tuple=True)  # candidate blocks
                vals = v3[r, :, l]  # (p, BLOCK)
                keep = vals > (best[r] - slab).unsqueeze(1)
                rr = r.unsqueeze(1).expand_as(vals)[keep]
                cc = (torch.arange(BLOCK, device=x.device) * L).unsqueeze(0) + l.unsqueeze(1) + j0
                cand.append((rr, cc[keep], vals[keep]))
        if slab is None:
            return best, idx
        rows = torch.cat([c[0] for c in cand])
        cols = torch.cat([c[1] for c in cand])
        vals = torch.cat([c[2] for c in cand])
        width = slab if cell_slab is None else cell_slab[idx[rows]]
        keep = (vals > best[rows] - width) & (cols != idx[rows])  # final best is known now
        return best, idx, rows[keep], cols[keep]

    # ------------------------------------------------------------------- top-k
    def topk(self, x: Tensor, k: int):
        """The k best targets per sample, best first: values (s, k), indices (s, k)."""
        best_v = best_i = None
        for j0, sc in self._tiles(x):
            s, t = sc.shape
            L = t // BLOCK
            if k * 4 <= L:
                v3 = sc.view(s, BLOCK, L)
                _, bl = v3.amax(1).topk(k, 1)  # (s, k) the k best blocks hold the k best entries
                cand = v3.gather(2, bl.unsqueeze(1).expand(s, BLOCK, k)).reshape(s, BLOCK * k)
                v, c = cand.topk(k, 1)
                i = torch.div(c, k, rounding_mode="floor") * L + bl.gather(1, c % k) + j0
            else:
                kk = min(k, t)
                v, i = sc.topk(kk, 1)
                i = i + j0
            if best_v is None:
                best_v, best_i = v, i
            else:
                v, p = torch.cat([best_v, v], 1).topk(k, 1)
                best_v, best_i = v, torch.cat([best_i, i], 1).gather(1, p)
        return best_v, best_i


def _check_query(w: Tensor, targets: Tensor, potential: Tensor) -> None:
    if targets.ndim != 2 or targets.shape[0] == 0:
        raise ValueError(f"targets must have shape (n, d) with n >= 1, got {tuple(targets.shape)}")
    if w.ndim != 2 or w.shape[1] != targets.shape[1]:
        raise ValueError(f"w must have shape (m, {targets.shape[1]}), got {tuple(w.shape)}")
    if potential.shape != (targets.shape[0],):
        raise ValueError(f"potential must have shape ({targets.shape[0]},), got {tuple(potential.shape)}")


def _unit_roundoff(device: torch.device) -> float:
    """Unit roundoff of the float32 score matmul (TF32 on CUDA when the user enabled it)."""
    if device.type == "cuda" and torch.backends.cuda.matmul.allow_tf32:
        return 2.0**-11
    return 2.0**-24


def float32_error_bound(x: Tensor, y_norm_max: float, h_abs_max: float) -> Tensor:
    """Per row of ``x`` (s, d), a bound on ``|float32 score - exact score|`` for every target.

    A float32 dot product of length d plus one addition, in any summation order, errs by
    at most ``gamma_{d+1} * (sum_i |x_i y_i| + |h|)``; the float32 rounding of x, y and h
    adds three more ``u``. With Cauchy-Schwarz, ``sum_i |x_i y_i| <= ||x|| ||y||``; the
    factor 2 is a margin over this bound.
    """
    u = _unit_roundoff(x.device)
    c = 2.0 * (x.shape[1] + 4) * u
    return c * (x.double().norm(dim=1) * y_norm_max + h_abs_max)  # (s,)


def _exact_scores(x64: Tensor, y64: Tensor, h64: Tensor, cols: Tensor) -> Tensor:
    """Float64 scores of rows x64 (s, d) against targets ``cols`` (s, c): (s, c)."""
    return (x64[:, None, :] * y64[cols]).sum(-1) + h64[cols]


def _rank(scores: Tensor, cols: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The k best of ``cols`` (s, c) by ``scores`` (s, c), ties to the smaller index."""
    order = cols.argsort(dim=1, stable=True)  # ascending index first, then a stable sort by score
    cols, scores = cols.gather(1, order), scores.gather(1, order)
    top = scores.argsort(dim=1, descending=True, stable=True)[:, :k]
    return scores.gather(1, top), cols.gather(1, top)


class _Exact:
    """Float64 copies of the targets and potential, and the bounds of :func:`float32_error_bound`."""

    def __init__(self, targets: Tensor, potential: Tensor):
        self.y = targets.detach().to(torch.float64)
        self.h = potential.detach().to(torch.float64)
        self.y_max = float(self.y.norm(dim=1).max()) if self.y.numel() else 0.0
        self.h_max = float(self.h.abs().max()) if self.h.numel() else 0.0

    def bound(self, x: Tensor) -> Tensor:
        return float32_error_bound(x, self.y_max, self.h_max)  # (s,)

    def argmax(self, scorer: PowerScorer, x: Tensor, x64: Tensor) -> Tensor:
        """The exact float64 argmax (ties: smaller index) of rows x64 (s, d); x = x64 in float32: (s,)."""
        slab = 2.0 * float(self.bound(x).max()) if x.shape[0] else 0.0
        _, idx, rows, cols = scorer.argmax(x, slab=slab)  # every target within slab of the best
        if not rows.numel():
            return idx
        near, pos = torch.unique(rows, return_inverse=True)  # (r,) rows with a near-tie
        cnt = torch.bincount(pos, minlength=near.numel())
        order = pos.argsort(stable=True)
        pos, cols = pos[order], cols[order]
        slot = torch.arange(pos.numel(), device=x.device) - (cnt.cumsum(0) - cnt)[pos] + 1
        cand = idx[near][:, None].repeat(1, int(cnt.max()) + 1)  # (r, c), padded with the best
        cand[pos, slot] = cols
        out = idx.clone()
        out[near] = _rank(_exact_scores(x64[near], self.y, self.h, cand), cand, 1)[1][:, 0]
        return out

    def topk(self, scorer: PowerScorer, x: Tensor, x64: Tensor, k: int) -> tuple[Tensor, Tensor]:
        """The exact float64 top-k (ties: smaller index) of rows x64 (s, d); x = x64 in float32."""
        n = self.y.shape[0]
        vals, idx, unsure = self._topk_of(scorer, x, x64, k, min(k + 1, n))
        if unsure.any():  # near-ties at the k-th place: a wider float32 candidate set
            r = unsure.nonzero().squeeze(1)
            vals[r], idx[r], still = self._topk_of(scorer, x[r], x64[r], k, min(k + _WIDE, n))
            if still.any():  # rarer still: every target, in float64
                r = r[still]
                full = x64[r] @ self.y.T + self.h  # (r, n)
                vals[r], idx[r] = _rank(full, torch.arange(n, device=x.device).expand(r.numel(), n), k)
        return vals, idx

    def _topk_of(self, scorer: PowerScorer, x: Tensor, x64: Tensor, k: int, kk: int) -> tuple[Tensor, ...]:
        """The exact top k among the float32 top kk, and the rows where that set is not certain."""
        v32, i32 = scorer.topk(x, kk)  # (s, kk) float32 candidates
        vals, idx = _rank(_exact_scores(x64, self.y, self.h, i32), i32, k)
        if kk == self.y.shape[0]:
            return vals, idx, torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
        # A target outside the candidates scores exactly at most v32[:, -1] + err: the top k
        # are certain where the exact k-th score is above that.
        return vals, idx, vals[:, -1] <= v32[:, -1].double() + self.bound(x)


def power_scores_topk(
    w: Tensor, targets: Tensor, potential: Tensor, k: int, chunk_size: int | None = None
) -> tuple[Tensor, Tensor]:
    """The k largest power scores ``<w, y_j> + h_j`` per row of ``w``, best first.

    w (m, d), targets (n, d), potential (n,) -> values (m, k) float32, indices (m, k) long,
    on ``w``'s device.  Chunked over samples and targets; memory O(chunk_size * 2048).
    ``indices[:, 0]`` is the power cell of each sample, always equal to :func:`cell_index`:
    the candidates are ranked by their float64 scores, ties to the smaller index.
    """
    _check_query(w, targets, potential)
    n = targets.shape[0]
    if not 1 <= int(k) <= n:
        raise ValueError(f"k must be in [1, n={n}], got {k}")
    scorer = PowerScorer(targets.to(w.device), potential.to(w.device))
    s = int(chunk_size or default_chunk_size(w.device))
    x = w.detach().to(torch.float32)
    exact, w64 = _Exact(targets.to(w.device), potential.to(w.device)), w.detach().to(torch.float64)
    outs = [exact.topk(scorer, x[i : i + s], w64[i : i + s], int(k)) for i in range(0, x.shape[0], s)]
    if not outs:
        return (torch.empty(0, k, device=w.device), torch.empty(0, k, dtype=torch.long, device=w.device))
    return torch.cat([o[0] for o in outs]).float(), torch.cat([o[1] for o in outs])


def cell_index(w: Tensor, targets: Tensor, potential: Tensor, chunk_size: int | None = None) -> Tensor:
    """Power cell of each sample: ``argmax_j <w, y_j> + h_j`` (m,) long on ``w``'s device.

    The semi-discrete OT map is ``T(w) = targets[cell_index(w, targets, potential)]``.
    Float32 scores, chunked like :func:`power_scores_topk`; samples whose best scores are
    closer than the float32 error are decided in float64, ties to the smaller index (see
    the module docstring), so the answer does not depend on the machine's GEMM kernel.
    """
    _check_query(w, targets, potential)
    scorer = PowerScorer(targets.to(w.device), potential.to(w.device))
    s = int(chunk_size or default_chunk_size(w.device))
    x = w.detach().to(torch.float32)
    exact, w64 = _Exact(targets.to(w.device), potential.to(w.device)), w.detach().to(torch.float64)
    out = [exact.argmax(scorer, x[i : i + s], w64[i : i + s]) for i in range(0, x.shape[0], s)]
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long, device=w.device)
