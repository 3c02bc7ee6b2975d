"""The Inception FID column of ``aeot reproduce`` (issue 22 item 4): the papers' FID network beside
the classifier-feature FID.

One :class:`~aeot.evaluation.Evaluator` in Inception features, at ``n_inception`` images and the
reproduction's seed, is prepared once per call (the real test images' features are cached on disk,
keyed by n, the network's SHA-1 and the resize convention, so later calls and other tables reuse
them) and measures each row's model: FID of ``n`` generated against ``n`` real images, and, at the
floor's n, generated against real half A beside real half B against A (the floor).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aeot.errors import OptionalDependencyError
from aeot.evaluation import Evaluator
from aeot.evaluation.rows import FLOOR_PEER, FLOOR_ROW
from aeot.progress import Progress, emit_stage
from aeot.run.evaluate import load_run_model

__all__ = ["InceptionColumn"]


class InceptionColumn:
    """Measures the Inception FID of the rows of one reproduction (``cfg.n_inception > 0``).

    ``cfg``: a :class:`~aeot.experiments.reproduce.ReproduceConfig` (its dataset, image size,
    seed and Inception fields).
    """

    def __init__(self, cfg: Any, *, device: str, progress: Progress | None):
        self.cfg, self.device, self.progress = cfg, device, progress
        self._evaluator: Evaluator | None = None

    @property
    def settings(self) -> dict[str, Any]:
        """What a row's Inception stage depends on (its stage record is reused only when equal)."""
        c = self.cfg
        return {"n": c.n_inception, "resize": c.inception_resize, "weights": c.inception_weights, "seed": c.seed}

    def _new_evaluator(self) -> Evaluator:
        c = self.cfg
        return Evaluator(c.dataset, features="inception", n=c.n_inception, seed=c.seed, image_size=c.image_size,
                         inception_weights=c.inception_weights, inception_resize=c.inception_resize,
                         device=self.device, with_classifier=False, progress=self.progress)

    def check(self) -> None:
        """Load the network now, so a missing one fails before any training (names ``--n-inception 0``)."""
        try:
            self._new_evaluator().load_inception()
        except OptionalDependencyError as e:
            raise OptionalDependencyError(f"{e}; or pass --n-inception 0 for a table without Inception FID") from None

    def measure(self, run_dir: Path, generator: str) -> dict[str, Any]:
        """The Inception FID rows of the model of ``run_dir`` (``generator``: decoder or refined)."""
        if self._evaluator is None:
            emit_stage(self.progress, "reproduce", f"Inception features of {self.cfg.n_inception} real test images "
                       f"({self.cfg.inception_resize} resize; cached for later calls)")
            self._evaluator = self._new_evaluator().prepare()
        model, label = load_run_model(run_dir, generator=generator, device=self.device)
        ev = self._evaluator.evaluate(model, name=label)
        space = ev.spaces["inception"]
        rows = {r["row"]: {"fid": r["fid"], "n": r["n"]} for r in space["rows"]}
        return {"generated": rows["generated"], "at_floor_n": rows[FLOOR_PEER], "floor": rows[FLOOR_ROW],
                "n_real": ev.n_real, "resize": space["resize"], "weights": space["weights"],
                "network_sha1": space["network_sha1"]}
