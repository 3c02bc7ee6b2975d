"""The mapping MLP f_w of AE-OTtrans / AE-OTgen: the paper's layer counts, explicit-generator init."""

import math

import pytest
import torch
from torch import nn

from aeot.errors import ConfigError
from aeot.nets import MAPPING_PRESETS, make_mapping_network


def linears(net):
    return [m for m in net if isinstance(m, nn.Linear)]


@pytest.mark.parametrize("preset, n_linear", [("2d", 5), ("image", 7)])
def test_presets_have_the_papers_layer_counts(preset, n_linear):
    # §4: 4 fully-connected layers of 512 and a final layer; §5.1: "seven layers".
    net = make_mapping_network(2, 2, hidden=preset, generator=torch.Generator().manual_seed(0))
    lin = linears(net)
    assert len(lin) == n_linear
    assert [m.out_features for m in lin] == [512] * (n_linear - 1) + [2]
    acts = [m for m in net if isinstance(m, nn.LeakyReLU)]
    assert len(acts) == n_linear - 1  # between layers, none after the output
    assert isinstance(net[-1], nn.Linear)
    assert MAPPING_PRESETS[preset] == (512,) * (n_linear - 1)


def test_explicit_widths_and_shapes():
    net = make_mapping_network(3, 8, hidden=(16, 32), generator=torch.Generator().manual_seed(0))
    assert [(m.in_features, m.out_features) for m in linears(net)] == [(3, 16), (16, 32), (32, 8)]
    assert net(torch.zeros(5, 3)).shape == (5, 8)


def test_init_is_a_function_of_the_generator_and_leaves_the_global_rng_alone():
    before = torch.get_rng_state()
    a = make_mapping_network(2, 2, hidden=(16,), generator=torch.Generator().manual_seed(1))
    b = make_mapping_network(2, 2, hidden=(16,), generator=torch.Generator().manual_seed(1))
    c = make_mapping_network(2, 2, hidden=(16,), generator=torch.Generator().manual_seed(2))
    assert torch.equal(torch.get_rng_state(), before)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["0.weight"], sc["0.weight"])
    # PyTorch's nn.Linear law: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases.
    w = make_mapping_network(64, 2, hidden=(256,), generator=torch.Generator().manual_seed(0))[0].weight.detach()
    assert float(w.abs().max()) <= 1 / math.sqrt(64)
    assert float(w.abs().max()) > 0.9 / math.sqrt(64)


@pytest.mark.parametrize("kw, match", [
    ({"hidden": "huge"}, "hidden preset 'huge'"),
    ({"hidden": (0, 4)}, "hidden must be"),
    ({"prior_dim": 0}, "prior_dim"),
    ({"negative_slope": -1.0}, "negative_slope"),
])
def test_bad_arguments_raise_config_error(kw, match):
    args = {"prior_dim": 2, "latent_dim": 2, **kw}
    with pytest.raises(ConfigError, match=match):
        make_mapping_network(args.pop("prior_dim"), args.pop("latent_dim"), **args)
