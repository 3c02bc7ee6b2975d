"""The figures of the refine stage: the paper's Fig. 5 curves, Figs. 6-7 evolutions across epochs,
and the same latents through the AE-OT decoder and the AE-OT-GAN generator side by side."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch

from aeot.io import atomic_write_bytes
from aeot.plots import image_grid, save_figure

__all__ = ["plot_evolution", "plot_refine_curves", "save_side_by_side"]


def plot_refine_curves(history: dict[str, list], path: str | Path) -> Path:
    """Fig. 5 of the paper: (a) content loss, (b) feature loss, (c) mean D outputs, (d) FID (if any)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = history["epoch"]
    extra = [k for k in history if k.lower().startswith("fid")]
    panels = [("(a) content loss L_img", ["content_loss", "eval_content_loss"]),
              ("(b) feature loss L_feat", ["feature_loss", "eval_feature_loss"]),
              ("(c) discriminator output", ["d_real", "d_fake"]),
              ("(d) FID" if extra else "(d) adversarial losses", extra or ["adv_loss", "d_loss"])]
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.2))
    for ax, (title, keys) in zip(axes, panels):
        for k in keys:
            ys = [math.nan if v is None else float(v) for v in history.get(k, [])]
            if any(math.isfinite(v) for v in ys):
                ax.plot(ep[: len(ys)], ys, marker="o", markersize=3, label=k)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return save_figure(fig, path)


def _select_epochs(n_rows: int, max_rows: int = 8) -> list[int]:
    if n_rows <= max_rows:
        return list(range(n_rows))
    return sorted({round(i * (n_rows - 1) / (max_rows - 1)) for i in range(max_rows)})


def plot_evolution(frames: torch.Tensor, epochs: list[int], path: str | Path, *, truth: torch.Tensor | None = None,
                   title: str = "") -> Path:
    """Rows of images at up to 8 epochs (frames: (E+1, k, C, H, W)), labelled; ``truth`` as the last row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _select_epochs(frames.shape[0])
    images = [frames[r] for r in rows] + ([truth] if truth is not None else [])
    labels = [f"epoch {epochs[r]}" for r in rows] + (["ground truth"] if truth is not None else [])
    k = frames.shape[1]
    grid = image_grid(torch.cat(images), nrow=k)  # (H', W', C) uint8
    fig, ax = plt.subplots(figsize=(1.0 * k + 1.2, 1.0 * len(images) + 0.6))
    ax.imshow(grid[..., 0] if grid.shape[2] == 1 else grid, cmap="gray", vmin=0, vmax=255)
    h = frames.shape[-2] + 2
    ax.set_yticks([2 + h * i + frames.shape[-2] / 2 for i in range(len(images))], labels, fontsize=8)
    ax.set_xticks([])
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)


def save_side_by_side(left: torch.Tensor, right: torch.Tensor, path: str | Path) -> Path:
    """Two 8-column grids of the same latents: AE-OT decoder (left) | AE-OT-GAN generator (right)."""
    from PIL import Image

    a, b = image_grid(left, nrow=8), image_grid(right, nrow=8)
    gap = np.full((a.shape[0], 12, a.shape[2]), 128, dtype=np.uint8)
    arr = np.concatenate([a, gap, b], axis=1)
    img = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
    img = img.resize((img.width * 2, img.height * 2), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return atomic_write_bytes(path, buf.getvalue())


