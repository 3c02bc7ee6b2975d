"""Seconds per epoch of the ``aeot reproduce cifar10 | celeba | celeba-hq --full`` presets.

    python benchmarks/preset_epoch_times.py [--device auto] [--n 4096] [--presets cifar10 celeba celeba-hq]
                                            [--json out.json]

For every architecture column of each preset (000 Table 1 / Table 2), at the preset's full
settings (width 1.0, latent 128, its batch sizes, R and T of §4): one autoencoder epoch and one
AE-OT-GAN refinement epoch on ``--n`` and on ``2 n`` synthetic images of the preset's size (no
dataset needed; the cost of an epoch does not depend on the pixels); the difference, the cost of
``n`` more images, is scaled to the preset's training set (CIFAR-10: 50,000; CelebA: 182,340 = 202,599 less the 10% test split; CelebA-HQ: 27,000).
Then the cost of a full run: ``ae_epochs`` autoencoder epochs and ``refine_epochs`` refinement
epochs (the semi-discrete fit and the Inception evaluation are not included).

On CUDA (``--device auto`` picks it when there is one) this is the measurement a user needs;
on a CPU it is an estimate from a small subset (``--n 128`` is enough to see the order).
Prints one JSON object per (preset, column) and then a Markdown table for docs/reproduce.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import replace

import torch

from aeot.experiments.presets_000 import PAPER_ARCHS, PAPER_DATASETS, PAPER_PRESETS, PaperPresetConfig, refine_config
from aeot.nets import make_autoencoder
from aeot.samplers import make_sampler
from aeot.train.autoencoder import AETrainConfig, encode, train_autoencoder
from aeot.train.refine import refine_generator

N_TRAIN = {"cifar10": 50000, "celeba": 182340, "celeba-hq": 27000}  # training images of each preset's data
SIZE = {"cifar10": 32, "celeba": 64, "celeba-hq": 256}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _epoch_seconds(cfg: PaperPresetConfig, arch: str, n: int, device: str) -> tuple[float, float]:
    """Seconds of one AE epoch and one refinement epoch of ``arch`` on ``n`` synthetic images."""
    size = SIZE[cfg.dataset]
    x = torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(0))  # (n, 3, S, S)
    torch.manual_seed(0)
    ae = make_autoencoder(arch, image_shape=(3, size, size), latent_dim=cfg.latent_dim, width=cfg.width).to(device)
    _sync(device)
    t0 = time.perf_counter()
    train_autoencoder(ae, x, config=AETrainConfig(epochs=1, batch_size=cfg.ae_batch_size, seed=0))
    _sync(device)
    ae_seconds = time.perf_counter() - t0
    z = encode(ae, x)  # (n, d) on the device
    sampler = make_sampler("gaussian", seed=0).fit(z)  # the sampler's kind does not change an epoch's cost
    rcfg = replace(refine_config(cfg), epochs=1)
    _sync(device)
    t0 = time.perf_counter()
    refine_generator(ae, sampler, x, z, config=rcfg)
    _sync(device)
    return ae_seconds, time.perf_counter() - t0


def time_column(name: str, column: str, arch: str, *, n: int, device: str) -> dict:
    """Seconds per epoch of ``arch`` over the preset's training set: the slope between epochs on ``n``
    and on ``2 n`` synthetic images (what one more image costs), so that the fixed cost of an epoch
    (building the networks, the evaluation panel at epoch 0, a first CUDA call) does not scale up."""
    cfg = PaperPresetConfig(dataset=name, preset="full", data_dir="(synthetic)", archs={column: arch},
                            **PAPER_PRESETS[name]["full"])
    _epoch_seconds(cfg, arch, min(n, 64), device)  # warm-up: kernels, allocator, caches
    ae1, ref1 = _epoch_seconds(cfg, arch, n, device)
    ae2, ref2 = _epoch_seconds(cfg, arch, 2 * n, device)
    ae_epoch = max(ae2 - ae1, 0.0) / n * N_TRAIN[name]
    refine_epoch = max(ref2 - ref1, 0.0) / n * N_TRAIN[name]
    rcfg = refine_config(cfg)
    full_hours = (cfg.ae_epochs * ae_epoch + cfg.refine_epochs * refine_epoch) / 3600
    return {"preset": name, "column": column, "arch": arch, "image_size": SIZE[name], "device": device,
            "device_name": torch.cuda.get_device_name(0) if device.startswith("cuda") else platform.processor()
            or platform.machine(), "torch_threads": torch.get_num_threads(), "n_timed": [n, 2 * n],
            "n_train": N_TRAIN[name], "ae_batch_size": cfg.ae_batch_size, "refine_batch_size": rcfg.batch_size,
            "lr_ratio": rcfg.lr_ratio, "g_steps": rcfg.g_steps, "ae_seconds_timed": [ae1, ae2],
            "refine_seconds_timed": [ref1, ref2], "ae_seconds_per_epoch": ae_epoch,
            "refine_seconds_per_epoch": refine_epoch, "ae_epochs": cfg.ae_epochs, "refine_epochs": cfg.refine_epochs,
            "full_run_hours": full_hours}


def markdown(rows: list[dict]) -> str:
    lines = ["| preset | column | net | px | device | images timed | AE s / epoch | AE-OT-GAN s / epoch "
             "| full run (AE + refinement epochs) |", "|---|---|---|---:|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['preset']} | {r['column']} | `{r['arch']}` | {r['image_size']} | {r['device_name']} "
                     f"({r['device']}) | {r['n_timed'][0]} and {r['n_timed'][1]} of {r['n_train']} | {r['ae_seconds_per_epoch']:.0f} | "
                     f"{r['refine_seconds_per_epoch']:.0f} | {r['full_run_hours']:.1f} h ({r['ae_epochs']} + "
                     f"{r['refine_epochs']}) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--n", type=int, default=None, help="epochs are timed on n and 2n images (default 2048 on CUDA, "
                    "128 on CPU)")
    ap.add_argument("--presets", nargs="+", default=list(PAPER_DATASETS), choices=list(PAPER_DATASETS))
    ap.add_argument("--json", default=None, help="also write the rows to this file")
    args = ap.parse_args(argv)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    n = args.n or (2048 if device == "cuda" else 128)
    rows = []
    for name in args.presets:
        for column, arch in PAPER_ARCHS[name].items():
            row = time_column(name, column, arch, n=n, device=device)
            print(json.dumps(row), flush=True)
            rows.append(row)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    print()
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
