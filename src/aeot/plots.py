"""Figures and tables: image grids, curves, Markdown tables.

Pure writers: each function takes tensors or dictionaries (and a path) and returns an array,
a string, or the path of the one file it wrote (atomically).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aeot.io import atomic_write_bytes

__all__ = ["image_grid", "markdown_table", "plot_curves", "save_figure", "save_image_grid"]


def image_grid(x: torch.Tensor, *, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile images (N, C, H, W) in [0, 1] into one uint8 array (H', W', C) with C in {1, 3}."""
    if x.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(x.shape)}")
    x = x.detach().float().cpu().clamp(0, 1)
    n, c, h, w = x.shape
    nrow = nrow or max(1, int(math.ceil(math.sqrt(n))))
    ncol_rows = int(math.ceil(n / nrow))
    grid = torch.ones(c, ncol_rows * (h + pad) + pad, nrow * (w + pad) + pad)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[:, top : top + h, left : left + w] = x[i]
    arr = (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return arr


def save_image_grid(x: torch.Tensor, path: str | Path, *, nrow: int | None = None, scale: int = 2) -> Path:
    """Write an image grid PNG (nearest-neighbour upscaled by ``scale`` so small digits are visible)."""
    import io

    from PIL import Image

    arr = image_grid(x, nrow=nrow)
    img = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return atomic_write_bytes(path, buf.getvalue())


def save_figure(fig, path: str | Path) -> Path:
    """Write a matplotlib figure as PNG (110 dpi, tight box) atomically, then close it."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def plot_curves(
    history: dict[str, list[float]], path: str | Path, *, x: str = "epoch", keys: list[str] | None = None,
    title: str = "", ylabel: str = "", logy: bool = False,
) -> Path:
    """Line plot of ``history[key]`` against ``history[x]`` for each key (one figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = keys or [k for k in history if k != x]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    xs = history.get(x) or list(range(1, len(history[keys[0]]) + 1))
    for k in keys:
        ys = [float("nan") if v is None else v for v in history[k]]
        if any(math.isfinite(v) for v in ys):
            ax.plot(xs, ys, marker="o", markersize=3, label=k)
    ax.set_xlabel(x)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)


def markdown_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """A GitHub Markdown table; floats printed with 4 significant digits."""
    if not rows:
        return "_(no rows)_\n"
    columns = columns or list(dict.fromkeys(k for r in rows for k in r))

    def fmt(v: Any) -> str:
        if v is None:
            return "–"
        if isinstance(v, float):
            return f"{v:.4g}" if math.isfinite(v) else "–"
        return str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"
