"""LatentGenerativeModel: an autoencoder's decoder plus a fitted sampler."""

import pytest
import torch

import aeot


@pytest.fixture(scope="module")
def parts():
    torch.manual_seed(0)
    ae = aeot.make_autoencoder("mlp", image_shape=(1, 8, 8), latent_dim=3).eval()
    z = torch.randn(200, 3)
    return ae, aeot.make_sampler("gaussian", seed=0).fit(z)


def test_generate_decodes_the_sampled_latents_in_chunks(parts):
    ae, sampler = parts
    model = aeot.LatentGenerativeModel(decoder=ae, sampler=sampler, encoder=ae)
    z = model.sample_latents(10, generator=torch.Generator().manual_seed(1))
    assert z.shape == (10, 3)
    images = model.generate(10, generator=torch.Generator().manual_seed(1), batch_size=3)  # 4 chunks
    assert images.shape == (10, 1, 8, 8)
    with torch.no_grad():
        assert torch.allclose(images, ae.decode(z), atol=1e-6)  # same seed, same images, one batch or four
    assert model.encode(images).shape == (10, 3)


def test_a_model_without_encoder_says_so(parts):
    ae, sampler = parts
    model = aeot.LatentGenerativeModel(ae.decoder, sampler)  # a bare decoder network is called
    assert model.generate(4).shape == (4, 1, 8, 8)
    with pytest.raises(aeot.ConfigError, match="no encoder"):
        model.encode(torch.zeros(1, 1, 8, 8))


def test_the_flat_api_names_resolve():
    for name in aeot.__all__:
        assert getattr(aeot, name) is not None
    assert aeot.ot.solve_semidiscrete is aeot.solve_semidiscrete
    assert {aeot.samplers.SAMPLERS[n] for n in aeot.samplers.list_samplers()} <= {
        getattr(aeot.samplers, n) for n in aeot.samplers.__all__ if n.endswith("Sampler")}
