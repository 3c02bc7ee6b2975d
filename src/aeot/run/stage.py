"""What every stage of a run directory shares: how it runs (:class:`StageContext`) and what it
reports back (:class:`StageRecord`).

A stage is a function ``stage(run, config, ctx) -> StageRecord`` of a module of :mod:`aeot.run`
(``train_ae``, ``sample``, ``refine``, ``evaluate``). It reads and writes the run's files
through its :class:`~aeot.run.rundir.RunDir` and never writes the report: the job that ran the
stages passes their records to :func:`aeot.run.report.write_report`, which composes
``metrics.json`` and ``report.md`` once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from aeot.progress import Progress

__all__ = ["StageContext", "StageRecord", "merge_records"]


@dataclass(frozen=True)
class StageContext:
    """How a stage runs: ``device`` (only the CLI picks cpu or cuda), ``resume`` (continue the
    stage's checkpoint), ``progress`` (the callback of :mod:`aeot.progress`)."""

    device: str = "cpu"
    resume: bool = False
    progress: Progress | None = None


@dataclass(frozen=True)
class StageRecord:
    """The numbers a stage adds to the run's ``metrics.json`` (its fields, in order).

    Subclasses name the stage (``stage``) and list its fields; :meth:`metrics` gives them as
    the record that ``metrics.json`` holds, optional fields left out while they are empty.
    """

    stage: ClassVar[str] = ""
    optional: ClassVar[tuple[str, ...]] = ()  # fields written only when they hold a value

    def metrics(self) -> dict[str, Any]:
        """The record as ``metrics.json`` holds it."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name not in self.optional or getattr(self, f.name)}


def merge_records(*records: StageRecord | dict[str, Any] | None) -> dict[str, Any]:
    """One ``metrics.json`` summary from stage records (and plain dicts of a job's own values), in order."""
    out: dict[str, Any] = {}
    for r in records:
        if r is not None:
            out.update(r.metrics() if isinstance(r, StageRecord) else r)
    return out
