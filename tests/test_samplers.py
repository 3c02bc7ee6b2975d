"""One conformance test for every registered sampler (generated from the registry)."""

import math

import pytest
import torch

from aeot.errors import ConfigError, NotFittedError
from aeot.samplers import list_samplers, load_sampler, make_sampler, save_sampler

# Cheap settings for samplers whose defaults train networks for minutes.
FAST_PARAMS: dict[str, dict] = {
    "gmm": {"n_components": 3},
    "kmeans": {"n_clusters": 4, "n_init": 1},
    "sdot": {"max_iter": 40, "tol": 0.25, "tol_max": 1.0, "max_samples": 1 << 15, "n_probe": 200},
    "ottrans": {"steps": 20, "hidden": (32, 32), "batch_size": 32},
    "otgen": {"steps": 20, "hidden": (32, 32), "batch_size": 32},
    "kantorovich": {"steps": 20, "hidden": (32, 32), "batch_size": 32},
}


def codes(n=200, d=3, dtype=torch.float32):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(n, d, generator=g, dtype=torch.float64) * torch.tensor([1.0, 2.0, 0.5][:d] + [1.0] * (d - 3))
    return (z + 3.0).to(dtype)


@pytest.fixture(params=list_samplers())
def name(request):
    return request.param


def make(name, **kw):
    return make_sampler(name, **{**FAST_PARAMS.get(name, {}), **kw})


def test_fit_returns_self_and_sample_contract(name):
    s = make(name, seed=1)
    with pytest.raises(NotFittedError):
        s.sample(3)
    z = codes()
    assert s.fit(z) is s
    out = s.sample(7)
    assert out.shape == (7, 3) and out.dtype == z.dtype and out.device == z.device
    assert torch.isfinite(out).all()
    assert s.sample(0).shape == (0, 3)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_follows_the_codes(name, dtype):
    assert make(name).fit(codes(dtype=dtype)).sample(5).dtype == dtype


def test_same_seed_same_samples_and_successive_calls_differ(name):
    a, b = make(name, seed=3).fit(codes()), make(name, seed=3).fit(codes())
    first = a.sample(20)
    assert torch.equal(first, b.sample(20))
    assert not torch.equal(first, a.sample(20))
    g1, g2 = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    assert torch.equal(a.sample(5, generator=g1), a.sample(5, generator=g2))


def test_state_roundtrip_through_a_checkpoint(name, tmp_path):
    s = make(name, seed=5).fit(codes())
    s.sample(4)  # advance the generator: the state must carry it
    save_sampler(tmp_path / "s.safetensors", s)
    t = load_sampler(tmp_path / "s.safetensors")
    assert type(t) is type(s) and t.get_params() == s.get_params()
    assert torch.equal(s.sample(10), t.sample(10))


@pytest.mark.parametrize("bad, match", [
    (torch.full((5, 2), float("nan")), "NaN"),
    (torch.zeros(0, 2), "empty"),
    (torch.zeros(5), r"shape \(n, d\)"),
    ([[1.0, 2.0]], "torch.Tensor"),
])
def test_bad_codes_raise_value_error_naming_the_value(name, bad, match):
    with pytest.raises(ValueError, match=match):
        make(name).fit(bad)


def test_negative_n_is_refused(name):
    s = make(name).fit(codes())
    with pytest.raises(ValueError, match="n must be"):
        s.sample(-1)


def test_unknown_sampler_and_parameter():
    with pytest.raises(ConfigError, match="unknown sampler 'nope'"):
        make_sampler("nope")
    with pytest.raises(ConfigError, match="bad parameters"):
        make_sampler("gaussian", bogus=1)


def test_gaussian_matches_mean_and_covariance():
    z = codes(n=5000)
    s = make_sampler("gaussian", seed=0).fit(z)
    x = s.sample(40000).double()
    zc = z.double()
    assert torch.allclose(x.mean(0), zc.mean(0), atol=0.05)
    assert torch.allclose(torch.cov(x.T), torch.cov(zc.T), atol=0.08)
    # Degenerate codes (n < d) still factorise thanks to the ridge.
    assert torch.isfinite(make_sampler("gaussian").fit(torch.randn(2, 5)).sample(3)).all()
    with pytest.raises(ConfigError, match="ridge"):
        make_sampler("gaussian", ridge=-1.0).fit(z)
    assert math.isfinite(float(x.sum()))
