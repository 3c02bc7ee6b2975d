import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits as sk_digits

from aeot.data import load_dataset
from aeot.data.base import stratified_split, subset_indices
from aeot.data.digits import DIGITS_SPLIT_SEED, DIGITS_TEST_FRACTION


@pytest.mark.parametrize("size", [8, 16, 28])
def test_shapes_range_and_labels(size):
    ds = load_dataset("digits", image_size=size)
    assert ds.x.shape == (1438, 1, size, size) and ds.x.dtype == torch.float32
    assert ds.image_shape == (1, size, size) and ds.n_classes == 10
    assert ds.x.min() >= 0 and ds.x.max() <= 1 and ds.x.max() > 0.99
    assert ds.y.dtype == torch.int64 and sorted(ds.y.unique().tolist()) == list(range(10))


def test_8px_images_are_the_sklearn_ones_divided_by_16():
    bunch = sk_digits()
    idx = stratified_split(bunch.target, DIGITS_TEST_FRACTION, DIGITS_SPLIT_SEED)
    for split in ("train", "test"):
        ds = load_dataset("digits", split=split, image_size=8)
        want = torch.from_numpy(bunch.images[idx[split]][:, None] / 16).float()
        assert torch.allclose(ds.x, want)
        assert torch.equal(ds.y, torch.from_numpy(bunch.target[idx[split]]))


def test_resize_keeps_the_mean_intensity_close():
    small = load_dataset("digits", image_size=8)
    big = load_dataset("digits", image_size=28)
    assert torch.allclose(small.x.mean((1, 2, 3)), big.x.mean((1, 2, 3)), atol=0.05)


def test_split_is_stratified_disjoint_and_fixed():
    labels = sk_digits().target
    idx = stratified_split(labels, 0.2, 0)
    assert len(np.intersect1d(idx["train"], idx["test"])) == 0
    assert len(idx["train"]) + len(idx["test"]) == len(labels) == 1797
    counts, test_counts = np.bincount(labels), np.bincount(labels[idx["test"]])
    assert np.all(np.abs(test_counts - 0.2 * counts) <= 0.5)
    a, b = load_dataset("digits", split="test", seed=0), load_dataset("digits", split="test", seed=9)
    assert torch.equal(a.x, b.x)  # seed does not move the split
    assert len(a) == 359


def test_n_subset_is_deterministic_and_seeded():
    full = load_dataset("digits", image_size=8)
    sub = load_dataset("digits", image_size=8, n=100, seed=1)
    idx = torch.from_numpy(subset_indices(len(full), 100, 1))
    assert torch.equal(sub.x, full.x[idx]) and torch.equal(sub.y, full.y[idx])
    assert torch.equal(sub.x, load_dataset("digits", image_size=8, n=100, seed=1).x)
    assert not torch.equal(sub.x, load_dataset("digits", image_size=8, n=100, seed=2).x)
    assert sub.meta["n"] == 100 and sub.meta["size"] == 100
