"""What every command shares: ``--device``, the progress bars, and how a command ends when it fails.

Failing: one line and exit 2 for every expected fault, a traceback and a request to report it
(exit 1) only for a genuine bug. Expected faults: aeot's own errors
(:class:`aeot.errors.AeotError`) and ``ValueError`` from validation; numeric ones
(``FloatingPointError`` from a diverging training); the operating system's (``OSError``:
permissions, a read-only or full disk, a file size limit, a path of the wrong kind); running out
of memory.

Progress: tqdm bars and stage lines for the library's events. A fit that stops on a tolerance
(the semi-discrete OT solve of the ``sdot`` sampler) has no known number of steps: its bar counts
iterations without an ETA and shows the errors that decide when it stops (``p95``, ``max``: the
95th percentile and the largest relative error ``|cell mass / target mass - 1|`` over the cells;
``empty``: cells that no sample reached) next to their tolerances. Its ``max_iter`` is an upper
bound, not the expected length.
"""

from __future__ import annotations

import argparse
import errno
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any

import torch
from tqdm import tqdm

from aeot import distributed
from aeot.errors import AeotError

__all__ = ["DEVICES", "EXIT_BUG", "EXIT_USAGE", "SDOT_FIELDS", "TqdmProgress", "add_device_option",
           "expected_error_line", "ignore_file_size_signal", "resolve_device", "run_command"]

DEVICES = ("auto", "cpu", "cuda")


# ----------------------------------------------------------------------------- --device
def add_device_option(p: argparse.ArgumentParser, help: str | None = None) -> None:
    """``--device {auto,cpu,cuda}`` (default auto: cuda if available)."""
    p.add_argument("--device", default="auto", choices=list(DEVICES), help=help)


def resolve_device(name: str) -> str:
    """``"auto"`` -> ``"cuda"`` if available else ``"cpu"``; ``"cuda"`` without a device is an error."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise AeotError("--device cuda: no CUDA device is available; use --device cpu")
    return name


# ----------------------------------------------------------------------------- failing
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
        sys.stderr.write(f"aeot: error: {line}\n")  # one write: under torchrun each rank's line stays whole
        sys.stderr.flush()
        return EXIT_USAGE


# ----------------------------------------------------------------------------- progress
SDOT_FIELDS = ("p95: 95th percentile of the cells' relative mass error |mu_i / nu_i - 1|; max: its largest "
               "value; empty: cells no sample fell in. The fit stops when p95 <= tol and max <= tol_max "
               "(or after max_iter iterations, with a warning)")


class TqdmProgress:
    """Turns the library's progress events into tqdm bars and stage lines."""

    def __init__(self, stream=sys.stderr, log=sys.stdout):
        self.stream = stream  # bars (stderr, like every progress bar)
        self.log = log  # stage lines (stdout): stderr keeps only bars and the error line
        self.bar = None
        self.shown = distributed.is_main()  # under torchrun rank 0 alone draws the bars

    def __call__(self, event: dict[str, Any]) -> None:
        if not self.shown:
            return
        kind = event.get("event")
        if kind == "stage":
            self.close()
            print(f"[{event['stage']}] {event.get('message', '')}", file=self.log, flush=True)
        elif kind == "batch":
            total = event["epochs"] * event["n_batches"]
            if self.bar is None:
                done = (event["epoch"] - 1) * event["n_batches"] + event["batch"] - 1
                self.bar = tqdm(total=total, initial=done, desc="train-ae", unit="batch",
                                file=self.stream, dynamic_ncols=True, mininterval=0.5)
            self.bar.update(1)
            self.bar.set_postfix(epoch=f"{event['epoch']}/{event['epochs']}", loss=f"{event['loss']:.4f}",
                                 refresh=False)
        elif kind == "step" and event.get("task") == "sdot":
            self._tolerance_step(event)
        elif kind == "step":  # generic long fit: {"task", "step", "total", **numbers}
            if self.bar is None or getattr(self.bar, "desc", None) != event["task"]:
                self.close()
                self.bar = tqdm(total=event["total"], initial=event["step"] - 1, desc=event["task"],
                                file=self.stream, dynamic_ncols=True, mininterval=0.5)
            self.bar.update(event["step"] - self.bar.n)
            extra = {k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in event.items()
                     if k not in ("event", "task", "step", "total")}
            if extra:
                self.bar.set_postfix(extra, refresh=False)
            if event["step"] >= event["total"]:
                self.close()
        elif kind == "epoch" and self.bar is not None:
            self.bar.set_postfix(epoch=f"{event['epoch']}/{event['epochs']}",
                                 train=f"{event['train_mse']:.4f}", val=f"{event['val_mse']:.4f}")
            if event["epoch"] == event["epochs"]:
                self.close()

    def _tolerance_step(self, event: dict[str, Any]) -> None:
        """An sdot iteration: a count without ETA, and each stopping error beside the tolerance the
        solver reports in the event (it alone knows the rule it stops on)."""
        if self.bar is None or getattr(self.bar, "desc", None) != "sdot":
            self.close()
            self.bar = tqdm(total=None, initial=event["step"] - 1, desc="sdot", unit="iter",
                            file=self.stream, dynamic_ncols=True, mininterval=0.5,
                            bar_format="{desc}: iteration {n_fmt} (at most " + str(event["total"])
                                       + ") [{elapsed}, {rate_fmt}]{postfix}")
        self.bar.update(event["step"] - self.bar.n)
        post = {"p95": f"{event.get('p95', float('nan')):.3g} (stop <= {event['tol']:g})",
                "max": f"{event.get('max', float('nan')):.3g} (stop <= {event['tol_max']:g})",
                "empty": event.get("empty")}
        self.bar.set_postfix(post, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
