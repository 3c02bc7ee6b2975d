"""Conformance of every registered discriminator, plus ``default_architecture``."""

from __future__ import annotations

import functools
import inspect
import json

import pytest
import torch
import torch.nn.functional as F

from aeot.errors import ConfigError
from aeot.nets import (
    DISCRIMINATORS,
    Discriminator,
    default_architecture,
    list_autoencoders,
    list_discriminators,
    make_discriminator,
)

CANDIDATE_SHAPES = [(2, 9, 7), (1, 28, 28), (3, 32, 32), (3, 64, 64), (3, 128, 128), (3, 256, 256)]
ARCHS = list_discriminators()


def thin_params(arch: str) -> dict:
    sig = inspect.signature(DISCRIMINATORS[arch]).parameters
    if "width" in sig:
        return {"width": 0.25}
    if "hidden" in sig:
        return {"hidden": [64, 32]}
    return {}


@functools.lru_cache(maxsize=None)
def shape_for(arch: str) -> tuple[int, int, int]:
    for shape in CANDIDATE_SHAPES:
        try:
            make_discriminator(arch, image_shape=shape, **thin_params(arch))
        except ConfigError:
            continue
        return shape
    raise AssertionError(f"{arch!r} accepts none of {CANDIDATE_SHAPES}")


# Every architecture, plus the non-default spectral-norm setting where there is one.
_SN_DEFAULT = {a: inspect.signature(DISCRIMINATORS[a]).parameters["spectral_norm"].default
               for a in ARCHS if "spectral_norm" in inspect.signature(DISCRIMINATORS[a]).parameters}
VARIANTS = [(a, {}) for a in ARCHS] + [(a, {"spectral_norm": not sn}) for a, sn in _SN_DEFAULT.items()]
VARIANT_IDS = [a + ({True: "-sn", False: "-nosn"}[p["spectral_norm"]] if p else "") for a, p in VARIANTS]


def build(arch: str, seed: int = 0, **params) -> Discriminator:
    torch.manual_seed(seed)
    return make_discriminator(arch, image_shape=shape_for(arch), **{**thin_params(arch), **params})


def test_every_autoencoder_has_a_discriminator():
    assert set(list_autoencoders()) <= set(ARCHS)


@pytest.mark.parametrize("arch,params", VARIANTS, ids=VARIANT_IDS)
def test_logits_shape(arch, params):
    d = build(arch, **params).eval()
    x = torch.rand(3, *shape_for(arch))
    with torch.no_grad():
        out = d(x)
    assert out.shape == (3,) and torch.isfinite(out).all()


@pytest.mark.parametrize("arch,params", VARIANTS, ids=VARIANT_IDS)
def test_one_adam_step_lowers_real_vs_fake_bce(arch, params):
    d = build(arch, seed=1, **params).train()
    torch.manual_seed(2)
    shape = shape_for(arch)
    real, fake = 0.5 + 0.5 * torch.rand(8, *shape), 0.5 * torch.rand(8, *shape)
    x = torch.cat([real, fake])  # one forward: the same batch-norm statistics before and after
    target = torch.cat([torch.ones(8), torch.zeros(8)])
    # lr 3e-5: Adam's first step moves every weight by ~lr, and the sum-pooled ResNet D logit
    # responds to all of them at once, so a larger lr overshoots on this 16-image batch.
    opt = torch.optim.Adam(d.parameters(), lr=3e-5)
    before = F.binary_cross_entropy_with_logits(d(x), target)
    opt.zero_grad()
    before.backward()
    opt.step()
    with torch.no_grad():
        after = F.binary_cross_entropy_with_logits(d(x), target)
    assert after.item() < before.item()


