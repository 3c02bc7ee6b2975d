import math

import pytest
import torch

from aeot.data import load_dataset

TOYS = ["moons", "circles", "8gaussians", "swissroll"]


@pytest.mark.parametrize("name", TOYS)
def test_shape_dtype_and_determinism(name):
    a = load_dataset(name, n_samples=500, seed=3)
    b = load_dataset(name, n_samples=500, seed=3)
    assert a.x.shape == (500, 2) and a.x.dtype == torch.float32
    assert a.image_shape is None
    assert torch.isfinite(a.x).all()
    assert torch.equal(a.x, b.x)
    if a.y is not None:
        assert a.y.dtype == torch.int64 and a.y.shape == (500,)
        assert torch.equal(a.y, b.y)
        assert set(a.y.tolist()) == set(range(a.n_classes))


@pytest.mark.parametrize("name", TOYS)
def test_seeds_and_splits_give_different_draws(name):
    a = load_dataset(name, n_samples=200, seed=0)
    assert not torch.allclose(a.x, load_dataset(name, n_samples=200, seed=1).x)
    test = load_dataset(name, n_samples=200, seed=0, split="test")
    assert not torch.allclose(a.x, test.x)
    assert a.meta["split"] == "train" and test.meta["split"] == "test"


def test_8gaussians_points_sit_at_their_labelled_centre():
    ds = load_dataset("8gaussians", n_samples=2000, std=0.02, radius=2.0)
    angle = ds.y.double() * math.pi / 4
    centre = 2.0 * torch.stack([angle.cos(), angle.sin()], dim=1)
    dist = (ds.x.double() - centre).norm(dim=1)
    assert dist.max() < 0.02 * 6
    assert ds.y.bincount(minlength=8).min() > 150  # all 8 modes present, roughly balanced


def test_circles_without_noise_lie_on_the_two_radii():
    ds = load_dataset("circles", n_samples=400, noise=0.0, factor=0.3)
    r = ds.x.norm(dim=1)
    assert torch.allclose(r[ds.y == 0], torch.tensor(1.0), atol=1e-5)
    assert torch.allclose(r[ds.y == 1], torch.tensor(0.3), atol=1e-5)


def test_swissroll_is_scaled_down():
    ds = load_dataset("swissroll", n_samples=1000, noise=0.0)
    assert ds.y is None and ds.n_classes is None
    assert ds.x.abs().max() < 14.2 / 7.5 + 1e-4  # sklearn's roll radius is at most 1.5 pi * 3 ~ 14.14
    big = load_dataset("swissroll", n_samples=1000, noise=0.0, scale=1.0)
    assert torch.allclose(big.x / 7.5, ds.x, atol=1e-5)


def test_n_subset_of_a_toy():
    full = load_dataset("moons", n_samples=300)
    sub = load_dataset("moons", n_samples=300, n=50, seed=0)
    assert sub.x.shape == (50, 2)
    # every subset point is one of the full set's points, in the original order
    match = (sub.x[:, None, :] == full.x[None, :, :]).all(-1)
    pos = match.float().argmax(1)
    assert match.any(1).all() and torch.all(pos[1:] > pos[:-1])
