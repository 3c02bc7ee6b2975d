"""``mnist`` and ``fashion-mnist`` from their IDX files (raw or ``.gz``).

Files: ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte`` (60000 train items) and
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (10000 test items), each optionally
``.gz``; the raw file is used when both exist. The split is the published train/test split.

Directory: ``data_dir``; else ``$AEOT_DATA/<name>`` if it exists, else ``$AEOT_DATA``; else for
fashion-mnist the Debian package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``).
Debian has no MNIST package, so mnist has no default directory.

Checksums (``verify=True``): see :func:`aeot.data.idx.verify_md5` and :data:`KNOWN_MD5`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from aeot._validation import check_choice
from aeot.data.base import Dataset, labels_tensor, resize_images, resolve_data_dir, to_images
from aeot.data.idx import IDX_IMAGES, IDX_LABELS, parse_idx, read_file_bytes, verify_md5
from aeot.data.registry import register_dataset
from aeot.errors import ConfigError, DatasetError

__all__ = ["FILES", "IDX_IMAGE_SIZES", "KNOWN_MD5", "load_idx_dataset"]

IDX_IMAGE_SIZES = (28, 32)  # 28: native; 32: bilinear resize for 32x32 architectures

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# "gz": MD5 of the ORIGINAL published .gz files (Zalando's fashion-mnist README; LeCun's MNIST
# page as mirrored by torchvision). "raw": MD5 of the decompressed IDX bytes. The Fashion-MNIST
# raw MD5s were computed by us from the Debian package dataset-fashion-mnist
# (0.0~git20200523.55506a9-1, /usr/share/datasets/fashion-mnist: md5 of the gunzipped files);
# Debian recompressed the .gz files, so only the raw MD5s match its copies. No raw MNIST MD5s:
# no local copy of MNIST was available to compute them, so a raw MNIST file is format-checked only.
KNOWN_MD5: dict[str, dict[str, dict[str, str]]] = {
    "fashion-mnist": {
        "train-images-idx3-ubyte": {"gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "raw": "f4a8712d7a061bf5bd6d2ca38dc4d50a"},
        "train-labels-idx1-ubyte": {"gz": "25c81989df183df01b3e8a0aad5dffbe", "raw": "9018921c3c673c538a1fc5bad174d6f9"},
        "t10k-images-idx3-ubyte": {"gz": "bef4ecab320f06d8554ea6380940ec79", "raw": "8181f5470baa50b63fa0f6fddb340f0a"},
        "t10k-labels-idx1-ubyte": {"gz": "bb300cfdad3c16e7a12a480ee83cd310", "raw": "15d484375f8d13e6eb1aabb0c3f46965"},
    },
    "mnist": {
        "train-images-idx3-ubyte": {"gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873"},
        "train-labels-idx1-ubyte": {"gz": "d53e105ee54ea40749a09fcbcd1e9432"},
        "t10k-images-idx3-ubyte": {"gz": "9fb629c4189551a2d022fa330f9573f3"},
        "t10k-labels-idx1-ubyte": {"gz": "ec29112dd5afa0611ce80d1b7f02629c"},
    },
}

DEFAULT_DIRS: dict[str, str | None] = {
    "fashion-mnist": "/usr/share/datasets/fashion-mnist",
    "mnist": None,
}
_INSTALL_HINT = {"fashion-mnist": "install it with `apt-get install dataset-fashion-mnist`"}
_EXPECTS = "train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], " \
           "t10k-labels-idx1-ubyte[.gz]"


def find_idx_file(directory: Path, stem: str) -> Path:
    """``directory/stem`` if present, else ``directory/stem.gz``, else a :class:`DatasetError`."""
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise DatasetError(f"{directory / stem}[.gz]: file not found; re-download it or point --data-dir "
                       f"(data_dir=...) at a directory holding {_EXPECTS}")


def _read_checked(name: str, path: Path, stem: str, magic: int, verify: bool) -> tuple[np.ndarray, str]:
    file_bytes, content = read_file_bytes(path)
    # Format first: a truncated file says "truncated", which is more useful than "checksum mismatch".
    arr = parse_idx(content, path, magic=magic)
    status = verify_md5(path, file_bytes, content, KNOWN_MD5.get(name, {}).get(stem)) if verify else "skipped"
    return arr, status


def load_idx_dataset(name: str, *, split: str, data_dir: str | os.PathLike | None, image_size: int,
                     verify: bool) -> Dataset:
    """Images ``(N, 1, image_size, image_size)`` in [0, 1] and labels 0..9 of the IDX dataset ``name``."""
    size = check_choice("image_size", image_size, IDX_IMAGE_SIZES)
    if not isinstance(verify, bool):
        raise ConfigError(f"verify must be True or False, got {verify!r}")
    directory, how = resolve_data_dir(name, data_dir, default=DEFAULT_DIRS.get(name),
                                      expects=_EXPECTS, install_hint=_INSTALL_HINT.get(name, ""))
    img_stem, lbl_stem = FILES[split]
    img_path, lbl_path = find_idx_file(directory, img_stem), find_idx_file(directory, lbl_stem)
    images, img_status = _read_checked(name, img_path, img_stem, IDX_IMAGES, verify)  # (N, 28, 28)
    labels, lbl_status = _read_checked(name, lbl_path, lbl_stem, IDX_LABELS, verify)  # (N,)
    if images.shape[0] != labels.shape[0]:
        raise DatasetError(f"{img_path}: {images.shape[0]} images but {lbl_path.name} has {labels.shape[0]} "
                           f"labels; use matching files from the same release")
    if images.shape[1:] != (28, 28):
        raise DatasetError(f"{img_path}: images are {images.shape[1]}x{images.shape[2]}, expected 28x28; "
                           f"use the {name} files")
    if labels.size and int(labels.max()) > 9:
        raise DatasetError(f"{lbl_path}: label {int(labels.max())} outside 0..9; use the {name} label file")
    x = resize_images(to_images(images[:, None], 255.0), size)  # (N, 1, size, size)
    meta: dict[str, Any] = {
        "source": [str(img_path), str(lbl_path)],
        "data_dir": str(directory),
        "data_dir_from": how,
        "image_size": size,
        "split_rule": "published train (60000) / test (10000) files",
        "checksums": {img_path.name: img_status, lbl_path.name: lbl_status},
    }
    return Dataset(x=x, y=labels_tensor(labels), name=name, meta=meta, n_classes=10)


@register_dataset("mnist", "MNIST digits from IDX files (raw or .gz) in --data-dir or $AEOT_DATA; 28x28 "
                           "(or 32)")
def load_mnist(*, split: str, data_dir: str | os.PathLike | None = None, image_size: int = 28,
               verify: bool = True) -> Dataset:
    """MNIST (LeCun et al., 1998) from its four IDX files; no default directory."""
    return load_idx_dataset("mnist", split=split, data_dir=data_dir, image_size=image_size, verify=verify)


@register_dataset("fashion-mnist", "Fashion-MNIST from IDX files; default /usr/share/datasets/fashion-mnist "
                                   "(Debian dataset-fashion-mnist)")
def load_fashion_mnist(*, split: str, data_dir: str | os.PathLike | None = None, image_size: int = 28,
                       verify: bool = True) -> Dataset:
    """Fashion-MNIST (Xiao et al., 2017, arXiv:1708.07747) from its four IDX files."""
    return load_idx_dataset("fashion-mnist", split=split, data_dir=data_dir, image_size=image_size, verify=verify)
