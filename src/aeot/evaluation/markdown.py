"""Markdown of an evaluation record (``metrics.json``'s ``evaluation``): the metrics tables of
report.md, the memorisation table, the cross-run comparison table and the CLI's summary lines."""

from __future__ import annotations

from typing import Any

from aeot.evaluation.rows import FLOOR_PEER, FLOOR_ROW
from aeot.plots import markdown_table

__all__ = ["comparison_table", "memorization_section", "report_sections", "summary_lines"]

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
            head += f" Network: {s.get('weights')}; resized to 299 px by the {s.get('resize', 'pytorch-fid')} convention."

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
