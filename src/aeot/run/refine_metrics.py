"""FID per refinement epoch in domain-classifier features (issue 5, item 5).

:func:`fid_callback_for_run` builds the per-epoch callback of the refine stage: at epoch 0
(the AE-OT decoder) and after each epoch it decodes ``n`` latents of the run's sampler with
the generator, embeds them with the dataset's domain classifier and returns

``fid``              Frechet distance to the real test images in classifier features
``classes_covered``  classes that get at least 1% of the generated images
``kl_to_real``       KL(p_generated || p_real) of the predicted label histograms

The classifier and the real images are those of ``aeot evaluate`` (same resolution rule, same
test subset of :data:`aeot.run.evaluate.DEFAULT_N` images, same cached real features), so the
epoch-0 FID is comparable with the run's evaluation at equal ``n`` of generated images.
The refine stage passes ``n`` fixed latents (drawn once from the sampler with the refine
seed), so every epoch decodes the same latents: a change of FID between epochs is the
generator's, not the sampling's (``benchmarks/refine_fid_noise.py`` gives the latent noise).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from aeot._validation import check_int
from aeot.nets.base import decode_in_chunks
from aeot.run.config import load_data, read_run_config
from aeot.run.evaluate import DEFAULT_N, resolve_classifier

__all__ = ["DEFAULT_FID_N", "FidCallback", "check_fid_n", "fid_callback_for_run"]

DEFAULT_FID_N = 1000  # generated images per epoch: ~1 s per epoch on CPU at 28 px
MIN_FID_N = 10


def check_fid_n(n: Any) -> int:
    return check_int("--fid-n", n, low=MIN_FID_N, what=f"an int >= {MIN_FID_N} (generated images per epoch)")


class FidCallback:
    """The per-epoch callback: ``view -> {"fid", "classes_covered", "kl_to_real"}``.

    ``real_features`` (m, f) and ``real_labels`` (m,) describe the real reference set;
    their mean and covariance are computed once. ``latents`` (n, d): decoded at every epoch;
    ``None`` draws ``n`` new ones per epoch (``view.generate(n)``, seeded by the epoch).
    """

    def __init__(self, classifier: torch.nn.Module, real_features: torch.Tensor, real_labels: torch.Tensor | None,
                 n_classes: int | None, *, n: int = DEFAULT_FID_N, latents: torch.Tensor | None = None):
        from aeot.metrics.fid import feature_statistics

        if latents is not None:
            if not isinstance(latents, torch.Tensor) or latents.ndim != 2:
                raise ValueError(f"latents must be a tensor (n, d), got {getattr(latents, 'shape', type(latents))}")
            n = latents.shape[0]
        self.classifier, self.n, self.latents = classifier, check_fid_n(n), latents
        self.real_stats = feature_statistics(real_features)
        self.real_labels, self.n_classes = real_labels, n_classes

    def measure(self, images: torch.Tensor) -> dict[str, float]:
        """The numbers for a batch of generated images (N, C, H, W)."""
        from aeot.metrics import mode_coverage, predict
        from aeot.metrics.fid import feature_statistics, frechet_distance

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


def fid_callback_for_run(run_dir: str | Path, *, n: int = DEFAULT_FID_N, device: str = "cpu", seed: int = 0,
                         latents: torch.Tensor | None = None,
                         progress: Callable[[dict[str, Any]], None] | None = None
                         ) -> tuple[FidCallback | None, dict[str, Any]]:
    """``(callback or None, info)`` for the run in ``run_dir``; ``info["note"]`` says why there is none.

    ``seed`` picks the real test subset (0: that of ``aeot evaluate``); ``latents`` (n, d):
    fixed latents to decode at every epoch (see :class:`FidCallback`).

    Follows ``aeot run``'s rule for the classifier: the cached one, else one trained into
    the cache for small datasets (digits, mnist-5k), else none, with a note naming
    ``aeot classifier train --data NAME``.
    """
    from aeot.metrics import predict
    from aeot.metrics.cache import cached_features, feature_cache_key
    from aeot.metrics.inception import sha1_file

    n = check_fid_n(n)
    cfg = read_run_config(run_dir)
    test = load_data(dataclasses.replace(cfg.data, n_test=None), "test")
    if test.x.ndim != 4 or test.x.shape[1] != 1 or test.y is None:
        return None, {"note": f"no FID per epoch: {cfg.data.name} is not a labelled grey dataset (no domain classifier)"}
    clf, clf_info, note = resolve_classifier(cfg.data.name, None, auto=True, data_dir=cfg.data.data_dir,
                                              device=device, progress=progress)
    if clf is None:
        from aeot.metrics.classifier import default_classifier_path

        name = cfg.data.name
        why = (f"no domain classifier for {name} in {default_classifier_path(name)}; train one with "
               f"`aeot classifier train --data {name}` and refine again" if "aeot classifier train" in (note or "")
               else note)
        return None, {"note": f"no FID per epoch: {why}"}
    # The real reference set of `aeot evaluate` (default n, seed 0): same subset, same cache entry.
    n_real = min(DEFAULT_N["classifier"], len(test))
    idx = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[:n_real].sort().values
    real_x, real_y = test.x[idx], test.y[idx]
    sha = sha1_file(clf_info["path"])
    key = feature_cache_key(dataset=cfg.data.name, split="test", image_size=int(real_x.shape[-1]), n=n_real,
                            variant=f"real-seed{seed}", network_sha1=sha)
    real, hit = cached_features(key, lambda: dict(zip(("logits", "features"), predict(clf, real_x))))
    n_classes = int(test.n_classes or int(test.y.max()) + 1)
    info = {"n": n, "n_real": n_real, "fixed_latents": latents is not None, "real_cache_hit": hit, "classifier": clf_info.get("path"),
            "classifier_test_accuracy": clf_info.get("test_accuracy"), "network_sha1": sha}
    if note:
        info["note"] = note
    return FidCallback(clf, real["features"], real_y, n_classes, n=n, latents=latents), info
