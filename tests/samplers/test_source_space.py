"""Samplers that push source points forward expose them: sample(n) = push_source(sample_source(n))."""

import pytest
import torch

from aeot.errors import ConfigError
from aeot.samplers import list_samplers, make_sampler


@pytest.mark.parametrize("name", ["sdot", "gaussian"])
def test_sample_is_the_push_of_the_source(name, rng):
    z = torch.randn(40, 2, generator=rng)
    s = make_sampler(name, seed=0).fit(z)
    assert s.source_space
    direct = s.sample(16, generator=torch.Generator().manual_seed(3))
    w = s.sample_source(16, generator=torch.Generator().manual_seed(3))
    assert w.shape == (16, 2) and torch.equal(s.push_source(w).to(direct.dtype), direct)


def test_a_sampler_without_a_source_space_says_so(rng):
    others = [n for n in list_samplers() if make_sampler(n).source_space is None]
    assert "gmm" in others and "sdot" not in others
    s = make_sampler("gmm", n_components=2, seed=0).fit(torch.randn(40, 2, generator=rng))
    with pytest.raises(ConfigError, match="no source space"):
        s.sample_source(4)
