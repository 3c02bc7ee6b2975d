"""How a command ends when it fails: one line and exit 2 for every expected fault, a traceback
and a request to report it (exit 1) only for a genuine bug.

Expected faults: aeot's own errors (:class:`aeot.errors.AeotError`) and ``ValueError`` from
validation; numeric ones (``FloatingPointError`` from a diverging training); the operating
system's (``OSError``: permissions, a read-only or full disk, a file size limit, a path of the
wrong kind); running out of memory.
"""

from __future__ import annotations

import errno
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any

from aeot.errors import AeotError

__all__ = ["EXIT_BUG", "EXIT_USAGE", "expected_error_line", "ignore_file_size_signal", "run_command"]

EXIT_USAGE = 2
EXIT_BUG = 1
BUG_LINE = ("aeot: internal error: this is a bug in aeot, not in your input; please report it with the command "
            "line and the traceback above")

_OS_HINTS = {
    errno.EACCES: "permission denied; choose a writable directory or fix its permissions",
    errno.EPERM: "operation not permitted; choose a writable directory or fix its permissions",
    errno.EROFS: "the file system is read-only; choose a writable directory",
    errno.ENOSPC: "the disk is full; free some space, then run the command again (training: with --resume)",
    errno.EDQUOT: "the disk quota is used up; free some space, then run the command again",
    errno.EFBIG: "the file is larger than allowed (a file size limit, e.g. `ulimit -f`); raise the limit, then "
                 "run the command again",
    errno.EEXIST: "a file is in the way; name a directory that does not exist or is a directory",
    errno.ENOTDIR: "a file is in the way where a directory is needed; choose another path",
    errno.EISDIR: "this is a directory where a file is needed; name a file",
    errno.ENOENT: "no such file or directory; check the path",
}


def _os_line(e: OSError) -> str:
    names = " -> ".join(str(f) for f in (e.filename, e.filename2) if f is not None)
    hint = _OS_HINTS.get(e.errno or -1)
    what = e.strerror or (str(e).splitlines()[0] if str(e) else type(e).__name__)
    head = f"{names}: " if names else ""
    return f"{head}{what}" + (f" ({hint})" if hint else "")


def expected_error_line(e: BaseException) -> str | None:
    """The one line telling the user what went wrong and what to do, or None for a bug."""
    first = str(e).splitlines()[0] if str(e).strip() else type(e).__name__
    if isinstance(e, (AeotError, ValueError)):
        return first
    if isinstance(e, FloatingPointError):
        return f"numerical failure: {first}"
    if isinstance(e, OSError):
        return _os_line(e)
    if isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError":  # torch.OutOfMemoryError (CUDA)
        return (f"out of memory ({first[:120]}); use a smaller --batch-size or fewer samples, or another "
                "--device")
    return None


def ignore_file_size_signal() -> None:
    """Past a file size limit (``ulimit -f``) the kernel kills the process with SIGXFSZ; ignored,
    the write fails with ``OSError(EFBIG)`` instead and the command ends with one line."""
    if hasattr(signal, "SIGXFSZ"):
        try:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        except ValueError:  # not the main thread (an embedding application): leave it as it is
            pass


def run_command(func: Callable[[Any], int], args: Any) -> int:
    """``func(args)``; an expected fault prints ``aeot: error: <line>`` (exit 2), a bug a traceback (exit 1)."""
    try:
        return func(args)
    except KeyboardInterrupt:
        raise
    except Exception as e:  # noqa: BLE001 - sorted into expected faults and bugs below
        line = expected_error_line(e)
        if line is None:
            traceback.print_exc()
            print(BUG_LINE, file=sys.stderr)
            return EXIT_BUG
        print(f"aeot: error: {line}", file=sys.stderr)
        return EXIT_USAGE
