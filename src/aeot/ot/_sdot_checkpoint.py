"""Resumable semi-discrete solves: the solver's state in one safetensors + JSON checkpoint.

A solve on the codes of a whole training set runs for an hour or more on a CPU
(docs/sdot-scale.md); :func:`aeot.ot.semidiscrete.solve_semidiscrete` with ``checkpoint=PATH``
writes its state there (atomically, at most every ``checkpoint_every`` seconds, after an
iteration's step) and, when the file exists, carries on from it. The state is everything the
next iteration reads: the potential, the stepper (sampled Hessian, slab widths, trust radii, or
Adam's moments), the sample budget, the position in the sample stream, the progress counters,
the error history and the elapsed time; so a resumed solve makes the same iterations as one
that was never stopped (same device type). A finished solve stores its result too: asking
again with the same stopping rule returns it; a tighter ``tol`` or a larger ``max_iter`` /
``max_time`` / ``max_samples`` carries on from where it stopped.

The file is tied to its problem by a fingerprint of the codes, the weights, the box, the seed,
the sample stream and the method; another problem's file is refused with a one-line error.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from aeot.errors import CheckpointError
from aeot.io import load_checkpoint, save_checkpoint

KIND = "sdot-solve"
STOP_KNOBS = ("tol", "tol_max", "max_iter", "max_samples", "max_time")


def fingerprint(y: Tensor, nu: Tensor, low: Tensor, high: Tensor, **knobs: Any) -> str:
    """SHA-256 (hex) of the problem: codes (n, d), weights (n,), box corners (d,) and ``knobs``."""
    h = hashlib.sha256()
    for t in (y, nu, low, high):
        a = t.detach().to(device="cpu", dtype=torch.float64).contiguous()
        h.update(str(tuple(a.shape)).encode())
        h.update(a.numpy().tobytes())
    h.update(json.dumps(knobs, sort_keys=True).encode())
    return h.hexdigest()


class SolveCheckpoint:
    """The checkpoint file of one solve: ``load()`` its state (or None), ``save(state)`` when due."""

    def __init__(self, path: str | os.PathLike, *, every: float, fingerprint: str):
        self.path = Path(path)
        self.every = float(every)
        self.fingerprint = fingerprint
        self._last = time.perf_counter()

    def load(self) -> dict | None:
        """The saved state, or None when there is no file; refuses another problem's file."""
        if not self.path.exists():
            return None
        state, meta = load_checkpoint(self.path, kind=KIND)
        if (meta.get("config") or {}).get("fingerprint") != self.fingerprint:
            raise CheckpointError(
                f"{self.path}: checkpoint of another semi-discrete solve (other codes, weights, box, seed, "
                f"method or sample stream); delete it to start afresh, or pass another checkpoint path")
        return state

    def due(self) -> bool:
        return time.perf_counter() - self._last >= self.every

    def save(self, state: dict) -> None:
        save_checkpoint(self.path, kind=KIND, state=state, config={"fingerprint": self.fingerprint})
        self._last = time.perf_counter()
