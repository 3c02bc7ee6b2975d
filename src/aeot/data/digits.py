"""``digits``: scikit-learn's bundled 8x8 handwritten digits (1797 images), the default dataset.

No download: the images ship inside scikit-learn. Pixel values 0..16 are divided by 16 and the
images are resized bilinearly to ``image_size`` (8, 16 or 28; default 28, MNIST's size).

Split: a fixed stratified 80/20 split (per class, ``round(0.2 * count)`` images drawn with
``numpy.random.default_rng(0)`` go to test: 1438 train / 359 test). It does not depend on
``seed``, so every run sees the same test images; ``seed`` only picks the ``n`` subset.
"""

from __future__ import annotations

import numpy as np

from aeot._validation import check_choice
from aeot.data.base import Dataset, labels_tensor, resize_images, stratified_split, to_images
from aeot.data.registry import register_dataset

__all__ = ["DIGITS_IMAGE_SIZES", "DIGITS_SPLIT_SEED", "DIGITS_TEST_FRACTION", "load_digits"]

DIGITS_IMAGE_SIZES = (8, 16, 28)
DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_SEED = 0  # fixed: the split is part of the dataset's definition


@register_dataset("digits", "8x8 handwritten digits bundled with scikit-learn (1797), resized to 8/16/28; "
                            "no download (default)")
def load_digits(*, split: str, image_size: int = 28) -> Dataset:
    """Digits images ``(N, 1, image_size, image_size)`` in [0, 1] and labels 0..9."""
    from sklearn.datasets import load_digits as sk_load_digits

    size = check_choice("image_size", image_size, DIGITS_IMAGE_SIZES)
    bunch = sk_load_digits()
    images = np.asarray(bunch.images)  # (1797, 8, 8), values 0..16
    labels = np.asarray(bunch.target)  # (1797,)
    idx = stratified_split(labels, DIGITS_TEST_FRACTION, DIGITS_SPLIT_SEED)[split]
    x = to_images(images[idx][:, None], 16.0)  # (N, 1, 8, 8)
    x = resize_images(x, size)  # (N, 1, size, size)
    meta = {
        "source": "sklearn.datasets.load_digits (bundled with scikit-learn)",
        "image_size": size,
        "split_rule": f"stratified {1 - DIGITS_TEST_FRACTION:.0%}/{DIGITS_TEST_FRACTION:.0%}, "
                      f"seed {DIGITS_SPLIT_SEED}",
        "checksums": "not applicable (bundled with scikit-learn)",
    }
    return Dataset(x=x, y=labels_tensor(labels[idx]), name="digits", meta=meta, n_classes=10)
