"""The library's only progress channel: an optional callback that receives event dicts.

The library never prints. A long call takes ``progress: Progress | None`` and reports through
:func:`emit`; the CLI passes a callback that draws progress bars (:mod:`aeot.cli._common`).
Events are plain dicts with an ``"event"`` key, e.g. ``{"event": "stage", "stage": "evaluate",
"message": "..."}`` or ``{"event": "step", "task": "sdot", "step": 3, "total": 100}``.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["Progress", "emit", "emit_stage"]

Progress = Callable[[dict[str, Any]], None]


def emit(progress: Progress | None, **event: Any) -> None:
    """Send ``event`` (as a dict) to ``progress``, if there is one.

    Parameters
    ----------
    progress : callable or None
        The callback; ``None`` (or any falsy value) makes this a no-op.
    **event
        The event's fields, in the order the callback receives them.
    """
    if progress:
        progress(event)


def emit_stage(progress: Progress | None, stage: str, message: str) -> None:
    """Announce a stage: ``{"event": "stage", "stage": stage, "message": message}``.

    Parameters
    ----------
    progress : callable or None
        The callback, or ``None``.
    stage : str
        Short name of the stage (``"evaluate"``, ``"data"``, ...).
    message : str
        One line for the user.
    """
    emit(progress, event="stage", stage=stage, message=message)
