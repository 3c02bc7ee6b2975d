"""``image-folder``: every ``.jpg``/``.jpeg``/``.png`` under a directory (e.g. CelebA's
``img_align_celeba``), centre-cropped to a square and resized to 32, 64, 128 or 256 pixels (CIFAR-10's size, CelebA's
64 px of An et al. (2020) §4 and Zhang et al. (2019) §5.2, and CelebA-HQ's 256 px of An et al.'s Table 2).

Files are found recursively and sorted by their relative path, so the order is the same on
every machine. Split: by sorted position, the last ``max(1, floor(N / 10))`` files are the
test split and the rest train. The ``n`` subset is drawn among the split's file names before
any image is decoded, so ``n=10000`` out of CelebA's 202599 files decodes only 10000.

Each image is converted to RGB, centre-cropped to a ``crop x crop`` square (default: the
shorter side; CelebA papers often use ``crop=108`` or ``140`` on the 178x218 aligned faces)
and resized with Pillow's Lanczos filter.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aeot._validation import check_choice, check_positive_int
from aeot.data.base import Dataset, one_line, resolve_data_dir, subset_indices, \
    tail_split
from aeot.data.registry import register_dataset
from aeot.errors import ConfigError, DatasetError, OptionalDependencyError

__all__ = ["FOLDER_IMAGE_SIZES", "IMAGE_SUFFIXES", "list_image_files", "load_image"]

FOLDER_IMAGE_SIZES = (32, 64, 128, 256)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
TEST_FRACTION = 0.1


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency of aeot
        raise OptionalDependencyError("image-folder needs Pillow; install it with `pip install Pillow`") from None
    return Image


def list_image_files(root: str | Path) -> list[Path]:
    """Image files under ``root`` (recursive; suffix case ignored), sorted by relative POSIX path."""
    root = Path(root)
    files = [p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def load_image(path: str | Path, size: int, crop: int | None = None) -> np.ndarray:
    """One image as uint8 ``(3, size, size)``: RGB, centred square crop, Lanczos resize.

    An unreadable file, or a ``crop`` larger than the image, is a :class:`DatasetError` naming it.
    """
    Image = _pil()
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")  # decodes the file
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise DatasetError(f"{path}: Pillow cannot read this image ({one_line(e)}); delete or replace the file, "
                           f"or point --data-dir at a folder of valid images") from None
    w, h = im.size
    c = min(w, h) if crop is None else crop
    if c > min(w, h):
        raise DatasetError(f"{path}: crop={c} is larger than the image ({w}x{h}); pass a smaller crop")
    left, top = (w - c) // 2, (h - c) // 2
    im = im.crop((left, top, left + c, top + c))
    if c != size:
        im = im.resize((size, size), resample=Image.Resampling.LANCZOS)
    return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1)  # (3, size, size)


@register_dataset("image-folder", "images (jpg/png, recursive) in --data-dir, e.g. CelebA img_align_celeba; "
                                  "centre crop, 32, 64, 128 or 256 px")
def load_image_folder(*, split: str, data_dir: str | os.PathLike | None = None, n: int | None = None,
                      seed: int = 0, image_size: int = 64, crop: int | None = None) -> Dataset:
    """Images ``(N, 3, image_size, image_size)`` in [0, 1] from a folder; labels ``None``."""
    size = check_choice("image_size", image_size, FOLDER_IMAGE_SIZES)
    if crop is not None:
        crop = check_positive_int("crop", crop)
    directory, how = resolve_data_dir("image-folder", data_dir, expects="jpg/jpeg/png images")
    files = list_image_files(directory)
    if not files:
        raise DatasetError(f"{directory}: no .jpg, .jpeg or .png images found (searched recursively); "
                           f"point --data-dir at a folder of images")
    if len(files) < 2:
        raise DatasetError(f"{directory}: only 1 image found; the train/test split needs at least 2")
    split_files = [files[i] for i in tail_split(len(files), TEST_FRACTION)[split]]
    try:
        chosen = [split_files[i] for i in subset_indices(len(split_files), n, seed, what=f"{split} images")]
    except ConfigError as e:
        raise ConfigError(f"{e} (in {directory})") from None
    x = np.stack([load_image(p, size, crop) for p in chosen])  # (n, 3, size, size) uint8
    meta = {
        "source": str(directory),
        "data_dir": str(directory),
        "data_dir_from": how,
        "image_size": size,
        "crop": "shorter side" if crop is None else crop,
        "n_files": len(files),
        "split_rule": f"sorted paths; last max(1, floor({TEST_FRACTION} * N)) are test",
        "first_files": [p.relative_to(directory).as_posix() for p in chosen[:20]],
        "checksums": "not applicable",
    }
    xt = torch.from_numpy(x.astype(np.float32) / np.float32(255.0))
    return Dataset(x=xt, y=None, name="image-folder", meta=meta, n_classes=None)
