"""Figures of an evaluation: t-SNE of latent codes and interpolation strips (through the model's
decoder, between held-out codes and between prior pairs of its sampler)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from aeot.model import LatentGenerativeModel
from aeot.plots import save_figure, save_image_grid

__all__ = ["interpolation_figures", "plot_tsne"]

N_STRIPS = 6
N_STEPS = 10


def plot_tsne(real: torch.Tensor, fake: torch.Tensor, path: str | Path, *, seed: int = 0) -> Path:
    """t-SNE (scikit-learn, 2-D, PCA init) of held-out real codes (n, d) and generated codes (m, d), one scatter."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    x = torch.cat([real, fake]).double().numpy()
    perplexity = float(min(30, max(2, (x.shape[0] - 1) // 3)))
    emb = TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=seed).fit_transform(x)
    n = real.shape[0]
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.scatter(emb[:n, 0], emb[:n, 1], s=6, alpha=0.6, label=f"held-out codes ({n})")
    ax.scatter(emb[n:, 0], emb[n:, 1], s=6, alpha=0.6, label=f"generated codes ({fake.shape[0]})")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("t-SNE of latent codes")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def _lerp(a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    """Rows a[i] -> b[i] in ``steps`` points each: (len(a) * steps, d), strip after strip."""
    t = torch.linspace(0, 1, steps, dtype=a.dtype, device=a.device)[None, :, None]
    return (a[:, None] * (1 - t) + b[:, None] * t).reshape(-1, a.shape[1])


def interpolation_figures(model: LatentGenerativeModel, held: torch.Tensor | None, run_dir: str | Path, *,
                          seed: int = 0, where: Callable[[str], Path] | None = None) -> dict[str, str]:
    """Decode linear paths between held-out code pairs (skipped when ``held`` is None: a model
    without an encoder) and between prior pairs of ``model.sampler``; write the strips.
    ``where(name)``: the path to write figure ``name`` to (default ``run_dir / name``)."""
    run_dir = Path(run_dir)
    where = where or (lambda name: run_dir / name)
    sampler = model.sampler
    device = next(model.parameters()).device
    out: dict[str, str] = {}
    if held is not None:
        g = torch.Generator().manual_seed(seed)
        k = min(N_STRIPS, held.shape[0] // 2)
        pick = torch.randperm(held.shape[0], generator=g)[: 2 * k]
        z = _lerp(held[pick[:k]], held[pick[k:]], N_STEPS).to(device, next(model.parameters()).dtype)
        with torch.no_grad():
            save_image_grid(model.decode(z).cpu(), where("interp_latent.png"), nrow=N_STEPS)
        out["interp_latent"] = "interp_latent.png"
    caption = getattr(sampler, "source_space", None)  # a baseline's prior adapter has none
    gs = torch.Generator(device=sampler.device_).manual_seed(seed)
    if caption is not None:  # the sampler pushes source points forward: interpolate between those
        w = sampler.sample_source(2 * N_STRIPS, generator=gs)
        z = sampler.push_source(_lerp(w[:N_STRIPS], w[N_STRIPS:], N_STEPS))
    else:  # no known source space: between pairs of generated codes
        caption = "generated code pairs (this sampler exposes no source space)"
        s = sampler.sample(2 * N_STRIPS, generator=gs)
        z = _lerp(s[:N_STRIPS], s[N_STRIPS:], N_STEPS)
    with torch.no_grad():
        save_image_grid(model.decode(z.to(device, next(model.parameters()).dtype)).cpu(),
                        where("interp_prior.png"), nrow=N_STEPS)
    return {**out, "interp_prior": "interp_prior.png", "interp_prior_caption": caption}
