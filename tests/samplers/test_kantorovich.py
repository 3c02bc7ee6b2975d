"""AE-OT of Liu et al. (2018) as Zhang et al. (2019) §2.3 run it (the ``kantorovich`` sampler):
the semi-dual's value at the optimal potential, the learned map of a translation, two modes."""

import pytest
import torch

from aeot.errors import ConfigError
from aeot.samplers import make_sampler
from aeot.samplers.kantorovich import semi_dual_loss

TINY = {"hidden": (64, 64), "lr": 1e-3, "batch_size": 128}


def test_semi_dual_at_the_translation_potential_is_minus_the_transport_cost():
    # Codes y_j = x_j + a: the optimal map is the translation, D(x) = a.x is an optimal potential,
    # and the negated dual equals -(1/2)|a|^2, the transport cost per point; any other D is worse.
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=g, dtype=torch.float64)
    a = torch.tensor([1.5, -0.5, 2.0], dtype=torch.float64)
    y = (x + a)[torch.randperm(64, generator=g)]
    best = semi_dual_loss(x @ a, x, y, 0.0)
    assert torch.isclose(best, -0.5 * a.square().sum(), atol=1e-12)
    for _ in range(5):
        other = x @ a + 0.3 * torch.randn(64, generator=g, dtype=torch.float64)
        assert semi_dual_loss(other, x, y, 0.0) >= best - 1e-12
    # A constant added to D changes nothing; the entropic c-transform lies within reg * log(m) of the hard one.
    assert torch.isclose(semi_dual_loss(x @ a + 7.0, x, y, 0.0), best)
    soft = semi_dual_loss(x @ a, x, y, 0.1)
    assert best - 0.1 * torch.log(torch.tensor(64.0)) - 1e-9 <= soft <= best + 1e-9


@pytest.mark.parametrize("reg", [0.1, 0.0])
def test_gaussian_to_a_shifted_gaussian_learns_the_translation(reg):
    g = torch.Generator().manual_seed(0)
    a = torch.tensor([2.0, -1.0])
    z = torch.randn(2000, 2, generator=g) + a  # N(a, I); the prior is N(0, I) with standardize=False
    s = make_sampler("kantorovich", reg=reg, steps=500, standardize=False, seed=0, **TINY).fit(z)
    x = torch.randn(4000, 2, generator=g)
    shift = s.transport(x) - x  # (4000, 2): should be a everywhere
    assert torch.allclose(shift.mean(0), a, atol=0.1), shift.mean(0)
    assert float((shift - a).norm(dim=1).mean()) < 0.25
    # The untrained potential is nowhere near it.
    start = make_sampler("kantorovich", reg=reg, steps=1, standardize=False, seed=0, **TINY).fit(z)
    assert float((start.transport(x) - x - a).norm(dim=1).mean()) > 1.5
    # Samples are the transported prior: their mean and spread are the codes'.
    out = s.sample(4000)
    assert torch.allclose(out.mean(0), a, atol=0.15) and torch.allclose(out.std(0), torch.ones(2), atol=0.15)


def test_two_modes_are_both_reached_in_proportion():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[-3.0, 0.0], [3.0, 0.0]])
    z = centres[torch.randint(0, 2, (2000,), generator=g)] + 0.3 * torch.randn(2000, 2, generator=g)

    def near_and_share(sampler):
        dist = torch.cdist(sampler.sample(1000, generator=torch.Generator().manual_seed(1)), centres)  # (1000, 2)
        return float((dist.min(1).values < 1.0).float().mean()), float((dist.argmin(1) == 1).float().mean())

    near, share = near_and_share(make_sampler("kantorovich", steps=600, seed=0, **TINY).fit(z))
    near0, _ = near_and_share(make_sampler("kantorovich", steps=1, seed=0, **TINY).fit(z))
    assert near > 0.85 and near0 < 0.5, (near, near0)  # the prior N(mean, s^2 I) mostly falls between the modes
    assert 0.4 < share < 0.6, share


@pytest.mark.parametrize("params, match", [
    ({"reg": -0.1}, r"reg must be .*got -0\.1"),
    ({"reg": float("nan")}, "reg must be .*nan"),
    ({"steps": 0}, "steps must be a positive int, got 0"),
    ({"lr": 0.0}, "lr must be a positive number, got 0.0"),
    ({"batch_size": 2.5}, "batch_size must be a positive int, got 2.5"),
    ({"hidden": "wide"}, "hidden preset 'wide'"),
    ({"standardize": 1}, "standardize must be True or False, got 1"),
])
def test_bad_parameters_raise_config_error_naming_the_value(params, match):
    with pytest.raises(ConfigError, match=match):
        make_sampler("kantorovich", **params).fit(torch.randn(10, 2))
