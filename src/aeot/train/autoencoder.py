"""Autoencoder training: MSE reconstruction with Adam, per-epoch atomic checkpoints, resume.

AE-OT-GAN (An et al. (ECCV 2020) §3.1) and AE-OTtrans/AE-OTgen (Zhang et al. (2019) §5.1) both start
from an autoencoder trained to reconstruct the images; the latent codes of the training
set are then the target of the latent sampler.

Determinism: the epoch-``e`` batch order is a pure function of ``(seed, e)``, so a run
that is killed and resumed from its last epoch checkpoint replays exactly the batches an
uninterrupted run would have seen, and ends with the same weights (on the same device
and thread count).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from aeot import distributed
from aeot._validation import check_int, check_positive_int, check_positive_number
from aeot.errors import CheckpointError, ConfigError
from aeot.io import load_checkpoint, load_module_state, save_checkpoint
from aeot.nets import make_autoencoder
from aeot.progress import Progress

CHECKPOINT_KIND = "AutoencoderTraining"


@dataclass(kw_only=True)
class AETrainConfig:
    """Optimisation settings of the autoencoder (Adam on the mean squared error)."""

    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0

    def validate(self) -> None:
        for name in ("epochs", "batch_size"):
            check_positive_int(name, getattr(self, name))
        check_positive_number("lr", self.lr)
        if not (isinstance(self.weight_decay, (int, float)) and self.weight_decay >= 0):
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        check_int("seed", self.seed, low=0)


def epoch_permutation(n: int, seed: int, epoch: int, device: torch.device) -> torch.Tensor:
    """The batch order of one epoch: depends only on (seed, epoch)."""
    g = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))
    return torch.randperm(n, generator=g).to(device)


@torch.no_grad()
def reconstruction_mse(model: nn.Module, x: torch.Tensor, *, batch_size: int = 256) -> float:
    """Mean squared error per pixel of ``model(x)`` against ``x`` (eval mode)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for i in range(0, x.shape[0], batch_size):
        xb = x[i : i + batch_size].to(device)
        total += float(((model(xb) - xb) ** 2).sum())
        count += xb.numel()
    model.train(was_training)
    return total / max(count, 1)


