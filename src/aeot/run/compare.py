"""``aeot compare``: one Markdown table of the evaluated metrics of several run directories."""

from __future__ import annotations

from pathlib import Path

from aeot.errors import ConfigError
from aeot.evaluation.markdown import comparison_table
from aeot.io import atomic_write_bytes, read_json_object
from aeot.run.preflight import check_out_file
from aeot.run.rundir import RunDir

__all__ = ["compare_runs"]


def compare_runs(run_dirs: list[str | Path], *, out: str | Path | None = None) -> str:
    """A Markdown table of the evaluated metrics of each run (written to ``out`` when given).

    Parameters
    ----------
    run_dirs : list of str or path
        Evaluated run directories (``aeot evaluate``), one row each.
    out : str or path, optional
        Where to write the table; checked before anything is read.

    Returns
    -------
    str
        The table; rows at another n than the first run's are marked
        (:func:`aeot.evaluation.markdown.comparison_table`).
    """
    if out is not None:
        check_out_file(out)  # before reading anything: a directory or unwritable place is refused
    runs = []
    for d in run_dirs:
        metrics = RunDir(d).metrics
        m = read_json_object(metrics, what="run metrics")
        e = m.get("evaluation")
        if e is None:
            raise ConfigError(f"{d} has not been evaluated; run `aeot evaluate {d}` first")
        if not isinstance(e, dict) or not {"dataset", "n_fake", "n_real", "spaces", "latent"} <= set(e):
            raise ConfigError(f"{metrics}: the evaluation record is incomplete; run `aeot evaluate {d}` again")
        runs.append((str(d), m))
    table = comparison_table(runs)
    if out is not None:
        atomic_write_bytes(out, table.encode())
    return table
