"""The outputs of ``aeot reproduce cifar10 | celeba | celeba-hq``: ``results.json``, ``table.md``, ``grids/``.

The papers' FIDs are copied from their text, each with the table and column it comes from:

* An et al. (000), Table 1 ("The comparison of FID between the proposed method and the state of
  the arts on Cifar10 and CelebA"), columns CIFAR10 Standard / ResNet and CelebA Standard /
  ResNet; its AE-OT row is "the results of epoch 0" of AE-OT-GAN (§4.2);
* An et al. (000), Table 2 (CelebA-HQ, 256x256);
* Zhang et al. (004), §5.2, the CelebA FID table (non-adversarial models on AE-OT's autoencoder).
"""

from __future__ import annotations

import datetime
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from aeot.experiments.reproduce_table import LIU, machine
from aeot.io import atomic_write_bytes, atomic_write_json, to_json
from aeot.plots import save_image_grid
from aeot.run.config import load_data, read_run_config

__all__ = ["EPOCH0_ROW", "PAPER_FID", "PAPER_OTHER_ROWS", "PaperResult", "REFINED_ROW", "paper_fid",
           "write_paper_outputs"]

EPOCH0_ROW = "AE-OT (epoch 0)"  # 000 Table 1's "AE-OT [2]": the decoder before refinement
REFINED_ROW = "AE-OT-GAN"

# (dataset, column) -> (where in the paper, {row: FID}); "-" entries of the paper are left out.
# 004's "AE-OT" row is Liu et al.'s latent OT (our kantorovich sampler, row LIU).
PAPER_FID: dict[tuple[str, str], tuple[str, dict[str, float]]] = {
    ("cifar10", "standard"): ("000 Table 1, CIFAR10 Standard",
                              {"WGAN-GP": 40.2, "SNGAN": 25.5, EPOCH0_ROW: 34.2, REFINED_ROW: 25.2}),
    ("cifar10", "resnet"): ("000 Table 1, CIFAR10 ResNet",
                            {"WGAN-GP": 19.6, "PGGAN": 18.8, "SNGAN": 21.7, "WGAN-div": 18.1, EPOCH0_ROW: 28.5,
                             REFINED_ROW: 17.1}),
    ("celeba", "standard"): ("000 Table 1, CelebA Standard",
                             {"WGAN-GP": 21.2, "WGAN-div": 17.5, EPOCH0_ROW: 24.3, REFINED_ROW: 11.2}),
    ("celeba", "resnet"): ("000 Table 1, CelebA ResNet",
                           {"WGAN-GP": 18.4, "PGGAN": 16.3, "WGAN-div": 15.2, "WGAN-QC": 12.9, EPOCH0_ROW: 28.6,
                            REFINED_ROW: 7.8}),
    ("celeba-hq", "256 px"): ("000 Table 2, CelebA-HQ",
                              {"PGGAN": 14.7, "WGAN-div": 13.5, "WGAN-QC": 7.7, REFINED_ROW: 7.2}),
    ("celeba", "004"): ("004 §5.2 CelebA FID table",
                        {"AE-OTgen": 58.07, "AE-OTtrans": 58.79, LIU: 106.96, "WAE-MMD": 64.71, "VAE": 59.85}),
}
PAPER_OTHER_ROWS = ("WGAN-GP", "PGGAN", "SNGAN", "WGAN-div", "WGAN-QC")  # compared in 000, not run here


def paper_fid(dataset: str, row: dict[str, Any]) -> tuple[float | None, str | None]:
    """``(FID, source)`` the paper gives for one of our rows, or ``(None, None)``."""
    key = (dataset, "004") if row.get("table") == "004" else (dataset, row["column"])
    source, values = PAPER_FID.get(key, (None, {}))
    value = values.get(row["row"])
    return value, (source if value is not None else None)


