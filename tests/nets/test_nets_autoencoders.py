"""Conformance of every registered autoencoder, generated from the registry."""

from __future__ import annotations

import copy
import functools
import inspect
import json
import math

import pytest
import torch
import torch.nn.functional as F

from aeot.errors import ConfigError
from aeot.nets import AUTOENCODERS, Autoencoder, list_autoencoders, make_autoencoder

# Tried in order; each architecture is tested on the first shape it accepts.  The first is an
# odd, non-square, 2-channel shape that only shape-agnostic architectures ("mlp") take.
CANDIDATE_SHAPES = [(2, 9, 7), (1, 28, 28), (3, 32, 32), (3, 64, 64), (3, 128, 128), (3, 256, 256)]
THIN = 0.25  # channel multiplier that keeps the conv nets fast on CPU


@functools.lru_cache(maxsize=None)
def shape_for(arch: str) -> tuple[int, int, int]:
    for shape in CANDIDATE_SHAPES:
        try:
            make_autoencoder(arch, image_shape=shape, latent_dim=2, **thin_params(arch))
        except ConfigError:
            continue
        return shape
    raise AssertionError(f"{arch!r} accepts none of {CANDIDATE_SHAPES}")


def thin_params(arch: str) -> dict:
    """Small-network parameters for ``arch``: width=0.25 where it has a width, small MLP otherwise."""
    sig = inspect.signature(AUTOENCODERS[arch]).parameters
    if "width" in sig:
        return {"width": THIN}
    if "hidden" in sig:
        return {"hidden": [64, 32]}
    return {}


def build(arch: str, *, latent_dim: int = 6, seed: int = 0, **params) -> Autoencoder:
    torch.manual_seed(seed)
    return make_autoencoder(arch, image_shape=shape_for(arch), latent_dim=latent_dim,
                            **{**thin_params(arch), **params})


ARCHS = list_autoencoders()


def test_registry_has_the_paper_architectures():
    assert set(ARCHS) >= {"mlp", "infogan", "dcgan", "resnet", "conv64", "resnet64", "conv128", "conv256"}


@pytest.mark.parametrize("arch", ARCHS)
def test_shapes_range_and_features(arch):
    ae = build(arch).eval()
    shape = shape_for(arch)
    n = 3
    x = torch.rand(n, *shape)
    with torch.no_grad():
        z = ae.encode(x)
        x_hat = ae.decode(z)
        recon = ae(x)
        z2, feats = ae.encoder(x, return_features=True)
    assert z.shape == (n, 6)
    assert x_hat.shape == (n, *shape) and recon.shape == (n, *shape)
    assert float(x_hat.min()) >= 0.0 and float(x_hat.max()) <= 1.0
    torch.testing.assert_close(recon, x_hat)
    torch.testing.assert_close(z2, z)
    assert isinstance(feats, list) and len(feats) >= 1
    for f in feats:
        assert isinstance(f, torch.Tensor) and f.shape[0] == n and f.dim() >= 2
    assert ae.latent_dim == 6 and tuple(ae.image_shape) == shape


@pytest.mark.parametrize("arch", ARCHS)
def test_config_round_trip(arch):
    ae = build(arch)
    cfg = ae.config
    assert cfg["arch"] == arch and cfg["image_shape"] == list(shape_for(arch)) and cfg["latent_dim"] == 6
    restored = json.loads(json.dumps(cfg))
    assert restored == cfg  # JSON-serialisable without loss (resume compares configs)
    again = make_autoencoder(**restored)
    assert again.config == cfg
    a, b = ae.state_dict(), again.state_dict()
    assert list(a) == list(b)
    assert all(a[k].shape == b[k].shape for k in a)
    cfg["latent_dim"] = 99  # config is a copy: mutating it leaves the module's alone
    assert ae.config["latent_dim"] == 6


@pytest.mark.parametrize("arch", ARCHS)
def test_one_adam_step_lowers_reconstruction_loss(arch):
    ae = build(arch, seed=1).train()
    torch.manual_seed(2)
    x = torch.rand(8, *shape_for(arch))  # batch 8: batch norm over 4 samples makes the loss too sharp
    opt = torch.optim.Adam(ae.parameters(), lr=1e-3)
    before = F.mse_loss(ae(x), x)
    opt.zero_grad()
    before.backward()
    opt.step()
    with torch.no_grad():
        after = F.mse_loss(ae(x), x)
    assert math.isfinite(before.item())
    assert after.item() < before.item()


@pytest.mark.parametrize("arch", ARCHS)
def test_construction_is_deterministic_given_the_seed(arch):
    a, b = build(arch, seed=5).state_dict(), build(arch, seed=5).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # The library never reseeds: a second build without reseeding draws new weights.
    cfg = build(arch).config
    torch.manual_seed(5)
    first, second = make_autoencoder(**cfg).state_dict(), make_autoencoder(**cfg).state_dict()
    assert any(not torch.equal(first[k], second[k]) for k in first)


