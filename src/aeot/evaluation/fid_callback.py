"""FID per refinement epoch in domain-classifier features (issue 5, item 5).

:func:`fid_callback` builds the refiner's per-epoch callback from a prepared
:class:`~aeot.evaluation.Evaluator`, so its real reference set, classifier and cached real
features are those of the evaluation: the epoch-0 FID equals the evaluation's FID of the same
generated images by construction. At epoch 0 (the AE-OT decoder) and after each epoch the
callback decodes ``n`` latents with the generator, embeds them and returns

``fid``              Frechet distance to the real reference images in classifier features
``classes_covered``  classes that get at least 1% of the generated images
``kl_to_real``       KL(p_generated || p_real) of the predicted label histograms

Given fixed latents, every epoch decodes the same ones: a change of FID between epochs is the
generator's, not the sampling's (``benchmarks/refine_fid_noise.py`` gives the latent noise).
"""

from __future__ import annotations

from typing import Any

import torch

from aeot._validation import check_int
from aeot.evaluation.evaluator import Evaluator
from aeot.metrics import mode_coverage, predict
from aeot.metrics.classifier import default_classifier_path
from aeot.metrics.fid import feature_statistics, frechet_distance
from aeot.nets.base import decode_in_chunks

__all__ = ["DEFAULT_FID_N", "FidCallback", "check_fid_n", "fid_callback"]

DEFAULT_FID_N = 1000  # generated images per epoch: ~1 s per epoch on CPU at 28 px
MIN_FID_N = 10


def check_fid_n(n: Any) -> int:
    """``n`` as an int >= :data:`MIN_FID_N` (generated images per epoch), else :class:`~aeot.errors.ConfigError`."""
    return check_int("--fid-n", n, low=MIN_FID_N, what=f"an int >= {MIN_FID_N} (generated images per epoch)")


class FidCallback:
    """The per-epoch callback: ``view -> {"fid", "classes_covered", "kl_to_real"}``.

    ``real_features`` (m, f) and ``real_labels`` (m,) describe the real reference set;
    their mean and covariance are computed once. ``latents`` (n, d): decoded at every epoch;
    ``None`` draws ``n`` new ones per epoch (``view.generate(n)``, seeded by the epoch).
    """

    def __init__(self, classifier: torch.nn.Module, real_features: torch.Tensor, real_labels: torch.Tensor | None,
                 n_classes: int | None, *, n: int = DEFAULT_FID_N, latents: torch.Tensor | None = None):
        if latents is not None:
            if not isinstance(latents, torch.Tensor) or latents.ndim != 2:
                raise ValueError(f"latents must be a tensor (n, d), got {getattr(latents, 'shape', type(latents))}")
            n = latents.shape[0]
        self.classifier, self.n, self.latents = classifier, check_fid_n(n), latents
        self.real_stats = feature_statistics(real_features)
        self.real_labels, self.n_classes = real_labels, n_classes

    def measure(self, images: torch.Tensor) -> dict[str, float]:
        """The numbers for a batch of generated images (N, C, H, W)."""
        logits, feats = predict(self.classifier, images.clamp(0, 1))
        out = {"fid": frechet_distance(*self.real_stats, *feature_statistics(feats))}
        if self.real_labels is not None and self.n_classes:
            cov = mode_coverage(logits.argmax(1), self.real_labels, self.n_classes)
            out.update(classes_covered=cov["classes_covered"], kl_to_real=cov["kl_to_real"])
        return out

    @torch.no_grad()
    def __call__(self, view) -> dict[str, float]:
        if self.latents is None:
            return self.measure(view.generate(self.n).cpu())
        device = next(view.generator.parameters()).device
        z = self.latents.to(device)
        return self.measure(decode_in_chunks(view.generator, z, device="cpu"))


def fid_callback(evaluator: Evaluator, *, n: int = DEFAULT_FID_N,
                 latents: torch.Tensor | None = None) -> tuple[FidCallback | None, dict[str, Any]]:
    """``(callback or None, info)`` on ``evaluator``'s reference set; ``info["note"]`` says why there is none.

    Parameters
    ----------
    evaluator : Evaluator
        Prepared, with ``auto_classifier=True`` for ``aeot run``'s rule: the cached classifier,
        else one trained into the cache for small datasets, else none, with a note naming
        ``aeot classifier train --data NAME``.
    n : int
        Generated images per epoch (when ``latents`` is None).
    latents : torch.Tensor, optional
        Fixed latents (n, d) to decode at every epoch.

    Returns
    -------
    tuple
        The callback (or ``None``) and what the refine config records of it.
    """
    n = check_fid_n(n)
    ref, name = evaluator.reference, evaluator.dataset
    space = evaluator.space("classifier")
    if not ref.labelled_grey:
        return None, {"note": f"no FID per epoch: {name} is not a labelled grey dataset (no domain classifier)"}
    note = evaluator.classifier_note
    if space is None:
        why = (f"no domain classifier for {name} in {default_classifier_path(name)}; train one with "
               f"`aeot classifier train --data {name}` and refine again" if "aeot classifier train" in (note or "")
               else note)
        return None, {"note": f"no FID per epoch: {why}"}
    info = {"n": n, "n_real": ref.n, "fixed_latents": latents is not None,
            "real_cache_hit": evaluator.real_cache_hit("classifier"),
            "classifier": space.info.get("path"), "classifier_test_accuracy": space.info.get("test_accuracy"),
            "network_sha1": space.network_sha1}
    if note:
        info["note"] = note
    return FidCallback(space.network, evaluator.real_features("classifier")["features"], ref.y, ref.n_classes, n=n,
                       latents=latents), info
