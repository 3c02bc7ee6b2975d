"""Figures and Markdown of an evaluation (see :mod:`aeot.run.evaluate`): t-SNE of codes, interpolation
strips, the metrics tables of report.md and the cross-run comparison table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from aeot.errors import ConfigError
from aeot.io import atomic_write_bytes, read_json_object
from aeot.model import LatentGenerativeModel
from aeot.plots import markdown_table, save_figure, save_image_grid
from aeot.preflight import check_out_file

# Row names of aeot.run.evaluate: the floor, the generated row at the floor's n, the latent reference.
FLOOR_ROW, FLOOR_PEER = "real B (floor)", "generated vs real A"
LATENT_REFERENCE = "training codes (reference)"

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
                        where("interp_prior.png"), nrow=N_STEPS)
    return {**out, "interp_prior": "interp_prior.png", "interp_prior_caption": caption}


# ----------------------------------------------------------------------------- Markdown
_COLUMNS = ["row", "n", "vs", "fid", "precision", "recall", "kid", "inception_score", "classes_covered", "kl_to_real"]


def report_sections(evaluation: dict[str, Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``(sections, figures)`` for report.md: one metrics table per feature space, the latent table, figures."""
    sections = []
    e = evaluation
    for space, s in e["spaces"].items():
        head = (f"FID, k-NN precision/recall (k=3), KID ({s['dim']}-d {space} features, network SHA-1 "
                f"{s['network_sha1'][:12]}); n = compared vs reference images. FID grows as n shrinks, so only "
                f"rows at the same n compare: the floor (real half B vs real half A) bounds `{FLOOR_PEER}` "
                f"(generated images at the floor's n vs A), not the first row (all n generated vs all real).")
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
    lat = [{"row": k, "n": f"{v['n']} vs {v['n']}", "ot_divergence": v["ot_divergence"], "w2": v["w2"]}
           for k, v in e["latent"].items()]
    if lat:
        sections.append(("Latent metrics", "Generated codes and training codes against held-out codes of test "
                         "images, each row at the same n (exact OT: mean distance moved, and W2). The training "
                         "codes are a reference, not a lower bound: a sampler that spreads mass between codes "
                         "can come closer to held-out codes than the training codes themselves.\n\n"
                         + markdown_table(lat)))
    memo = e.get("memorization")
    if memo:
        sections.append(("Memorisation", memorization_section(memo)))
    if e["notes"]:
        sections.append(("Evaluation notes", "\n".join(f"- {n}" for n in e["notes"]) + "\n"))
    f = e["figures"]
    figures = [(f"Evaluated samples ({e['n_fake']} drawn, first 100 shown)", f["samples"]),
               ("t-SNE of held-out vs generated latent codes", f.get("tsne")),
               ("Interpolation between held-out latent codes (one pair per row)", f.get("interp_latent")),
               (f"Interpolation between prior pairs: {f.get('interp_prior_caption')}", f.get("interp_prior"))]
    return sections, [fig for fig in figures if fig[1]]


def memorization_section(memo: dict[str, Any]) -> str:
    """The memorisation table: near-copies of training images, generated against real held-out images."""
    rows = []
    if "generated" in memo:
        rows.append({"row": "generated images", "n": memo["n_generated"], "near-copies": memo["generated"]})
        rows.append({"row": "real held-out images (calibration)", "n": memo["n_real"], "near-copies": memo["real"]})
    if "reconstructions" in memo:
        rows.append({"row": "reconstructed training images (resampling the codes)", "n": memo["n_reconstructions"],
                     "near-copies": memo["reconstructions"]})
    if "latent_copies" in memo:
        rows.append({"row": "generated codes equal to a training code", "n": None, "near-copies": memo["latent_copies"]})
    head = ""
    if "generated" in memo:
        head = (f"An image is a near-copy when its nearest of {memo['n_train']} training images (in "
                f"{memo['space']} features) is closer than {memo['tau']:.4g}, the {memo['quantile']:.0%} quantile of "
                f"that distance over half of the held-out real images; the other half is the calibration row "
                f"(fresh real images, about {memo['quantile']:.0%} by design). A generator that copies its "
                f"training set scores near 1; one that makes new images, near the calibration row. The "
                f"reconstructions row is what a sampler that resamples the training codes scores through this "
                f"decoder: when it is near the calibration row, the decoder blurs too much for image copies to "
                f"show, and the latent row is the one that tells "
                f"(data-copying in the spirit of Meehan et al., AISTATS 2020). ")
    return head + "\n\n" + markdown_table(rows)