@pytest.mark.parametrize("arch", ARCHS)
def test_paper_width_shapes(arch):
    """Full-size networks (width 1.0 / default hidden sizes and latent) at batch 2."""
    torch.manual_seed(0)
    shape = shape_for(arch)
    ae = make_autoencoder(arch, image_shape=shape).eval()
    x = torch.rand(2, *shape)
    with torch.no_grad():
        z, feats = ae.encoder(x, return_features=True)
        x_hat = ae.decode(z)
    assert z.shape == (2, ae.config["latent_dim"])
    assert x_hat.shape == (2, *shape)
    assert all(f.shape[0] == 2 for f in feats)
    if "width" in ae.config:
        assert ae.config["width"] == 1.0


@pytest.mark.parametrize("arch", ARCHS)
def test_any_channel_count(arch):
    c, h, w = shape_for(arch)
    shape = (5 - c, h, w)  # 2 -> 3, 1 -> 4, 3 -> 2 channels
    torch.manual_seed(0)
    ae = make_autoencoder(arch, image_shape=shape, latent_dim=3, **thin_params(arch)).eval()
    with torch.no_grad():
        assert ae(torch.rand(2, *shape)).shape == (2, *shape)


def test_feature_loss_backpropagates_into_a_generator_copy():
    """The AE-OT-GAN use: generator = deep copy of the decoder, feature loss through the encoder."""
    ae = build("infogan").eval()
    gen = copy.deepcopy(ae.decoder).train()
    x = torch.rand(3, *shape_for("infogan"))
    with torch.no_grad():
        z, real_feats = ae.encoder(x, return_features=True)
    fake_z, fake_feats = ae.encoder(gen(z), return_features=True)
    loss = sum(F.mse_loss(a, b) for a, b in zip(fake_feats, real_feats)) + F.mse_loss(fake_z, z)
    loss.backward()
    assert all(p.grad is not None for p in gen.parameters())
    assert all(p.grad is None for p in ae.decoder.parameters())  # the copy owns its weights


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("bad", [(28, 28), (1, 0, 28), "1x28x28", (1, 28.0, 28)])
def test_malformed_image_shape_is_a_config_error(arch, bad):
    with pytest.raises(ConfigError, match="image_shape") as info:
        make_autoencoder(arch, image_shape=bad)
    assert repr(bad) in str(info.value) or str(list(bad)) in str(info.value)


@pytest.mark.parametrize("arch", [a for a in ARCHS if shape_for(a) != CANDIDATE_SHAPES[0]])
def test_unsupported_image_size_names_value_and_allowed(arch):
    c, h, w = shape_for(arch)
    with pytest.raises(ConfigError) as info:
        make_autoencoder(arch, image_shape=(c, h + 1, w + 1))
    msg = str(info.value)
    assert str(h + 1) in msg and f"{h}x{w}" in msg and arch in msg


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("bad", [0, -3, 2.5, "8", True, None])
def test_bad_latent_dim_is_a_config_error(arch, bad):
    with pytest.raises(ConfigError, match="latent_dim") as info:
        make_autoencoder(arch, image_shape=shape_for(arch), latent_dim=bad)
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize("arch", [a for a in ARCHS if "width" in thin_params(a)])
@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), "1"])
def test_bad_width_is_a_config_error(arch, bad):
    with pytest.raises(ConfigError, match="width"):
        make_autoencoder(arch, image_shape=shape_for(arch), width=bad)


def test_unknown_arch_param_and_missing_shape():
    with pytest.raises(ConfigError, match="'nope'.*mlp"):
        make_autoencoder("nope", image_shape=(1, 28, 28))
    with pytest.raises(ConfigError, match="'depth'"):
        make_autoencoder("infogan", image_shape=(1, 28, 28), depth=3)
    with pytest.raises(ConfigError, match="image_shape"):
        make_autoencoder("mlp", latent_dim=4)
    with pytest.raises(ConfigError, match="hidden"):
        make_autoencoder("mlp", image_shape=(1, 4, 4), hidden=[])


def test_wrong_input_shape_is_a_config_error():
    ae = build("mlp")
    with pytest.raises(ConfigError, match=r"\(N, 2, 9, 7\)"):
        ae.encode(torch.rand(2, 1, 9, 7))
    with pytest.raises(ConfigError, match=r"\(N, 6\)"):
        ae.decode(torch.rand(2, 5))


@pytest.mark.parametrize("arch,size,resolutions", [("resnet64", 64, [32, 16, 8, 4]),
                                                   ("conv128", 128, [64, 32, 16, 8, 4]),
                                                   ("conv256", 256, [128, 64, 32, 16, 8, 4])])
def test_the_large_image_encoders_halve_the_resolution_down_to_4x4(arch, size, resolutions):
    ae = make_autoencoder(arch, image_shape=(3, size, size), latent_dim=5, width=0.125).eval()
    with torch.no_grad():
        z, feats = ae.encoder(torch.rand(2, 3, size, size), return_features=True)
        assert ae.decode(z).shape == (2, 3, size, size)
    assert [f.shape[-1] for f in feats] == resolutions and z.shape == (2, 5)
