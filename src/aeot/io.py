"""Checkpoints and run directories: safetensors for tensors, JSON for everything else.

A checkpoint is one ``.safetensors`` file. Its tensors are the flattened state; its
header metadata holds one JSON document (key ``"aeot"``) with the format version, the
aeot version, the kind of object (class name), its config, and the non-tensor parts of
nested state (optimizer hyperparameters, epoch counters, histories). Nothing is ever
unpickled. Every file is written atomically: to a temporary file in the same
directory, flushed, then renamed over the target, so a killed process leaves either
the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save_file as st_save_file

from aeot._version import __version__
from aeot.errors import CheckpointError

FORMAT_VERSION = 1
_TENSOR = "__tensor__"
TMP_SUFFIX = ".tmp"  # atomic writes: ".NAME.XXXXXXXX.tmp" beside NAME (aeot.run.staging removes orphans)


# --------------------------------------------------------------------------- atomic files
@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync it and rename it over ``path``.

    On any exception the temporary file is removed and ``path`` keeps its old content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    try:
        os.fchmod(fd, file_mode())  # mkstemp makes 0600; a written file gets the usual mode
    finally:
        os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, file_mode())  # again: a writer may have replaced the file (safetensors does)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # the first error is the one to report
            os.unlink(tmp)
        raise


def file_mode() -> int:
    """The mode a new file gets from ``open()``: 0o666 less the process umask (e.g. 0o644)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, torch.Tensor) and obj.numel() == 1:
        return obj.item()
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def to_json(obj: Any) -> str:
    """JSON text with NaN/inf written as null (strict JSON readers reject NaN)."""
    return json.dumps(_finite(obj), indent=2, sort_keys=False, default=_json_default) + "\n"


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_bytes(path, to_json(obj).encode())


def read_json(path: str | os.PathLike, *, what: str = "file") -> Any:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: {what} not found; check the run directory")
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: {what} is not valid JSON ({e}); restore it or re-run the stage") from None


def read_json_object(path: str | os.PathLike, *, what: str = "file") -> dict[str, Any]:
    """:func:`read_json` of a file that must hold a JSON object (a mapping), else one-line error."""
    data = read_json(path, what=what)
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: {what} must be a JSON object, got {type(data).__name__} "
                              f"{json.dumps(data)[:40]}; restore it or re-run the stage")
    return data


# --------------------------------------------------------------------------- nested state
def flatten_state(state: Any, prefix: str = "") -> tuple[dict[str, torch.Tensor], Any]:
    """Split a nested state (dicts, lists, tensors, scalars) into tensors and a JSON skeleton.

    Each tensor is replaced in the skeleton by ``{"__tensor__": key}``. Dict keys become
    strings; the skeleton remembers integer keys (optimizer states are keyed by int).
    """
    tensors: dict[str, torch.Tensor] = {}

    def walk(obj: Any, path: str) -> Any:
        if isinstance(obj, torch.Tensor):
            key = path or "tensor"
            tensors[key] = obj.detach().cpu().contiguous().clone()
            return {_TENSOR: key}
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                if not isinstance(k, (str, int)):
                    raise TypeError(f"state key {k!r} must be str or int")
                items.append([k, walk(v, f"{path}.{k}" if path else str(k))])
            return {"__dict__": items}
        if isinstance(obj, (list, tuple)):
            return [walk(v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(obj)]
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        if hasattr(obj, "item"):
            return obj.item()
        raise TypeError(f"cannot store {type(obj).__name__} at {path!r} in a checkpoint")

    skeleton = walk(state, prefix)
    return tensors, skeleton


def unflatten_state(tensors: dict[str, torch.Tensor], skeleton: Any) -> Any:
    """Inverse of :func:`flatten_state`."""

    def walk(obj: Any) -> Any:
        if isinstance(obj, dict):
            if set(obj) == {_TENSOR}:
                key = obj[_TENSOR]
                if key not in tensors:
                    raise CheckpointError(f"checkpoint is missing tensor {key!r}; the file is incomplete")
                return tensors[key]
            if "__dict__" in obj:
                return {k: walk(v) for k, v in obj["__dict__"]}
            return {k: walk(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [walk(v) for v in obj]
        return obj

    return walk(skeleton)


# --------------------------------------------------------------------------- checkpoints
def save_checkpoint(
    path: str | os.PathLike, *, kind: str, state: Any, config: dict | None = None
) -> Path:
    """Save a nested ``state`` of object ``kind`` (a class name) with its ``config``."""
    tensors, skeleton = flatten_state(state)
    meta = {
        "format_version": FORMAT_VERSION,
        "aeot_version": __version__,
        "kind": kind,
        "config": config or {},
        "state": skeleton,
    }
    with atomic_path(path) as tmp:
        try:
            st_save_file(tensors, str(tmp), metadata={"aeot": to_json(meta)})
        except SafetensorError as e:  # the writer's OS errors (disk full, size limit) as OSError
            code = re.search(r"os error (\d+)", str(e))
            if code is None:
                raise
            raise OSError(int(code.group(1)), os.strerror(int(code.group(1))), str(path)) from None
    return Path(path)


def load_checkpoint(path: str | os.PathLike, *, kind: str | None = None) -> tuple[Any, dict]:
    """Load a checkpoint; returns ``(state, meta)`` where ``meta`` has kind and config.

    Raises :class:`CheckpointError` with one line naming the file when it is missing,
    corrupt, of a newer format, or of another kind than ``kind``.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found; check the path or re-run the stage that writes it")
    raw = path.read_bytes()
    try:
        tensors = st_load(raw)
        header = _read_header(raw)
    except (SafetensorError, ValueError, OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(
            f"{path}: corrupt checkpoint ({first}); restore it from a copy or re-run the stage"
        ) from None
    text = (header.get("__metadata__") or {}).get("aeot")
    if text is None:
        raise CheckpointError(f"{path}: not an aeot checkpoint (no 'aeot' metadata); pass a file that aeot wrote")
    try:
        meta = json.loads(text)
    except json.JSONDecodeError:
        raise CheckpointError(f"{path}: corrupt checkpoint metadata; restore it or re-run the stage") from None
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {meta.get('format_version')} is newer than this aeot "
            f"({FORMAT_VERSION}); upgrade aeot"
        )
    if kind is not None and meta.get("kind") != kind:
        raise CheckpointError(
            f"{path}: checkpoint holds a {meta.get('kind')!r}, expected a {kind!r}; pass the matching file"
        )
    return unflatten_state(tensors, meta.get("state")), meta


def _read_header(raw: bytes) -> dict:
    if len(raw) < 8:
        raise ValueError("file too short")
    n = int.from_bytes(raw[:8], "little")
    if n > len(raw) - 8:
        raise ValueError("header length past end of file")
    return json.loads(raw[8 : 8 + n].decode())


def load_module_state(module: torch.nn.Module, state: dict, *, path: str | os.PathLike, what: str) -> None:
    """``module.load_state_dict(state)`` with a one-line error on any mismatch."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    bad = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    if missing or extra or bad:
        detail = (
            f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}" if extra
            else f"shape of {bad[0]} is {tuple(state[bad[0]].shape)}, expected {tuple(own[bad[0]].shape)}"
        )
        raise CheckpointError(
            f"{path}: the {what} in this checkpoint does not match the architecture ({detail}); "
            "use the config saved with the checkpoint"
        )
    module.load_state_dict(state)