def _n_label(e: dict[str, Any]) -> str:
    return f"{e['n_fake']} vs {e['n_real']}"


def comparison_table(runs: list[tuple[str, dict[str, Any]]]) -> str:
    """One row per run: sampler, n, the generated row of each feature space beside the same row at
    the floor's n and the floor, IS, coverage, latent OT. Runs evaluated at another n than the
    first are marked (``*``) and a note under the table says that their FIDs do not compare."""
    rows = []
    first = _n_label(runs[0][1]["evaluation"]) if runs else None
    for name, m in runs:
        e = m["evaluation"]
        n = _n_label(e)
        row: dict[str, Any] = {"run": name, "dataset": e["dataset"], "sampler": m.get("sampler"),
                               "n": n if n == first else f"{n} *"}
        for space, s in e["spaces"].items():
            by_name = {r["row"]: r for r in s["rows"]}
            gen, peer, floor = by_name.get("generated", {}), by_name.get(FLOOR_PEER, {}), by_name.get(FLOOR_ROW, {})
            row[f"FID {space}"] = gen.get("fid")
            row[f"FID {space} at floor n"] = peer.get("fid")
            row[f"FID {space} floor"] = floor.get("fid")
            row["floor n"] = floor.get("n")
            row[f"precision {space}"] = gen.get("precision")
            row[f"recall {space}"] = gen.get("recall")
            if "inception_score" in gen:
                row["IS"] = gen["inception_score"]
                row["classes"] = gen.get("classes_covered")
        gen_lat = e["latent"].get("generated") or {}
        row["latent OT"] = gen_lat.get("ot_divergence")
        row["latent W2"] = gen_lat.get("w2")
        rows.append(row)
    table = markdown_table(rows)
    if any(str(r["n"]).endswith("*") for r in rows):
        table += (f"\n\\* evaluated at another n than the first run ({first}): FID falls as n grows, so these "
                  "FIDs do not compare with the others; evaluate every run with the same `aeot evaluate --n N`.\n")
    return table


def summary_lines(evaluation: dict[str, Any]) -> list[str]:
    """Short lines for the CLI: the generated row, then the floor beside the generated row at its n."""
    lines = []
    for space, s in evaluation["spaces"].items():
        for row in [r for r in s["rows"] if r["row"] in ("generated", FLOOR_PEER, FLOOR_ROW)]:
            extra = f", IS {row['inception_score']:.3f}" if "inception_score" in row else ""
            cov = f", classes {row['classes_covered']}" if "classes_covered" in row else ""
            lines.append(f"{space} FID ({row['row']}, n {row['n']}): {row['fid']:.4g}; precision "
                         f"{row['precision']:.3f}, recall {row['recall']:.3f}, KID {row['kid']:.4g}{extra}{cov}")
    if "classifier" in evaluation["spaces"]:
        m, sd = evaluation["spaces"]["classifier"]["real_inception_score"]
        lines.append(f"IS of the {evaluation['n_real']} real test images (calibration): {m:.3f} +- {sd:.3f}")
    lat = evaluation["latent"].get("generated")
    if lat:
        lines.append(f"latent OT divergence {lat['ot_divergence']:.4g}, W2 {lat['w2']:.4g} (n {lat['n']})")
    lines += [f"note: {n}" for n in evaluation["notes"]]
    lines.append(f"evaluated in {evaluation['seconds']:.0f} s")
    return lines


def compare_runs(run_dirs: list[str | Path], *, out: str | Path | None = None) -> str:
    """A Markdown table of the evaluated metrics of each run (written to ``out`` when given; rows at
    another n than the first run's are marked, see :func:`comparison_table`)."""
    if out is not None:
        check_out_file(out)  # before reading anything: a directory or unwritable place is refused
    runs = []
    for d in run_dirs:
        m = read_json_object(Path(d) / "metrics.json", what="run metrics")
        e = m.get("evaluation")
        if e is None:
            raise ConfigError(f"{d} has not been evaluated; run `aeot evaluate {d}` first")
        if not isinstance(e, dict) or not {"dataset", "n_fake", "n_real", "spaces", "latent"} <= set(e):
            raise ConfigError(f"{Path(d) / 'metrics.json'}: the evaluation record is incomplete; run "
                              f"`aeot evaluate {d}` again")
        runs.append((str(d), m))
    table = comparison_table(runs)
    if out is not None:
        atomic_write_bytes(out, table.encode())
    return table
