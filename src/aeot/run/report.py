"""The report of a run directory: ``metrics.json`` and ``report.md``, composed once per job from
the records of the stages it ran (:func:`write_report`), with the evaluation's sections and, when
the run was refined, the AE-OT vs AE-OT-GAN section (:func:`refine_report_section`).

The report is assembled from what the run directory holds, so re-running one stage and then the
report picks up the newest figures. Figures and tables: :mod:`aeot.plots`.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from aeot._version import __version__
from aeot.evaluation.markdown import report_sections
from aeot.io import atomic_write_bytes, atomic_write_json, read_json, read_json_object
from aeot.plots import markdown_table
from aeot.run.rundir import RunDir
from aeot.run.stage import StageRecord, merge_records
from aeot.run.staging import Staging, staged

__all__ = ["refine_report_section", "render_report", "write_report"]


def write_report(run: RunDir, *records: StageRecord | Mapping[str, Any], staging: Staging | None = None) -> Path:
    """Write ``metrics.json`` (the records, merged in order) and ``report.md`` as a pair.

    Parameters
    ----------
    run : RunDir
        The run directory; its ``config.json`` (staged or not) is read for the title and the config block.
    *records : StageRecord or dict
        What the job's stages measured (a dict: values of the job itself, or an earlier
        ``metrics.json``), later ones overriding earlier keys.
    staging : Staging, optional
        Write both into it (they reach the run with the rest of the job's set); else staged here.

    Returns
    -------
    pathlib.Path
        ``run.report``.
    """
    run = RunDir(run)
    if staging is None:
        with staged(run.path) as own:
            write_report(run, *records, staging=own)
        return run.report
    summary = merge_records(*records)
    atomic_write_json(staging.path(RunDir.METRICS), {"aeot_version": __version__, **summary})
    rows = [
        {"metric": "reconstruction MSE (train)", "value": summary.get("train_mse")},
        {"metric": "reconstruction MSE (held-out test split)", "value": summary.get("test_mse")},
        {"metric": "training images", "value": summary.get("n_train")},
        {"metric": "sampler", "value": summary.get("sampler")},
        *([{"metric": "sampler settings", "value": summary["sampler_detail"]}] if summary.get("sampler_detail") else []),
        {"metric": "sampler fit seconds", "value": summary.get("sampler_fit_seconds")},
    ]
    figures = [("Reconstructions (held-out: originals above, reconstructions below)", "reconstructions.png"),
               (f"Generated samples (sampler: {summary.get('sampler')})", "samples.png"),
               ("Training curve", "training_curve.png")]
    sections: list[tuple[str, str]] = []
    if summary.get("evaluation"):  # written by aeot.run.evaluate (aeot evaluate, or the end of aeot run)
        sections, eval_figures = report_sections(summary["evaluation"])
        figures = figures[:2] + eval_figures + figures[2:]
    resolved = read_json_object(staging.find(RunDir.CONFIG), what="run config")
    dataset = (resolved.get("config") or {}).get("data", {}).get("name")
    title = f"aeot run: {dataset}"
    note = f"Repeat this run with `aeot run --config {shlex.quote(str(run.config))} --out NEW_DIR`."
    if run.is_baseline():  # aeot baseline train: its own rows, no AE or sampler
        info = read_json_object(run.baseline, what="baseline record")
        b = info.get("baseline", {})
        rows = [{"metric": "baseline", "value": b.get("name")}, {"metric": "epochs", "value": b.get("epochs")},
                {"metric": "training seconds", "value": info.get("train_seconds")}]
        figures = [(f"Generated samples (baseline {b.get('name')}, prior N(0, I))", "samples.png")] + figures[2:]
        title = f"aeot baseline {b.get('name')}: {dataset}"
        note = (f"Settings in {shlex.quote(str(run.baseline))}; train another with "
                f"`aeot baseline train {b.get('name')}`.")
    figures = [f for f in figures if staging.find(f[1]).exists()]
    appendix = [s for s in [refine_report_section(run)] if s]  # AE-OT-GAN, when the run was refined
    text = render_report(title=title, config=resolved, metrics=rows, figures=figures, sections=sections,
                         appendix=appendix, notes=[f"aeot {__version__}. {note}"], find=staging.find,
                         where=run.path)
    atomic_write_bytes(staging.path(RunDir.REPORT), text.encode())
    return run.report


def render_report(*, title: str, config: dict, metrics: list[dict[str, Any]], figures: list[tuple[str, str]],
                  find: Callable[[str], Path], where: Path, notes: list[str] | None = None,
                  sections: list[tuple[str, str]] | None = None, appendix: list[str] | None = None) -> str:
    """report.md's text: metrics table, extra (heading, Markdown) ``sections`` (e.g. the evaluation
    tables), figures, ``appendix`` Markdown blocks of later stages (e.g. the AE-OT-GAN comparison),
    then the config.

    Figures are referenced by relative path; ``find(name)`` is where a figure is now, and a
    figure whose file is missing is an error (a report must never point at nothing; ``where``
    names the run in that error).
    """
    parts = [f"# {title}\n"]
    if notes:
        parts += [n + "\n" for n in notes]
    parts += ["## Metrics\n", markdown_table(metrics)]
    for heading, text in sections or []:
        parts += [f"## {heading}\n", text]
    for caption, rel in figures:
        if not find(rel).is_file():
            raise FileNotFoundError(f"report figure {rel} does not exist in {where}")
        parts += [f"## {caption}\n", f"![{caption}]({rel})\n"]
    parts += list(appendix or [])
    parts += ["## Config\n", "```json\n" + json.dumps(config, indent=2, default=str) + "\n```\n"]
    return "\n".join(parts)


# ----------------------------------------------------------------------------- AE-OT-GAN section
def refine_report_section(run: RunDir) -> str | None:
    """Markdown for the run's report: AE-OT (epoch 0) beside AE-OT-GAN; None if not refined."""
    run = RunDir(run)
    out = run.refine.path
    if not run.refine.metrics.is_file():
        return None
    m = read_json(run.refine.metrics, what="refine metrics")
    cfg = read_json(run.refine.config, what="refine config")
    r = cfg.get("refine", {})
    parts = [
        "## AE-OT vs AE-OT-GAN\n",
        f"The generator starts as the decoder (epoch 0 = AE-OT) and is trained {m['refine_epochs']} epochs as a GAN "
        f"(An et al. (ECCV 2020) §3.3; sampler `{m['sampler']}`, R = {r.get('lr_ratio')}, T = {r.get('g_steps')}, "
        f"lr_G = {r.get('lr')}, beta = {r.get('beta')}, alpha = {r.get('alpha_inner')}, "
        f"alpha_L = {m['alpha_latent']:.4g}, adversarial loss `{r.get('adversarial')}`; "
        f"{m['refine_seconds_this_call']:.0f} s). `eval_*` rows are measured on a fixed panel of training pairs; "
        "d_* rows are mean sigmoid outputs of the discriminator over the epoch.\n",
        _fid_sentence(cfg.get("fid", {})),
        markdown_table(m["epoch0_vs_last"]),
    ]
    for caption, name in [("Same latents: AE-OT decoder (left) and AE-OT-GAN generator (right)", "aeot_vs_aeotgan.png"),
                          ("Refinement curves (the paper's Fig. 5)", "curves.png"),
                          ("Evolution of reconstructions (Fig. 6)", "evolution_reconstructions.png"),
                          ("Evolution of generated images (Fig. 7)", "evolution_samples.png")]:
        if not (out / name).is_file():
            raise FileNotFoundError(f"report figure {RunDir.REFINE}/{name} does not exist in {run.path}")
        parts += [f"### {caption}\n", f"![{caption}]({RunDir.REFINE}/{name})\n"]
    return "\n".join(parts)


def _fid_sentence(info: dict[str, Any]) -> str:
    """How the per-epoch FID rows were measured, or why there are none."""
    if "n" not in info:
        return f"{info.get('note', 'no FID per epoch')}.\n"
    acc = info.get("classifier_test_accuracy")
    acc = f", test accuracy {acc:.3f}" if isinstance(acc, (int, float)) else ""
    extra = f" ({info['note']})" if info.get("note") else ""
    lat = "the same latents at every epoch" if info.get("fixed_latents") else "latents seeded by epoch"
    return (f"`fid`, `classes_covered` and `kl_to_real`: {info['n']} generated images per epoch ({lat}) against "
            f"{info['n_real']} real test images in the features of the domain classifier `{info['classifier']}`"
            f"{acc}{extra}; the real set and classifier of `aeot evaluate`.\n")
