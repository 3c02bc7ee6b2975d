"""The application layer over a run directory (see ARCHITECTURE.md): its layout, :class:`RunDir`."""

from aeot.run.rundir import RunDir

__all__ = ["RunDir"]
