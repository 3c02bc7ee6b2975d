"""Evaluate any latent generative model against one prepared real reference set.

:class:`Evaluator` is prepared once (the real reference images, the feature networks, the real
features, cached on disk per dataset, split, image size, n, variant and network SHA-1), then
evaluates any :class:`~aeot.model.LatentGenerativeModel` into a frozen :class:`Evaluation`::

    ev = Evaluator("digits", features="classifier", n=1000).prepare()
    result = ev.evaluate(model)
    print(result.fid, result.precision, result.recall)

IS and mode coverage come from the dataset's domain classifier, whose features are the default
FID space (fast on CPU); ``features="inception"`` adds the standard Inception space. The rows
of each space: :mod:`aeot.evaluation.rows`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from aeot._validation import check_int
from aeot.errors import ConfigError, NotFittedError
from aeot.evaluation.features import FeatureSpace, classifier_space, inception_space, resolve_classifier
from aeot.evaluation.reference import ReferenceSet
from aeot.evaluation.rows import (
    FLOOR_PEER,
    LATENT_REFERENCE,
    blur,
    calibration_pairs,
    halves,
    memorization_record,
    metric_rows,
    subset,
)
from aeot.metrics import inception_score, latent_copy_fraction, latent_metrics, load_inception
from aeot.metrics.cache import cached_features
from aeot.metrics.inception import DEFAULT_RESIZE
from aeot.model import LatentGenerativeModel
from aeot.progress import Progress, emit_stage
from aeot.train.autoencoder import encode

__all__ = ["DEFAULT_N", "Evaluation", "Evaluator", "check_features", "check_n"]

DEFAULT_N = {"classifier": 5000, "inception": 500}
LATENT_MAX_N = 2000  # exact assignment on at most this many codes per side
MEMO_MAX_TRAIN = 20_000  # training images searched for near-copies of generated ones


def check_features(features: Any) -> str:
    """``features`` if it names a feature space (``"classifier"`` or ``"inception"``), else :class:`ConfigError`."""
    if features not in DEFAULT_N:
        raise ConfigError(f"--features must be classifier or inception, got {features!r}")
    return features


def check_n(n: Any) -> int:
    """``n`` as an int >= 20 (IS uses 10 splits, the calibration halves), else :class:`ConfigError`."""
    return check_int("--n", n, low=20, what="an int >= 20 (IS uses 10 splits, the calibration halves)")


# ----------------------------------------------------------------------------- the result
@dataclass(frozen=True, eq=False)
class Evaluation:
    """What :meth:`Evaluator.evaluate` measured.

    ``spaces``: per feature space, its network, rows (``"generated"`` first, then the
    calibration rows), cache hits; ``latent``: exact-OT metrics of generated (and training)
    codes against held-out codes; ``memorization``: near-copy fractions (``None`` without a
    classifier and without training codes). ``samples`` (n, C, H, W), ``latents`` (n, d) and
    ``held_codes`` (m, d) or ``None``: what the figures are drawn from.
    The shortcuts (``fid``, ``precision`` ...) read the ``generated`` row of the main space
    (``features``; IS and coverage always from the classifier); ``None`` when not measured.
    """

    dataset: str
    image_size: int
    n_fake: int
    n_real: int
    seed: int
    features: str
    spaces: dict[str, dict[str, Any]]
    latent: dict[str, dict[str, Any]]
    memorization: dict[str, Any] | None
    notes: tuple[str, ...]
    samples: torch.Tensor = field(repr=False)
    latents: torch.Tensor = field(repr=False)
    held_codes: torch.Tensor | None = field(repr=False, default=None)
    split: str = "test"

    def row(self, name: str = "generated", space: str | None = None) -> dict[str, Any]:
        """Row ``name`` of ``space`` (default: ``features``, else the first space measured); ``{}`` if absent."""
        s = self.spaces.get(space or self.features) or (next(iter(self.spaces.values())) if space is None and
                                                        self.spaces else {})
        return next((r for r in s.get("rows", []) if r["row"] == name), {})

    @property
    def fid(self) -> float | None:
        return self.row().get("fid")

    @property
    def precision(self) -> float | None:
        return self.row().get("precision")

    @property
    def recall(self) -> float | None:
        return self.row().get("recall")

    @property
    def kid(self) -> float | None:
        return self.row().get("kid")

    @property
    def inception_score(self) -> float | None:
        return self.row(space="classifier").get("inception_score")

    @property
    def classes_covered(self) -> int | None:
        return self.row(space="classifier").get("classes_covered")

    @property
    def kl_to_real(self) -> float | None:
        return self.row(space="classifier").get("kl_to_real")

    @property
    def memorisation(self) -> float | None:
        """The fraction of generated images that are near-copies of training images."""
        return (self.memorization or {}).get("generated")

    def record(self) -> dict[str, Any]:
        """The JSON record (no tensors), in the key order of ``metrics.json``'s ``evaluation``."""
        return {"dataset": self.dataset, "split": self.split, "image_size": self.image_size, "n_fake": self.n_fake,
                "n_real": self.n_real, "seed": self.seed, "features": self.features, "spaces": self.spaces,
                "latent": self.latent, "notes": list(self.notes), "memorization": self.memorization}


