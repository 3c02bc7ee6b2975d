"""Figures and Markdown of an evaluation (see :mod:`aeot.evaluate`): t-SNE of codes, interpolation
strips, the metrics tables of report.md and the cross-run comparison table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from aeot.report import markdown_table, save_image_grid

N_STRIPS = 6
N_STEPS = 10


def plot_tsne(real: torch.Tensor, fake: torch.Tensor, path: str | Path, *, seed: int = 0) -> Path:
    """t-SNE (scikit-learn, 2-D, PCA init) of held-out real codes (n, d) and generated codes (m, d), one scatter."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    from aeot.report import _save_figure

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
    return _save_figure(fig, path)


def _lerp(a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    """Rows a[i] -> b[i] in ``steps`` points each: (len(a) * steps, d), strip after strip."""
    t = torch.linspace(0, 1, steps, dtype=a.dtype, device=a.device)[None, :, None]
    return (a[:, None] * (1 - t) + b[:, None] * t).reshape(-1, a.shape[1])


def _sdot_prior(sampler, n: int, g: torch.Generator) -> tuple[torch.Tensor, Any]:
    from aeot.ot.extended import sample_source

    r = sampler.result_
    return sample_source(2 * n, r.low, r.high, g), lambda p: sampler.map_source(p).values


def _gaussian_prior(sampler, n: int, g: torch.Generator) -> tuple[torch.Tensor, Any]:
    eps = torch.randn(2 * n, sampler.dim_, generator=g, device=sampler.device_, dtype=torch.float64)
    return eps, lambda e: sampler.mean_ + e @ sampler.chol_.T


# Samplers whose source ("prior") space is known: name -> (source points, map to latent codes).
PRIORS = {"sdot": ("uniform source of the semi-discrete map", _sdot_prior),
          "gaussian": ("standard normal noise", _gaussian_prior)}


def interpolation_figures(model, sampler, held: torch.Tensor | None, run_dir: str | Path, *,
                          seed: int = 0) -> dict[str, str]:
    """Decode linear paths between held-out code pairs (skipped when ``held`` is None: a model
    without an encoder) and between prior pairs; write the strips. ``model`` has ``decode``."""
    run_dir = Path(run_dir)
    device = next(model.parameters()).device
    out: dict[str, str] = {}
    if held is not None:
        g = torch.Generator().manual_seed(seed)
        k = min(N_STRIPS, held.shape[0] // 2)
        pick = torch.randperm(held.shape[0], generator=g)[: 2 * k]
        z = _lerp(held[pick[:k]], held[pick[k:]], N_STEPS).to(device, next(model.parameters()).dtype)
        with torch.no_grad():
            save_image_grid(model.decode(z).cpu(), run_dir / "interp_latent.png", nrow=N_STEPS)
        out["interp_latent"] = "interp_latent.png"
    caption, prior = PRIORS.get(sampler.name, (None, None))
    gs = torch.Generator(device=sampler.device_).manual_seed(seed)
    if prior is not None:
        w, to_latent = prior(sampler, N_STRIPS, gs)
        z = to_latent(_lerp(w[:N_STRIPS], w[N_STRIPS:], N_STEPS))
    else:  # no known source space: between pairs of generated codes
        caption = "generated code pairs (this sampler exposes no source space)"
        s = sampler.sample(2 * N_STRIPS, generator=gs)
        z = _lerp(s[:N_STRIPS], s[N_STRIPS:], N_STEPS)
    with torch.no_grad():
        save_image_grid(model.decode(z.to(device, next(model.parameters()).dtype)).cpu(),
                        run_dir / "interp_prior.png", nrow=N_STEPS)
    return {**out, "interp_prior": "interp_prior.png", "interp_prior_caption": caption}


# ----------------------------------------------------------------------------- Markdown
_COLUMNS = ["row", "n", "fid", "precision", "recall", "kid", "inception_score", "classes_covered", "kl_to_real"]


def report_sections(evaluation: dict[str, Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``(sections, figures)`` for report.md: one metrics table per feature space, the latent table, figures."""
    sections = []
    e = evaluation
    for space, s in e["spaces"].items():
        head = (f"FID, k-NN precision/recall (k=3), KID ({s['dim']}-d {space} features, network SHA-1 "
                f"{s['network_sha1'][:12]}); n = generated vs real test images. Calibration rows compare "
                f"disjoint real halves B vs A (n/2 each; FID grows as n shrinks, so compare values at equal n).")
        if space == "classifier":
            c = s["classifier"]
            acc = c.get("test_accuracy")
            head += (f" IS (10 splits) and classes covered (>= 1% of samples), KL(labels || real labels) from the "
                     f"domain classifier (test accuracy {acc:.4f})." if acc is not None else "")
            if s.get("real_inception_score"):
                m, sd = s["real_inception_score"]
                head += f" IS of all {e['n_real']} real test images: {m:.3f} ± {sd:.3f}."
        if space == "inception":
            head += f" Network: {s.get('weights')}."

        cols = [c for c in _COLUMNS if any(c in r for r in s["rows"])]
        sections.append((f"Metrics: {space} features", head + "\n\n" + markdown_table(s["rows"], cols)))
    lat = [{"row": k, "n": v["n"], "ot_divergence": v["ot_divergence"], "w2": v["w2"]} for k, v in e["latent"].items()]
    if lat:
        sections.append(("Latent metrics", "Generated codes and training codes against held-out codes of test "
                         "images (exact OT: mean distance moved, and W2).\n\n" + markdown_table(lat)))
    if e["notes"]:
        sections.append(("Evaluation notes", "\n".join(f"- {n}" for n in e["notes"]) + "\n"))
    f = e["figures"]
    figures = [(f"Evaluated samples ({e['n_fake']} drawn, first 100 shown)", f["samples"]),
               ("t-SNE of held-out vs generated latent codes", f.get("tsne")),
               ("Interpolation between held-out latent codes (one pair per row)", f.get("interp_latent")),
               (f"Interpolation between prior pairs: {f.get('interp_prior_caption')}", f.get("interp_prior"))]
    return sections, [fig for fig in figures if fig[1]]


def comparison_table(runs: list[tuple[str, dict[str, Any]]]) -> str:
    """One row per run: sampler, n, the generated row of each feature space, IS, coverage, latent OT."""
    rows = []
    for name, m in runs:
        e = m["evaluation"]
        row: dict[str, Any] = {"run": name, "dataset": e["dataset"], "sampler": m.get("sampler"), "n": e["n_fake"]}
        for space, s in e["spaces"].items():
            gen, floor = s["rows"][0], s["rows"][1]
            row[f"FID {space}"] = gen["fid"]
            row[f"FID {space} floor"] = floor["fid"]
            row[f"precision {space}"] = gen["precision"]
            row[f"recall {space}"] = gen["recall"]
            if "inception_score" in gen:
                row["IS"] = gen["inception_score"]
                row["classes"] = gen.get("classes_covered")
        gen_lat = e["latent"].get("generated") or {}
        row["latent OT"] = gen_lat.get("ot_divergence")
        row["latent W2"] = gen_lat.get("w2")
        rows.append(row)
    return markdown_table(rows)
