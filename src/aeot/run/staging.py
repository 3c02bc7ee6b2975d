"""A command's outputs as one set: staged inside the run directory, renamed into place on success.

A command that rewrites files of a run (the sampler, config.json, metrics.json, report.md, the
figures) writes them into a hidden staging directory ``RUN/.stage-XXXXXXXX`` first. Only when
the command has finished without error are they renamed over the run's files, one
``os.replace`` each (no copying); on any error the staging directory is removed and the run
keeps exactly the files it had. A killed process can leave a staging directory or the
temporary file of an atomic write (:func:`aeot.io.atomic_path`) behind;
:func:`remove_orphans` (called by ``--resume``) deletes them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from aeot.io import TMP_SUFFIX
from aeot.run.rundir import RunDir

__all__ = ["STAGE_PREFIX", "Staging", "remove_orphans", "staged"]

STAGE_PREFIX = RunDir.STAGE_PREFIX


class Staging:
    """Files to be written into ``run_dir`` as a set. ``path(name)`` is where to write ``name``
    now; ``find(name)`` is where to read it (the staged copy if there is one, else the run's)."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.dir: Path | None = None  # created on the first path()
        self.names: list[str] = []

    def path(self, name: str) -> Path:
        if "/" in name or name in ("", ".", ".."):
            raise ValueError(f"a staged file is a plain file name, got {name!r}")
        if self.dir is None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.dir = Path(tempfile.mkdtemp(prefix=STAGE_PREFIX, dir=self.run_dir))
        if name not in self.names:
            self.names.append(name)
        return self.dir / name

    def find(self, name: str) -> Path:
        staged_file = None if self.dir is None else self.dir / name
        return staged_file if staged_file is not None and staged_file.is_file() else self.run_dir / name

    def commit(self) -> list[Path]:
        """Rename the staged files over the run's (in the order they were first staged)."""
        done = []
        for name in self.names:
            src = self.dir / name
            if src.is_file():  # a name asked for but never written is skipped
                os.replace(src, self.run_dir / name)
                done.append(self.run_dir / name)
        self.discard()
        return done

    def discard(self) -> None:
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


@contextlib.contextmanager
def staged(run_dir: str | Path) -> Iterator[Staging]:
    """``with staged(run) as s: write to s.path(name) ...``: all renamed into ``run`` at the end,
    or none of them when the block raises (also on KeyboardInterrupt)."""
    s = Staging(run_dir)
    try:
        yield s
    except BaseException:
        s.discard()
        raise
    s.commit()


def _is_orphan(p: Path) -> bool:
    name = p.name
    if p.is_dir():
        return name.startswith(STAGE_PREFIX)
    return name.startswith(".") and (name.endswith(TMP_SUFFIX) or name.startswith(".tmp"))


def remove_orphans(run_dir: str | Path, *, subdirs: tuple[str, ...] = ()) -> list[Path]:
    """Delete the temporary files and staging directories that killed aeot processes left in
    ``run_dir`` (and its ``subdirs``); returns what was removed. Only for a run directory that no
    other aeot process is writing to (``--resume`` continues the one process of a run)."""
    removed = []
    for d in [Path(run_dir), *(Path(run_dir) / s for s in subdirs)]:
        if not d.is_dir():
            continue
        for p in sorted(d.iterdir()):
            if p.is_symlink() or not _is_orphan(p):
                continue
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p)
    return removed
