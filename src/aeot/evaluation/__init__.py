"""Evaluation of latent generative models (see ARCHITECTURE.md): one :class:`Evaluator`, prepared
once on a :class:`ReferenceSet` of real images, measures any
:class:`~aeot.model.LatentGenerativeModel` into a frozen :class:`Evaluation`; the refiner's
per-epoch FID callback (:func:`~aeot.evaluation.fid_callback.fid_callback`) is built from the
same prepared evaluator."""

from aeot.evaluation.evaluator import DEFAULT_N, Evaluation, Evaluator
from aeot.evaluation.fid_callback import DEFAULT_FID_N, FidCallback, fid_callback
from aeot.evaluation.reference import ReferenceSet

__all__ = ["DEFAULT_FID_N", "DEFAULT_N", "Evaluation", "Evaluator", "FidCallback", "ReferenceSet", "fid_callback"]
