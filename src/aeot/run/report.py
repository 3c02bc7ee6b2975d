"""The report stage of a run directory: ``metrics.json`` and ``report.md`` written as a pair from a
stage's summary, with the evaluation's sections and, when the run was refined, the AE-OT vs
AE-OT-GAN section (:func:`refine_report_section`)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from aeot._version import __version__
from aeot.evaluation.markdown import report_sections
from aeot.io import atomic_write_json, read_json, read_json_object
from aeot.plots import markdown_table
from aeot.report import write_report
from aeot.run.config import RunConfig
from aeot.run.rundir import RunDir
from aeot.staging import Staging, staged

__all__ = ["refine_report_section", "report_stage"]


def report_stage(cfg: RunConfig, run_dir: str | Path, summary: dict[str, Any], *,
                 stage: Staging | None = None) -> Path:
    """Write metrics.json and report.md (as a pair: staged, or into ``stage`` when given)."""
    if stage is None:
        with staged(run_dir) as own:
            report_stage(cfg, run_dir, summary, stage=own)
        return RunDir(run_dir).report
    run_dir = Path(run_dir)
    metrics = {"aeot_version": __version__, **summary}
    atomic_write_json(stage.path(RunDir.METRICS), metrics)
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
    title = f"aeot run: {cfg.data.name}"
    note = f"Repeat this run with `aeot run --config {shlex.quote(str(RunDir(run_dir).config))} --out NEW_DIR`."
    if RunDir(run_dir).is_baseline():  # aeot baseline train: its own rows, no AE or sampler
        info = read_json_object(RunDir(run_dir).baseline, what="baseline record")
        b = info.get("baseline", {})
        rows = [{"metric": "baseline", "value": b.get("name")}, {"metric": "epochs", "value": b.get("epochs")},
                {"metric": "training seconds", "value": info.get("train_seconds")}]
        figures = [(f"Generated samples (baseline {b.get('name')}, prior N(0, I))", "samples.png")] + figures[2:]
        title = f"aeot baseline {b.get('name')}: {cfg.data.name}"
        note = (f"Settings in {shlex.quote(str(RunDir(run_dir).baseline))}; train another with "
                f"`aeot baseline train {b.get('name')}`.")
    figures = [f for f in figures if stage.find(f[1]).exists()]
    resolved = read_json_object(stage.find(RunDir.CONFIG), what="run config")
    appendix = [s for s in [refine_report_section(run_dir)] if s]  # AE-OT-GAN, when the run was refined
    write_report(run_dir, title=title, config=resolved, metrics=rows, figures=figures, sections=sections,
                 appendix=appendix, notes=[f"aeot {__version__}. {note}"], out=stage.path(RunDir.REPORT),
                 find=stage.find)
    return RunDir(run_dir).report


# ----------------------------------------------------------------------------- AE-OT-GAN section
def refine_report_section(run_dir: str | Path) -> str | None:
    """Markdown for the run's report: AE-OT (epoch 0) beside AE-OT-GAN; None if not refined."""

    out = RunDir(run_dir).refine.path
    if not RunDir(out).metrics.is_file():
        return None
    m = read_json(RunDir(out).metrics, what="refine metrics")
    cfg = read_json(RunDir(out).config, what="refine config")
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
            raise FileNotFoundError(f"report figure {RunDir.REFINE}/{name} does not exist in {run_dir}")
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
