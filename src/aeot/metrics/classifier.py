"""The domain classifier of the 28x28 grey datasets: a small CNN that scores the Inception Score,
labels samples for mode coverage, and gives the features of the domain FID (issue 9; the 004
tables report IS from such a classifier for MNIST and Fashion-MNIST).

Architecture (width w = 24):  (N, 1, 28, 28) -> conv w 3x3, BN, ReLU, maxpool  (N, w, 14, 14)
  -> conv 2w, BN, ReLU, maxpool (N, 2w, 7, 7) -> conv 4w, BN, ReLU, maxpool (N, 4w, 3, 3)
  -> linear 128, ReLU = the features (N, 128) -> dropout -> linear n_classes = the logits.
Inputs are images in [0, 1]; other sizes are resized bilinearly to 28 x 28.
Checkpoints: weights in safetensors, config and training summary in its JSON header and in a
``.json`` file beside it (aeot.io; never pickle).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from aeot import distributed
from aeot._validation import check_positive_int, check_positive_number
from aeot.data import dataset_spec, load_dataset
from aeot.errors import CheckpointError, ConfigError
from aeot.io import atomic_write_json, load_checkpoint, load_module_state, save_checkpoint
from aeot.metrics._checks import check_images
from aeot.metrics.cache import cache_dir

KIND = "DomainClassifier"
INPUT_SIZE = 28


@dataclass(kw_only=True)
class ClassifierConfig:
    """Architecture and optimisation (Adam, cosine learning rate) of the domain classifier."""

    width: int = 24
    feature_dim: int = 128
    epochs: int = 6
    batch_size: int = 128
    lr: float = 3e-3
    seed: int = 0

    def validate(self) -> None:
        for name in ("width", "feature_dim", "epochs", "batch_size"):
            check_positive_int(f"classifier {name}", getattr(self, name))
        check_positive_number("classifier lr", self.lr)


class DomainClassifier(nn.Module):
    """Small CNN: ``forward(x)`` -> logits (N, k); ``logits_and_features(x)`` -> ((N, k), (N, feature_dim))."""

    def __init__(self, *, n_classes: int = 10, width: int = 24, feature_dim: int = 128):
        super().__init__()
        self.config = {"n_classes": n_classes, "width": width, "feature_dim": feature_dim}
        w = width

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                                 nn.ReLU(inplace=True), nn.MaxPool2d(2))

        self.body = nn.Sequential(block(1, w), block(w, 2 * w), block(2 * w, 4 * w), nn.Flatten(),
                                  nn.Linear(4 * w * 9, feature_dim), nn.ReLU(inplace=True))
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(feature_dim, n_classes))

    def logits_and_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_images(x, channels=(1,))
        x = x.float()
        if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        feats = self.body((x - 0.5) / 0.5)  # (N, feature_dim)
        return self.head(feats), feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits_and_features(x)[0]


class ClassifierFeatures(nn.Module):
    """The classifier's penultimate features as a feature-extractor module (for :class:`~aeot.metrics.FID`)."""

    def __init__(self, classifier: DomainClassifier):
        super().__init__()
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier.logits_and_features(x)[1]


@torch.no_grad()
def predict(model: DomainClassifier, x: torch.Tensor, *, batch_size: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logits (N, k), features (N, f))`` on CPU in float64, computed in eval mode on the model's device."""
    device = next(model.parameters()).device
    was = model.training
    model.eval()
    out = [model.logits_and_features(x[i : i + batch_size].to(device)) for i in range(0, x.shape[0], batch_size)]
    model.train(was)
    return (torch.cat([o[0] for o in out]).to("cpu", torch.float64),
            torch.cat([o[1] for o in out]).to("cpu", torch.float64))