@torch.no_grad()
def encode(model: nn.Module, x: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
    """Latent codes of ``x`` (N, C, H, W) -> (N, d), in eval mode, on the model's device."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    z = torch.cat([model.encode(x[i : i + batch_size].to(device)) for i in range(0, x.shape[0], batch_size)])
    model.train(was_training)
    return z


def train_autoencoder(
    model: nn.Module,
    x: torch.Tensor,
    *,
    config: AETrainConfig,
    x_val: torch.Tensor | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: Progress | None = None,
) -> dict[str, list[float]]:
    """Train ``model`` to reconstruct ``x`` (N, C, H, W) in [0, 1]; returns the history.

    With ``checkpoint``, the model, optimizer, epoch and history are written atomically
    after every epoch; ``resume=True`` continues from that file. ``progress`` receives
    ``{"event": "batch", ...}`` and ``{"event": "epoch", ...}`` dictionaries.

    Under a process group (:mod:`aeot.distributed`) each rank trains on its share of every
    global batch of ``config.batch_size`` images through DistributedDataParallel, and only
    rank 0 writes the checkpoint; the history holds the losses of the global batches.
    """
    config.validate()
    distributed.check_batch("batch_size", config.batch_size)
    if not isinstance(x, torch.Tensor) or x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"x must be a non-empty tensor (N, ...), got {getattr(x, 'shape', type(x))}")
    if not torch.isfinite(x).all():
        raise ValueError("x contains NaN or inf; check the dataset")
    device = next(model.parameters()).device
    x = x.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    history: dict[str, list[float]] = {"epoch": [], "train_mse": [], "val_mse": [], "seconds": []}
    start_epoch = 0

    if resume:
        if checkpoint is None or not Path(checkpoint).is_file():
            raise CheckpointError(f"--resume: no checkpoint at {checkpoint}; run without --resume to start fresh")
        start_epoch, history = _load_training_state(checkpoint, model, opt, config)

    n = x.shape[0]
    n_batches = math.ceil(n / config.batch_size)
    model.train()
    net = distributed.wrap_ddp(model)  # trains through the wrapper; `model` is evaluated and saved
    for epoch in range(start_epoch, config.epochs):
        t0 = time.perf_counter()
        perm = epoch_permutation(n, config.seed, epoch, device)
        running = 0.0
        for b in range(n_batches):
            idx = perm[b * config.batch_size : (b + 1) * config.batch_size]  # (m,) the global batch
            xb = x[idx[distributed.shard(idx.shape[0])]]  # this rank's share
            loss = distributed.global_mean(((net(xb) - xb) ** 2).mean(), xb.shape[0], idx.shape[0])
            value = distributed.all_sum([loss.item()])[0] / distributed.world_size()  # the global batch's loss
            if not math.isfinite(value):
                raise FloatingPointError(
                    f"reconstruction loss became {value} at epoch {epoch + 1}; lower lr (now {config.lr})"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            running += value * idx.shape[0]
            if progress:
                progress({"event": "batch", "epoch": epoch + 1, "epochs": config.epochs,
                          "batch": b + 1, "n_batches": n_batches, "loss": value})
        history["epoch"].append(epoch + 1)
        history["train_mse"].append(running / n)
        history["val_mse"].append(reconstruction_mse(model, x_val) if x_val is not None else float("nan"))
        history["seconds"].append(time.perf_counter() - t0)
        if checkpoint is not None and distributed.is_main():
            save_checkpoint(
                checkpoint,
                kind=CHECKPOINT_KIND,
                state={"model": model.state_dict(), "optimizer": opt.state_dict(),
                       "epoch": epoch + 1, "history": history},
                config={"train": asdict(config), "model": getattr(model, "config", {})},
            )
        if progress:
            progress({"event": "epoch", "epoch": epoch + 1, "epochs": config.epochs,
                      "train_mse": history["train_mse"][-1], "val_mse": history["val_mse"][-1]})
    model.eval()
    return history


def _load_training_state(
    path: str | Path, model: nn.Module, opt: torch.optim.Optimizer, config: AETrainConfig
) -> tuple[int, dict]:
    state, meta = load_checkpoint(path, kind=CHECKPOINT_KIND)
    saved_model = meta["config"].get("model", {})
    own_model = getattr(model, "config", {})
    if saved_model and own_model and saved_model != own_model:
        raise CheckpointError(
            f"{path}: checkpoint is of model {saved_model}, not {own_model}; resume with the same architecture"
        )
    saved = meta["config"].get("train", {})
    for key in ("batch_size", "lr", "seed", "weight_decay"):
        if key in saved and saved[key] != getattr(config, key):
            raise CheckpointError(
                f"{path}: checkpoint was trained with {key}={saved[key]}, now {getattr(config, key)}; "
                "resume with the same settings"
            )
    load_module_state(model, state["model"], path=path, what="autoencoder")
    opt.load_state_dict(state["optimizer"])
    return int(state["epoch"]), {k: list(v) for k, v in state["history"].items()}


AUTOENCODER_KIND = "Autoencoder"


def save_autoencoder(path: str | Path, model: nn.Module) -> Path:
    """Weights in safetensors; ``model.config`` (enough to rebuild it) in the JSON header."""
    return save_checkpoint(path, kind=AUTOENCODER_KIND, state=model.state_dict(), config=model.config)


def load_autoencoder(path: str | Path, *, device: torch.device | str = "cpu") -> nn.Module:
    """Rebuild the autoencoder saved at ``path`` from its own config, then load its weights."""

    state, meta = load_checkpoint(path, kind=AUTOENCODER_KIND)
    try:
        model = make_autoencoder(**meta["config"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: cannot rebuild the autoencoder from its config ({e})") from None
    load_module_state(model, state, path=path, what="autoencoder")
    return model.to(device).eval()
