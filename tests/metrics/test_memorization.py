"""Memorisation measures: copies are caught, fresh samples of the distribution are not."""

import pytest
import torch

from aeot.metrics.memorization import copy_fraction, latent_copy_fraction


def _data(seed=0, n=600, d=8):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randn(400, d, generator=g), torch.randn(500, d, generator=g), g


def test_fresh_samples_score_like_the_real_calibration_row_and_copies_score_one():
    train, test, fresh, g = _data()
    new = copy_fraction(fresh, train, test)
    assert abs(new.real - 0.05) < 0.05 and abs(new.generated - 0.05) < 0.05  # the distribution itself
    copies = train[torch.randint(600, (500,), generator=g)] + 1e-4 * torch.randn(500, 8, generator=g)
    assert copy_fraction(copies, train, test).generated == 1.0
    half = torch.cat([fresh[:250], copies[:250]])
    assert 0.45 < copy_fraction(half, train, test).generated < 0.6
    assert new.n_real == 200 and new.n_generated == 500 and new.tau > 0


def test_latent_copies_are_exact_training_codes():
    train, _, fresh, _ = _data()
    assert latent_copy_fraction(train[:100], train) == 1.0
    assert latent_copy_fraction(fresh, train) == 0.0
    mixed = torch.cat([train[:30], fresh[:70]])
    assert latent_copy_fraction(mixed, train) == pytest.approx(0.3)


def test_bad_inputs_name_the_value():
    train, test, fresh, _ = _data()
    with pytest.raises(ValueError, match="quantile"):
        copy_fraction(fresh, train, test, quantile=1.5)
    with pytest.raises(ValueError, match="held-out"):
        copy_fraction(fresh, train, test[:3])
    with pytest.raises(ValueError):
        copy_fraction(fresh[:, :4], train, test)