@pytest.mark.parametrize("arch,params", VARIANTS, ids=VARIANT_IDS)
def test_config_round_trip(arch, params):
    d = build(arch, **params)
    cfg = d.config
    assert cfg["arch"] == arch and cfg["image_shape"] == list(shape_for(arch))
    assert json.loads(json.dumps(cfg)) == cfg
    again = make_discriminator(**json.loads(json.dumps(cfg)))
    a, b = d.state_dict(), again.state_dict()
    assert list(a) == list(b) and all(a[k].shape == b[k].shape for k in a)


@pytest.mark.parametrize("arch", ARCHS)
def test_paper_width_logits(arch):
    torch.manual_seed(0)
    d = make_discriminator(arch, image_shape=shape_for(arch)).eval()
    with torch.no_grad():
        assert d(torch.rand(2, *shape_for(arch))).shape == (2,)


def test_spectral_norm_is_on_by_default_for_sngan_style_discriminators():
    for arch in ("dcgan", "resnet", "conv64"):
        d = build(arch)
        assert d.config["spectral_norm"] is True
        assert any("parametrizations" in k for k in d.state_dict())
        plain = build(arch, spectral_norm=False)
        assert not any("parametrizations" in k for k in plain.state_dict())
    with pytest.raises(ConfigError, match="spectral_norm"):
        build("dcgan", spectral_norm="yes")


def test_the_wgan_div_style_discriminators_have_no_spectral_norm_unless_asked():
    # An et al. (2020) §4 trains CelebA with WGAN-div's networks, which have no spectral norm
    for arch in ("resnet64", "conv128", "conv256"):
        d = build(arch)
        assert d.config["spectral_norm"] is False and not any("parametrizations" in k for k in d.state_dict())
        assert any("parametrizations" in k for k in build(arch, spectral_norm=True).state_dict())


@pytest.mark.parametrize("arch", [a for a in ARCHS if shape_for(a) != CANDIDATE_SHAPES[0]])
def test_unsupported_image_size_names_value_and_allowed(arch):
    c, h, w = shape_for(arch)
    with pytest.raises(ConfigError) as info:
        make_discriminator(arch, image_shape=(c, h * 2, w * 2))
    msg = str(info.value)
    assert str(h * 2) in msg and f"{h}x{w}" in msg


def test_unknown_arch_and_param():
    with pytest.raises(ConfigError, match="'nope'"):
        make_discriminator("nope", image_shape=(1, 28, 28))
    with pytest.raises(ConfigError, match="'latent_dim'"):
        make_discriminator("infogan", image_shape=(1, 28, 28), latent_dim=3)
    with pytest.raises(ConfigError, match="image_shape"):
        make_discriminator("mlp", image_shape=(28, 28))


def test_wrong_input_shape_is_a_config_error():
    d = build("mlp")
    with pytest.raises(ConfigError, match=r"\(N, 2, 9, 7\)"):
        d(torch.rand(2, 2, 7, 9))


# ----------------------------------------------------------------------------- default_architecture
@pytest.mark.parametrize(
    "shape,arch",
    [((1, 28, 28), "infogan"), ((3, 28, 28), "infogan"), ((3, 32, 32), "dcgan"), ((1, 32, 32), "dcgan"),
     ((3, 64, 64), "conv64"), ((2, 8, 8), "mlp"), ((1, 28, 32), "mlp"), ((3, 128, 128), "conv128"),
     ((3, 256, 256), "conv256"), ((3, 96, 96), "mlp")],
)
def test_default_architecture(shape, arch):
    assert default_architecture(shape) == arch
    assert default_architecture(list(shape)) == arch


def test_default_architecture_is_registered_and_accepts_the_shape():
    from aeot.nets import make_autoencoder

    for shape in [(1, 28, 28), (3, 32, 32), (3, 64, 64), (3, 256, 256), (2, 8, 8)]:
        arch = default_architecture(shape)
        assert arch in list_autoencoders() and arch in ARCHS
        make_autoencoder(arch, image_shape=shape, latent_dim=2, **thin_params(arch))


def test_default_architecture_rejects_malformed_shape():
    with pytest.raises(ConfigError, match="image_shape"):
        default_architecture((28, 28))
