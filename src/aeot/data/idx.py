"""A pure reader of the IDX format of MNIST-like files, and MD5 verification.

IDX (LeCun et al., http://yann.lecun.com/exdb/mnist/): a 4-byte big-endian magic number
``0x00 0x00 <type> <ndim>``, then ``ndim`` big-endian uint32 dimensions, then the payload in
C order. Only unsigned bytes (type 0x08) are supported: images are ``0x00000803``
(``(N, rows, cols)``), labels ``0x00000801`` (``(N,)``). Files may be gzip-compressed
(``.gz``). Every defect is a one-line :class:`DatasetError` naming the file.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path
from typing import Mapping

import numpy as np

from aeot.data.base import md5_hex, one_line, read_bytes_or_fail
from aeot.errors import DatasetError

__all__ = ["IDX_IMAGES", "IDX_LABELS", "parse_idx", "read_file_bytes", "read_idx", "verify_md5"]

IDX_IMAGES = 0x00000803  # uint8, 3 dimensions
IDX_LABELS = 0x00000801  # uint8, 1 dimension
_UBYTE = 0x08
_FIX = "re-download it or point --data-dir at a complete copy"


def read_file_bytes(path: str | Path) -> tuple[bytes, bytes]:
    """``(file_bytes, content_bytes)`` of ``path``: the content is gunzipped for ``.gz`` files.

    A missing or unreadable file, or a corrupt gzip stream, is a :class:`DatasetError`.
    """
    path = Path(path)
    data = read_bytes_or_fail(path, _FIX)
    if path.suffix != ".gz":
        return data, data
    try:
        return data, gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetError(f"{path}: corrupt gzip file ({one_line(e) or type(e).__name__}); {_FIX}") from None


def parse_idx(content: bytes, path: str | Path = "<bytes>", *, magic: int | None = None) -> np.ndarray:
    """The uint8 array stored in IDX ``content`` (already decompressed); ``path`` names it in errors.

    ``magic`` (e.g. :data:`IDX_IMAGES`) additionally requires that exact magic number. The
    payload must have exactly ``prod(dims)`` bytes: shorter is truncated, longer is refused.
    Returns a read-only view on ``content`` of shape ``dims``.
    """
    if len(content) < 4:
        raise DatasetError(f"{path}: truncated IDX file (no 4-byte magic number, {len(content)} bytes); {_FIX}")
    found = int.from_bytes(content[:4], "big")
    zero, dtype, ndim = int.from_bytes(content[:2], "big"), content[2], content[3]
    if zero != 0 or ndim == 0:
        raise DatasetError(f"{path}: not an IDX file (magic number 0x{found:08x}); {_FIX}")
    if dtype != _UBYTE:
        raise DatasetError(f"{path}: unsupported IDX data type 0x{dtype:02x} (magic 0x{found:08x}); "
                           f"only unsigned bytes (0x08) are read; use an MNIST-format file")
    if magic is not None and found != magic:
        raise DatasetError(f"{path}: wrong IDX magic number 0x{found:08x}, expected 0x{magic:08x} "
                           f"({'images' if magic == IDX_IMAGES else 'labels'}); check the file names")
    header = 4 + 4 * ndim
    if len(content) < header:
        raise DatasetError(f"{path}: truncated IDX header (expected {header} bytes, found {len(content)}); {_FIX}")
    dims = struct.unpack(f">{ndim}I", content[4:header])
    expected = int(np.prod(dims, dtype=np.int64))
    have = len(content) - header
    if have < expected:
        raise DatasetError(f"{path}: truncated IDX file (expected {expected} bytes of data, found {have}); {_FIX}")
    if have > expected:
        raise DatasetError(f"{path}: IDX file too long (expected {expected} bytes of data, found {have}); {_FIX}")
    return np.frombuffer(content, dtype=np.uint8, count=expected, offset=header).reshape(dims)


def read_idx(path: str | Path, *, magic: int | None = None) -> np.ndarray:
    """Read the IDX file ``path`` (raw or ``.gz``) into a uint8 numpy array of its dimensions."""
    _, content = read_file_bytes(path)
    return parse_idx(content, path, magic=magic)


def verify_md5(path: str | Path, file_bytes: bytes, content: bytes, known: Mapping[str, str] | None) -> str:
    """Check a file against its known MD5s and return its checksum status for ``meta``.

    ``known`` may hold ``"gz"`` (MD5 of the published ``.gz`` file) and ``"raw"`` (MD5 of the
    decompressed IDX content). The file passes if its own MD5 equals the known ``.gz`` MD5 or its
    content MD5 equals the known raw MD5; if a checksum applies but none matches, a
    :class:`DatasetError`. With no applicable checksum (unknown file; a raw file whose raw MD5
    is unknown) the status says ``unverified`` and only the format checks apply.
    """
    known = dict(known or {})
    is_gz = Path(path).suffix == ".gz"
    if is_gz and known.get("gz") and md5_hex(file_bytes) == known["gz"]:
        return "ok (md5 of .gz file)"
    if known.get("raw"):
        if md5_hex(content) == known["raw"]:
            return "ok (md5 of decompressed content)"
    elif not (is_gz and known.get("gz")):
        return "unverified (no known checksum)"
    raise DatasetError(
        f"{path}: MD5 checksum mismatch, the file is corrupt or altered; reinstall the package or "
        f"re-download it, or pass verify=False to skip the check"
    )