# ----------------------------------------------------------------------------- the evaluator
@dataclass
class _Prepared:
    space: FeatureSpace
    real: dict[str, torch.Tensor]
    hit: bool
    calibration: list[dict[str, Any]] | None = None  # the real rows, computed on first use
    hit_blur: bool | None = None


class Evaluator:
    """Image and latent metrics of generative models against one real reference set.

    Parameters
    ----------
    dataset : str
        A registered image dataset; its test split holds the reference images.
    features : {"classifier", "inception"}
        The main FID space; ``"inception"`` adds the Inception space to the classifier's
        (needs ``aeot[inception]`` or ``inception_weights``).
    n : int, optional
        Generated images per evaluation and the cap on real reference images (default
        :data:`DEFAULT_N` of ``features``).
    seed : int
        Picks the reference subset, the generated latents and every random split.
    classifier : str or path, optional
        Domain-classifier weights (default: the cached one of ``dataset``).
    data_dir, image_size
        Where the dataset is, and its image size option (that of the model's training images).
    inception_weights : str or path, optional
        A TorchScript Inception file of your own.
    inception_resize : {"pytorch-fid", "fid-helper"}
        How images are brought to 299 px for the Inception network
        (:data:`aeot.metrics.inception.RESIZE_CONVENTIONS`; default ``"pytorch-fid"``).
    device : str
        Where the networks run.
    with_classifier : bool
        ``False``: the Inception space alone (needs ``features="inception"``), no IS, coverage or
        memorisation; what the Inception column of ``aeot reproduce`` measures.
    auto_classifier : bool
        Without a cached classifier, train one into the cache for small sets (seconds for
        digits), else note why there are no classifier metrics (what ``aeot run`` does);
        ``False`` fails instead (what ``aeot evaluate`` does).
    progress : callable, optional
        Receives stage events (:mod:`aeot.progress`).
    """

    def __init__(self, dataset: str, features: str = "classifier", n: int | None = None, seed: int = 0,
                 classifier: str | Path | None = None, *, data_dir: str | None = None, image_size: int | None = None,
                 inception_weights: str | Path | None = None, inception_resize: str = DEFAULT_RESIZE,
                 device: str = "cpu", with_classifier: bool = True, auto_classifier: bool = True,
                 progress: Progress | None = None):
        self.dataset, self.features, self.n, self.seed = dataset, features, n, seed
        self.classifier, self.data_dir, self.image_size = classifier, data_dir, image_size
        self.inception_weights, self.device, self.auto_classifier = inception_weights, device, auto_classifier
        self.inception_resize, self.with_classifier = inception_resize, with_classifier
        self.progress = progress
        self.reference: ReferenceSet | None = None
        self.notes: list[str] = []
        self.classifier_note: str | None = None  # what finding the classifier says (trained here, or why none)
        self._inception = None
        self._spaces: dict[str, _Prepared] = {}

    # -------------------------------------------------------------- preparing
    def n_samples(self) -> int:
        """The number of images each evaluation generates (checked)."""
        check_features(self.features)
        return check_n(DEFAULT_N[self.features] if self.n is None else self.n)

    def load_inception(self) -> Evaluator:
        """Load the Inception network when ``features="inception"`` (fails early when it is missing)."""
        if check_features(self.features) == "inception" and self._inception is None:
            self._inception = load_inception(self.inception_weights, device=self.device, resize=self.inception_resize)
        return self

    def prepare(self) -> Evaluator:
        """Select the reference set, find the feature networks, embed the real images; returns ``self``."""
        n = self.n_samples()
        if not self.with_classifier and self.features != "inception":
            raise ConfigError(f"with_classifier=False leaves no feature space for features={self.features!r}; "
                              f"use features='inception'")
        self.load_inception()
        ref = ReferenceSet.select(self.dataset, n, seed=self.seed, data_dir=self.data_dir, image_size=self.image_size)
        notes: list[str] = []
        note = None
        spaces: list[FeatureSpace] = []
        if not self.with_classifier:
            note = None  # the Inception space alone: no classifier to look for
        elif ref.labelled_grey:
            clf, info, note = resolve_classifier(self.dataset, None if self.classifier is None else Path(self.classifier),
                                                 auto=self.auto_classifier, data_dir=self.data_dir,
                                                 device=self.device, progress=self.progress)
            if clf is not None:
                spaces.append(classifier_space(clf, info))
        elif self.features == "classifier" and not self.auto_classifier:
            raise ConfigError(f"dataset {self.dataset!r} has no domain classifier (colour or unlabelled); "
                              f"use --features inception")
        else:
            note = f"no classifier metrics: {self.dataset} is not a labelled grey dataset"
        if note:
            notes.append(note)
        self.classifier_note = note
        if self._inception is not None:
            spaces.append(inception_space(self._inception, self.inception_weights))
        self.reference, self.notes, self._spaces = ref, notes, {}
        for space in spaces:
            real, hit = cached_features(ref.cache_key(space.cache_variant("real"), space.network_sha1),
                                        lambda: space.embed(ref.x))
            self._spaces[space.name] = _Prepared(space, real, hit)
        return self

    def space(self, name: str) -> FeatureSpace | None:
        """The prepared feature space ``name`` (``"classifier"``, ``"inception"``), or ``None``."""
        p = self._spaces.get(name)
        return None if p is None else p.space

    def real_features(self, name: str) -> dict[str, torch.Tensor]:
        """The reference images' features (and logits) in space ``name``."""
        return self._prepared()._spaces[name].real

    def real_cache_hit(self, name: str) -> bool:
        """Whether the reference features of space ``name`` came from the cache."""
        return self._prepared()._spaces[name].hit

    def _prepared(self) -> Evaluator:
        if self.reference is None:
            raise NotFittedError("this Evaluator is not prepared; call prepare() first")
        return self

    def _calibration(self, p: _Prepared) -> list[dict[str, Any]]:
        """The real rows against half A (floor, blurred, without a class), computed once per space."""
        if p.calibration is None:
            ref = self.reference
            ia, ib = halves(ref.n, self.seed)
            blurred, p.hit_blur = cached_features(ref.cache_key(p.space.cache_variant("blur1-halfB"),
                                                                p.space.network_sha1),
                                                  lambda: p.space.embed(blur(ref.x[ib])))
            pairs = calibration_pairs(subset(p.real, ib), blurred, None if ref.y is None else ref.y[ib])
            p.calibration = metric_rows(subset(p.real, ia), pairs, vs="real A", with_labels=p.space.with_labels,
                                        real_labels=ref.y, n_classes=ref.n_classes)
        return p.calibration

    # -------------------------------------------------------------- evaluating
    def evaluate(self, model: LatentGenerativeModel, *, name: str = "the model",
                 train_images: torch.Tensor | None = None, train_codes: torch.Tensor | None = None) -> Evaluation:
        """Generate ``n`` images with ``model`` and measure them.

        Parameters
        ----------
        model : LatentGenerativeModel
            Its sampler must be fitted (it draws on a generator seeded with ``seed``).
        name : str
            What the progress messages and notes call the model.
        train_images : torch.Tensor, optional
            The model's training images (N, C, H, W): the memorisation rows look for
            near-copies of the first :data:`MEMO_MAX_TRAIN` (classifier space only).
        train_codes : torch.Tensor, optional
            The training codes (N, d): the latent reference row and the latent copy fraction.

        Returns
        -------
        Evaluation
        """
        self._prepared()
        ref, n, seed, progress = self.reference, self.n_samples(), self.seed, self.progress
        emit_stage(progress, "evaluate", f"decoding {n} samples of {name}")
        g = torch.Generator(device=model.sampler.device_).manual_seed(seed)
        z_gen = model.sample_latents(n, generator=g)  # (n, d)
        fake_x = model.decode(z_gen, device="cpu").clamp(0, 1)  # (n, C, H, W)

        spaces: dict[str, dict[str, Any]] = {}
        memo = None
        for space_name, p in self._spaces.items():
            space = p.space
            label = "classifier" if space_name == "classifier" else "Inception"
            cost = "" if space_name == "classifier" else " (~0.1-0.3 s each on CPU)"
            emit_stage(progress, "evaluate", f"{label} features of {n} generated and {ref.n} real images{cost}")
            fake = space.embed(fake_x)
            ia, ib = halves(ref.n, seed)
            fake_half = subset(fake, torch.arange(min(ib.numel(), fake["features"].shape[0])))  # the floor's n
            rows = metric_rows(p.real, [("generated", fake)], vs="all real", with_labels=space.with_labels,
                               real_labels=ref.y, n_classes=ref.n_classes)
            rows += metric_rows(subset(p.real, ia), [(FLOOR_PEER, fake_half)], vs="real A",
                                with_labels=space.with_labels, real_labels=ref.y, n_classes=ref.n_classes)
            rows += self._calibration(p)
            record: dict[str, Any] = {"network_sha1": space.network_sha1, "dim": space.dim, "rows": rows}
            if space_name == "classifier":
                if train_images is not None:
                    emit_stage(progress, "evaluate", "memorisation: nearest training images in classifier features")
                    memo = self._memorization(model, fake["features"], p.real["features"], train_images)
                record.update(real_inception_score=list(inception_score(p.real["logits"], n_splits=10)),
                              cache_hits=[p.hit, p.hit_blur],
                              classifier={k: space.info.get(k) for k in ("path", "test_accuracy", "n_train", "dataset")})
            else:
                record.update(cache_hits=[p.hit, p.hit_blur], weights=space.info["weights"],
                              resize=space.info["resize"])
            spaces[space_name] = record

        emit_stage(progress, "evaluate", "latent metrics, t-SNE and interpolation strips")
        notes = list(self.notes)
        latent: dict[str, Any] = {}
        held = None
        if model.encoder is not None:
            held = encode(model.encoder, ref.x[:LATENT_MAX_N]).cpu()  # (m, d) held-out codes
            m = min(held.shape[0], n, LATENT_MAX_N, *([] if train_codes is None else [train_codes.shape[0]]))
            latent["generated"] = latent_metrics(z_gen[:m].cpu(), held[:m], seed=seed)  # both rows at the same m
            if train_codes is not None:
                latent[LATENT_REFERENCE] = latent_metrics(train_codes, held[:m], seed=seed)
        else:
            notes.append(f"no latent metrics: {name} has no encoder")
        if train_codes is not None:
            memo = dict(memo or {}, latent_copies=latent_copy_fraction(z_gen.cpu(), train_codes))
        return Evaluation(dataset=self.dataset, image_size=ref.image_size, n_fake=n, n_real=ref.n, seed=seed,
                          features=self.features, spaces=spaces, latent=latent, memorization=memo, notes=tuple(notes),
                          samples=fake_x, latents=z_gen, held_codes=held)

    def _memorization(self, model: LatentGenerativeModel, fake_feats: torch.Tensor, real_feats: torch.Tensor,
                      train_images: torch.Tensor) -> dict[str, Any]:
        """Near-copies of the first :data:`MEMO_MAX_TRAIN` training images, in classifier features;
        with an encoder, also of the reconstructions of as many training images as were generated
        (what a sampler that only resamples the training codes would score through this decoder)."""
        embed = self._spaces["classifier"].space.embed
        train_x = train_images[:MEMO_MAX_TRAIN]
        train_feats = torch.cat([embed(train_x[i : i + 1000])["features"] for i in range(0, train_x.shape[0], 1000)])
        rec = None
        if model.encoder is not None:
            m = min(fake_feats.shape[0], train_x.shape[0])
            with torch.no_grad():
                rec = torch.cat([embed(model.decode(model.encode(train_x[i : min(i + 256, m)]), device="cpu")
                                       .clamp(0, 1))["features"] for i in range(0, m, 256)])
        return memorization_record(fake_feats, train_feats, real_feats, seed=self.seed, reconstructions=rec)
