"""The Markdown report of a run directory.

``write_report`` assembles ``report.md`` from what a run directory holds, so that re-running
one stage and then the report picks up the newest figures. Figures and tables: :mod:`aeot.plots`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aeot.io import atomic_write_bytes
from aeot.plots import markdown_table
from aeot.run.rundir import RunDir


def write_report(run_dir: str | Path, *, title: str, config: dict, metrics: list[dict[str, Any]],
                 figures: list[tuple[str, str]], notes: list[str] | None = None,
                 sections: list[tuple[str, str]] | None = None, appendix: list[str] | None = None,
                 out: str | Path | None = None, find: Callable[[str], Path] | None = None) -> Path:
    """Write ``run_dir/report.md``: metrics table, extra (heading, Markdown) ``sections`` (e.g. the
    evaluation tables), figures, ``appendix`` Markdown blocks of later stages (e.g. the AE-OT-GAN
    comparison), then the config.

    Figures are referenced by relative path; a figure whose file is missing is an error
    (a report must never point at nothing). ``out``: where to write (default
    ``run_dir/report.md``; a staged copy, see :mod:`aeot.staging`); ``find(name)``: where a
    figure is now (default ``run_dir/name``).
    """
    run_dir = Path(run_dir)
    parts = [f"# {title}\n"]
    if notes:
        parts += [n + "\n" for n in notes]
    parts += ["## Metrics\n", markdown_table(metrics)]
    for heading, text in sections or []:  # e.g. the evaluation tables (aeot.evaluation.markdown)
        parts += [f"## {heading}\n", text]
    for caption, rel in figures:
        if not (find(rel) if find else run_dir / rel).is_file():
            raise FileNotFoundError(f"report figure {rel} does not exist in {run_dir}")
        parts += [f"## {caption}\n", f"![{caption}]({rel})\n"]
    parts += list(appendix or [])
    parts += ["## Config\n", "```json\n" + json.dumps(config, indent=2, default=str) + "\n```\n"]
    return atomic_write_bytes(out or RunDir(run_dir).report, "\n".join(parts).encode())