def accuracy(model: DomainClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    logits, _ = predict(model, x)
    return float((logits.argmax(1) == y.cpu()).double().mean())


def train_classifier(x: torch.Tensor, y: torch.Tensor, *, n_classes: int, config: ClassifierConfig | None = None,
                     x_test: torch.Tensor | None = None, y_test: torch.Tensor | None = None,
                     device: torch.device | str = "cpu",
                     progress: Callable[[dict[str, Any]], None] | None = None) -> tuple[DomainClassifier, dict[str, Any]]:
    """Train a :class:`DomainClassifier` on images ``x`` (N, 1, H, W) and labels ``y`` (N,); returns (model, summary).

    Under a process group (:mod:`aeot.distributed`) each rank trains on its share of every
    global batch of ``config.batch_size`` images through DistributedDataParallel (batch norm
    statistics per process on gloo); the reported losses are those of the global batches.
    """
    config = config or ClassifierConfig()
    config.validate()
    distributed.check_batch("classifier batch_size", config.batch_size)
    check_images(x, name="training images", channels=(1,))
    if y is None or y.shape != (x.shape[0],):
        raise ConfigError("the classifier needs one integer label per training image; this dataset has none")
    with torch.random.fork_rng(devices=[]):  # weight init from a seeded global RNG, caller's state kept
        torch.manual_seed(config.seed)
        model = DomainClassifier(n_classes=n_classes, width=config.width, feature_dim=config.feature_dim)
    model = model.to(device).train()
    net = distributed.wrap_ddp(model)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    n_batches = -(-x.shape[0] // config.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=config.epochs * n_batches)
    g = torch.Generator().manual_seed(config.seed)
    history: dict[str, list[float]] = {"epoch": [], "train_loss": [], "test_accuracy": []}
    t0 = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        perm = torch.randperm(x.shape[0], generator=g)
        total = 0.0
        for i in range(0, x.shape[0], config.batch_size):
            idx = perm[i : i + config.batch_size]  # (m,) the global batch
            mine = idx[distributed.shard(idx.numel())]  # this rank's share
            xb, yb = x[mine].to(device), y[mine].to(device)
            loss = distributed.global_mean(F.cross_entropy(net(xb), yb), mine.numel(), idx.numel())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += distributed.all_sum([float(loss.detach())])[0] / distributed.world_size() * idx.numel()
        acc = accuracy(model, x_test, y_test) if x_test is not None else float("nan")
        history["epoch"].append(epoch)
        history["train_loss"].append(total / x.shape[0])
        history["test_accuracy"].append(acc)
        if progress:
            progress({"event": "step", "task": "classifier", "step": epoch, "total": config.epochs,
                      "loss": total / x.shape[0], "test_acc": acc})
    model.eval()
    summary = {"config": asdict(config), "n_train": int(x.shape[0]), "train_seconds": time.perf_counter() - t0,
               "test_accuracy": history["test_accuracy"][-1], "n_test": None if x_test is None else int(x_test.shape[0]),
               "history": history}
    return model, summary


def save_classifier(path: str | Path, model: DomainClassifier, info: dict[str, Any] | None = None) -> Path:
    """Weights to ``path`` (safetensors, config + ``info`` in its JSON header) and ``info`` to ``path.json``."""
    path = Path(path)
    meta = {"model": model.config, **(info or {})}
    save_checkpoint(path, kind=KIND, state=model.state_dict(), config=meta)
    atomic_write_json(path.with_suffix(".json"), meta)
    return path


def load_classifier(path: str | Path, *, device: torch.device | str = "cpu") -> tuple[DomainClassifier, dict[str, Any]]:
    """``(model in eval mode, saved info)`` from a file written by :func:`save_classifier`."""
    state, meta = load_checkpoint(path, kind=KIND)
    cfg = meta.get("config") or {}
    try:
        model = DomainClassifier(**cfg["model"])
    except (KeyError, TypeError) as e:
        raise CheckpointError(f"{path}: cannot rebuild the classifier from its config ({e}); retrain it "
                              f"with `aeot classifier train`") from None
    load_module_state(model, state, path=path, what="classifier")
    return model.to(device).eval(), cfg


# ----------------------------------------------------------------------------- per dataset
def default_classifier_path(dataset: str) -> Path:
    """``<cache>/classifiers/<dataset>.safetensors`` (see :mod:`aeot.metrics.cache`)."""

    return cache_dir() / "classifiers" / f"{dataset}.safetensors"


def load_grey28(name: str, split: str, *, data_dir: str | None = None, n: int | None = None):
    """Dataset ``name`` at 28 x 28 when it has an ``image_size`` parameter; grey images only."""

    params = {"image_size": INPUT_SIZE} if "image_size" in dataset_spec(name).params else {}
    ds = load_dataset(name, split=split, data_dir=data_dir, n=n, **params)
    if ds.image_shape is None or ds.image_shape[0] != 1 or ds.y is None:
        raise ConfigError(f"dataset {name!r} is not a labelled grey image set; the domain classifier is for "
                          f"digits, mnist, mnist-5k and fashion-mnist (use --features inception for the others)")
    return ds


def train_dataset_classifier(dataset: str, *, out: str | Path | None = None, data_dir: str | None = None,
                             n_train: int | None = None, config: ClassifierConfig | None = None,
                             device: torch.device | str = "cpu",
                             progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Train the classifier of ``dataset`` on its train split, test it, save it (default: the cache)."""
    train, test = load_grey28(dataset, "train", data_dir=data_dir, n=n_train), load_grey28(dataset, "test", data_dir=data_dir)
    n_classes = int(train.n_classes or int(train.y.max()) + 1)
    model, summary = train_classifier(train.x, train.y, n_classes=n_classes, config=config, x_test=test.x,
                                      y_test=test.y, device=device, progress=progress)
    path = Path(out) if out is not None else default_classifier_path(dataset)
    info = {"dataset": dataset, "image_size": INPUT_SIZE, **summary}
    distributed.on_main(save_classifier, path, model.cpu(), info)  # rank 0 writes, the others wait
    return {**info, "path": str(path)}