@dataclass(frozen=True)
class PaperResult:
    """What :func:`aeot.experiments.presets_000.reproduce_paper` measured and wrote.

    ``rows``: the table's rows (``results.json["rows"]``); ``header``: the lines naming the
    command, date, machine and time; ``table`` and ``results``: the files.
    """

    rows: list[dict[str, Any]]
    stage_seconds_total: float
    header: str
    table: Path
    results: Path


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None:
        return "-"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _seconds(parts: dict[str, float]) -> str:
    detail = " + ".join(f"{k} {v:.0f}" for k, v in parts.items() if v is not None)
    return f"{sum(v for v in parts.values() if v is not None):.0f} s ({detail})"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def table_rows(cfg, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The printed rows: one per (architecture column, method), the paper's FID beside ours."""
    out = []
    for r in rows:
        m = r["metrics"]
        paper, source = paper_fid(cfg.dataset, r)
        out.append({"method": r["row"], "column": r["column"], "arch": r["arch"], "FID": m["generated"]["fid"],
                    "FID_floor_n": m["at_floor_n"]["fid"], "floor_FID": m["floor"]["fid"],
                    "precision": m["generated"]["precision"], "recall": m["generated"]["recall"],
                    "paper_FID": paper, "paper_source": source, "n_fake": m["n_fake"], "n_real": m["n_real"],
                    "latent_ot": m.get("latent_ot"), "latent_map": r.get("latent_map"),
                    "train_seconds": r["train_seconds"], "notes": m.get("notes", []),
                    "grid": f"grids/{_slug(r['column'] + ' ' + r['row'])}.png"})
    return out


def _header(info: dict[str, Any]) -> list[str]:
    m = info["machine"]
    return [f"Command: `{info['command']}`  ", f"Date: {info['date']}  ",
            f"Machine: {m['platform']}, {m['cpu_count']} CPU cores, torch {m['torch']} ({m['torch_threads']} "
            f"threads), device {info['device']}, aeot {m['aeot']}  ",
            f"Time: {info['stage_seconds_total']:.0f} s summed over the stages "
            f"({info['wall_this_call']:.0f} s in the last call; a stage done before is reused)."]


def _markdown(cfg, trows: list[dict[str, Any]], info: dict[str, Any]) -> str:
    lines = [f"# aeot reproduce {cfg.dataset} ({cfg.preset} preset)", "", *_header(info), "",
             "| method | architecture | FID (ours) | FID at the floor's n | real-vs-real floor | precision | recall "
             "| FID (paper) | paper source | training time |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in trows:
        lines.append(f"| {r['method']} | {r['column']} (`{r['arch']}`) | {_fmt(r['FID'])} | {_fmt(r['FID_floor_n'])} | "
                     f"{_fmt(r['floor_FID'])} | {_fmt(r['precision'], 3)} | {_fmt(r['recall'], 3)} | "
                     f"{_fmt(r['paper_FID'])} | {r['paper_source'] or '-'} | {_seconds(r['train_seconds'])} |")
    other = []
    for (dataset, column), (source, values) in PAPER_FID.items():
        if dataset == cfg.dataset:
            other += [f"| {row} | {column} | {v} | {source} |" for row, v in values.items() if row in PAPER_OTHER_ROWS]
    if other:
        lines += ["", "## The papers' other rows (not run here)", "", "| method | column | FID (paper) | source |",
                  "|---|---|---:|---|", *other]
    first = trows[0]
    feats = ("Inception FID (2048-d pool features, " + str(info["inception"]) + ")" if cfg.features == "inception"
             else "no FID: these colour images have no domain classifier and Inception was off (features="
                  "'classifier'); the latent metrics of each run's evaluation remain")
    notes = sorted({n for r in trows for n in r["notes"]})
    lines += ["", "## How to read it", "",
              f"- {feats}; {first['n_fake']} generated images per row against {first['n_real']} real test images "
              f"(000 states no sample size; the --full preset uses 10,000, capped by the test split). The floor "
              "(one real half against the other) and each row at the floor's n show how far from 0 a FID at this "
              "n can get.",
              "- AE-OT (epoch 0) is the autoencoder's decoder on the AE-OT sampler's latents, AE-OT-GAN the same "
              f"decoder after {info['refine']['epochs']} epochs of refinement (R = {info['refine']['lr_ratio']:g}, "
              f"T = {info['refine']['g_steps']}, 000 §4), as 000 Table 1 defines its AE-OT row.",
              *([f"- Notes of the evaluations: {'; '.join(notes)}."] if notes else []),
              "- Training time: seconds of each part on this machine; the autoencoder is shared by the rows of "
              "its column.", "", "## Settings", "", "```json", info["config_json"], "```", "", "## Samples", ""]
    for r in trows:
        lines += [f"**{r['method']}, {r['column']}**", "", f"![{r['method']}]({r['grid']})", ""]
    return "\n".join(lines)


def write_paper_outputs(cfg, out: Path, rows: list[dict[str, Any]], stages: dict[str, Any], *,
                        seconds: dict[str, float], command: str, device: str, wall_this_call: float,
                        refine: dict[str, Any]) -> PaperResult:
    """``results.json``, ``table.md`` and ``grids/`` of a 000 preset run in ``out``."""
    grids = out / "grids"
    grids.mkdir(exist_ok=True)
    trows = table_rows(cfg, rows)
    for r, t in zip(rows, trows):
        shutil.copyfile(r["metrics"]["samples"], out / t["grid"])
    data = read_run_config(rows[0]["dir"]).data  # the real images the runs were trained on
    test = load_data(replace(data, n_test=None), "test")
    save_image_grid(test.x[:100], grids / "true-images.png", nrow=10)
    info = {"command": command, "date": datetime.date.today().isoformat(), "machine": machine(), "device": device,
            "stage_seconds": seconds, "stage_seconds_total": sum(seconds.values()), "wall_this_call": wall_this_call,
            "inception": next((r["metrics"].get("inception") for r in rows if r["metrics"].get("inception")), None),
            "refine": refine, "config_json": to_json(asdict(cfg))}
    results = {"config": asdict(cfg), **{k: v for k, v in info.items() if k != "config_json"}, "rows": trows,
               "paper": {f"{d} / {c}": {"source": s, "fid": v} for (d, c), (s, v) in PAPER_FID.items()
                         if d == cfg.dataset},
               "stages": stages}
    atomic_write_json(out / "results.json", results)
    atomic_write_bytes(out / "table.md", _markdown(cfg, trows, info).encode())
    return PaperResult(rows=trows, stage_seconds_total=info["stage_seconds_total"],
                       header="\n".join(_header(info)), table=out / "table.md", results=out / "results.json")
