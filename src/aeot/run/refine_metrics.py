"""FID per refinement epoch of a run directory (issue 5, item 5): the refine stage's callback.

:func:`fid_callback_for_run` prepares an :class:`~aeot.evaluation.Evaluator` with the
reference set of ``aeot evaluate`` (the run's dataset and image size, the default
:data:`aeot.evaluation.DEFAULT_N` of classifier features, seed 0) and builds the callback from
it (:func:`aeot.evaluation.fid_callback`), so the epoch-0 FID is comparable with the run's
evaluation at equal ``n`` of generated images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from aeot.evaluation import DEFAULT_FID_N, DEFAULT_N, Evaluator, FidCallback, fid_callback
from aeot.evaluation.fid_callback import check_fid_n
from aeot.progress import Progress
from aeot.run.config import DataConfig, read_run_config

__all__ = ["DEFAULT_FID_N", "FidCallback", "check_fid_n", "fid_callback_for_data", "fid_callback_for_run"]


def fid_callback_for_run(run_dir: str | Path, *, n: int = DEFAULT_FID_N, device: str = "cpu", seed: int = 0,
                         latents: torch.Tensor | None = None,
                         progress: Progress | None = None) -> tuple[FidCallback | None, dict[str, Any]]:
    """``(callback or None, info)`` for the run in ``run_dir``; ``info["note"]`` says why there is none.

    ``seed`` picks the real test subset (0: that of ``aeot evaluate``); ``latents`` (n, d):
    fixed latents to decode at every epoch (see :class:`~aeot.evaluation.FidCallback`).

    Follows ``aeot run``'s rule for the classifier: the cached one, else one trained into
    the cache for small datasets (digits, mnist-5k), else none, with a note naming
    ``aeot classifier train --data NAME``.
    """
    return fid_callback_for_data(read_run_config(run_dir).data, n=n, device=device, seed=seed, latents=latents,
                                 progress=progress)


def fid_callback_for_data(data: DataConfig, *, n: int = DEFAULT_FID_N, device: str = "cpu", seed: int = 0,
                          latents: torch.Tensor | None = None,
                          progress: Progress | None = None) -> tuple[FidCallback | None, dict[str, Any]]:
    """:func:`fid_callback_for_run` for a run whose data section is ``data`` (already read)."""
    n = check_fid_n(n)
    evaluator = Evaluator(data.name, features="classifier", n=DEFAULT_N["classifier"], seed=seed,
                          data_dir=data.data_dir, image_size=data.image_size, device=device, auto_classifier=True,
                          progress=progress).prepare()
    return fid_callback(evaluator, n=n, latents=latents)
