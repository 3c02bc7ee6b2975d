import math

import pytest
import torch

from aeot.errors import CheckpointError, ConfigError, NotFittedError
from aeot.nets import make_autoencoder
from aeot.samplers import make_sampler
from aeot.train.refine import (
    REFINE_PRESETS,
    RefineConfig,
    batch_composition,
    make_generator,
    refine_generator,
)
from aeot.train.refine_losses import (
    content_loss,
    discriminator_loss,
    feature_loss,
    generator_adversarial_loss,
    latent_norm,
    layer_weights,
)


def tiny_setup(arch="mlp", n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    if arch == "mlp":
        shape, kw = (1, 8, 8), {"latent_dim": 4, "hidden": (16, 16)}
    else:
        shape, kw = (1, 28, 28), {"latent_dim": 8, "width": 0.125}
    x = torch.rand(n, *shape, generator=g)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        ae = make_autoencoder(arch, image_shape=shape, **kw)
    ae.eval()
    with torch.no_grad():
        z = ae.encode(x)
    sampler = make_sampler("gaussian", seed=1).fit(z)
    return ae, sampler, x, z


def small_config(**kw):
    base = dict(epochs=2, batch_size=8, lr=1e-3, n_panel=2, n_eval=4, seed=3)
    return RefineConfig(**{**base, **kw})


def state_equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ----------------------------------------------------------------------------- losses
def test_content_loss_is_eq2_and_zero_on_equal_images():
    x = torch.rand(3, 1, 4, 4)
    y = x + 0.5
    assert content_loss(x, x) == 0
    assert torch.isclose(content_loss(y, x, reduction="mean"), torch.tensor(0.25))
    assert torch.isclose(content_loss(y, x, reduction="sum"), torch.tensor(0.25 * 16))  # per-image sum, mean over n


def test_feature_loss_weights_each_layer():
    fr = [torch.zeros(2, 3), torch.zeros(2, 5)]
    ff = [torch.ones(2, 3), 2 * torch.ones(2, 5)]
    assert torch.isclose(feature_loss(fr, ff, [0.5, 0.25]), torch.tensor(0.5 * 1 + 0.25 * 4))
    assert feature_loss(fr, fr, [1.0, 1.0]) == 0
    assert layer_weights(2, alpha_inner=0.06, alpha_latent=0.5) == [0.06, 0.06, 0.5]
    with pytest.raises(ValueError, match="one weight per layer"):
        feature_loss(fr, ff, [1.0])


def test_latent_norm_is_mean_code_length():
    z = torch.tensor([[3.0, 4.0], [0.0, 1.0]])
    assert latent_norm(z) == pytest.approx(3.0)


def test_adversarial_losses_match_their_definitions():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    s = torch.sigmoid
    d_expected = -(torch.log(s(real)).mean() + torch.log(1 - s(fake)).mean())
    assert torch.isclose(discriminator_loss(real, fake), d_expected)
    assert torch.isclose(generator_adversarial_loss(fake, mode="minimax"), torch.log(1 - s(fake)).mean())
    assert torch.isclose(generator_adversarial_loss(fake, mode="non_saturating"), -torch.log(s(fake)).mean())
    with pytest.raises(ValueError, match="minimax"):
        generator_adversarial_loss(fake, mode="wasserstein")


# ----------------------------------------------------------------------------- config
def test_paper_defaults_and_presets():
    c = RefineConfig()
    assert (c.lr, c.beta, c.alpha_inner, c.ratio, c.alpha_latent) == (2e-5, 2000.0, 0.06, 3.0, None)
    assert (REFINE_PRESETS["mnist"]["lr_ratio"], REFINE_PRESETS["mnist"]["g_steps"]) == (15.0, 3)
    assert (REFINE_PRESETS["cifar10"]["lr_ratio"], REFINE_PRESETS["cifar10"]["g_steps"]) == (25.0, 10)
    assert (REFINE_PRESETS["celeba"]["lr_ratio"], REFINE_PRESETS["celeba"]["g_steps"]) == (15.0, 5)
    d = RefineConfig.for_dataset("cifar10", epochs=7)
    assert (d.lr_ratio, d.g_steps, d.epochs) == (25.0, 10, 7)
    assert {"fashion-mnist", "digits"} <= set(REFINE_PRESETS)


@pytest.mark.parametrize("ratio, batch, expected", [(3, 64, (16, 48)), (3, 8, (2, 6)), (0, 10, (10, 0)), (1, 9, (4, 5))])
def test_batch_composition_has_the_ratio(ratio, batch, expected):
    n_rec, n_gen = batch_composition(batch, ratio)
    assert (n_rec, n_gen) == expected and n_rec + n_gen == batch


@pytest.mark.parametrize("kw, word", [
    ({"lr_ratio": 1.0}, "lr_ratio"), ({"lr_ratio": 0.5}, "lr_ratio"), ({"ratio": -1.0}, "ratio"),
    ({"epochs": 0}, "epochs"), ({"adversarial": "hinge"}, "adversarial"), ({"reduction": "max"}, "reduction"),
    ({"lr": 0.0}, "lr"), ({"alpha_latent": -1.0}, "alpha_latent"),
])
def test_bad_settings_give_one_line_errors(kw, word):
    with pytest.raises(ConfigError, match=word) as e:
        RefineConfig(**kw).validate()
    assert "\n" not in str(e.value)


def test_unfitted_sampler_is_a_clear_error():
    ae, _, x, z = tiny_setup()
    with pytest.raises(NotFittedError, match="not fitted"):
        refine_generator(ae, make_sampler("gaussian"), x, z, config=small_config())


# ----------------------------------------------------------------------------- training
def test_generator_starts_as_a_bitwise_copy_of_the_decoder():
    ae, *_ = tiny_setup("infogan")
    g = make_generator(ae)
    assert g is not ae.decoder and state_equal(g, ae.decoder)
    zz = torch.randn(3, ae.latent_dim)
    g.eval()
    with torch.no_grad():
        assert torch.equal(g(zz), ae.decoder(zz))


def test_batches_hold_the_configured_ratio(monkeypatch):
    ae, sampler, x, z = tiny_setup()
    seen = []
    from aeot.train import refine as mod

    real_loss = mod.discriminator_loss

    def spy(real_logits, fake_logits):
        seen.append((real_logits.shape[0], fake_logits.shape[0]))
        return real_loss(real_logits, fake_logits)

    monkeypatch.setattr(mod, "discriminator_loss", spy)
    drawn = []
    orig = sampler.sample

    def sample_spy(n, **kw):
        drawn.append(n)
        return orig(n, **kw)

    monkeypatch.setattr(sampler, "sample", sample_spy)
    refine_generator(ae, sampler, x, z, config=small_config(epochs=1, batch_size=16, ratio=3, g_steps=1))
    assert seen and all(r == f == 16 for r, f in seen)
    assert 12 in drawn  # 12 generated : 4 reconstructed per batch


def test_one_step_changes_both_networks_and_keeps_losses_finite():
    ae, sampler, x, z = tiny_setup("infogan", n=2)  # 2 pairs = 2 reconstructed + 6 generated: one step
    from aeot.nets import make_discriminator

    cfg = small_config(epochs=1, batch_size=8, g_steps=1)
    with torch.random.fork_rng():
        torch.manual_seed(cfg.seed)
        d0 = make_discriminator("infogan", image_shape=[1, 28, 28])
    enc0 = {k: v.clone() for k, v in ae.state_dict().items()}
    steps = []
    res = refine_generator(ae, sampler, x, z, config=cfg, progress=lambda ev: steps.append(ev.get("step")))
    assert [s for s in steps if s is not None] == [1]
    assert not state_equal(res.generator, ae.decoder)
    assert not state_equal(res.discriminator, d0)
    assert all(torch.equal(v, ae.state_dict()[k]) for k, v in enc0.items())  # the AE is untouched
    for k in ("content_loss", "feature_loss", "adv_loss", "d_loss", "d_real", "d_fake"):
        assert math.isfinite(res.history[k][-1]), k
    assert res.history["epoch"] == [0, 1]
    assert res.evolution_rec.shape == (2, 2, 1, 28, 28) and res.evolution_gen.shape == (2, 2, 1, 28, 28)


def test_refinement_lowers_content_loss_with_beta_only():
    # Content loss alone (no adversary, no feature term) is a regression to the images: it must drop.
    ae, sampler, x, z = tiny_setup()
    res = refine_generator(ae, sampler, x, z, config=small_config(epochs=4, alpha_inner=0.0, alpha_latent=0.0,
                                                                  ratio=0.0, lr=3e-3))
    assert res.history["eval_content_loss"][-1] < res.history["eval_content_loss"][0]


def test_callbacks_see_each_epoch_and_join_the_history():
    ae, sampler, x, z = tiny_setup()
    calls = []

    def cb(view):
        calls.append(view.epoch)
        return {"mean_pixel": float(view.generate(5).mean())}

    res = refine_generator(ae, sampler, x, z, config=small_config(), callbacks=[cb])
    assert calls == [0, 1, 2]
    assert len(res.history["mean_pixel"]) == 3


class Interrupt(Exception):
    pass


def test_killed_and_resumed_equals_uninterrupted(tmp_path):
    ae, sampler, x, z = tiny_setup()
    cfg = small_config(epochs=3, g_steps=2)
    ref = refine_generator(ae, sampler, x, z, config=cfg)
    ckpt = tmp_path / "refine.safetensors"

    def stop(ev):
        if ev["event"] == "step" and ev["epoch"] == "2/3":
            raise Interrupt

    with pytest.raises(Interrupt):
        refine_generator(ae, sampler, x, z, config=cfg, checkpoint=ckpt, progress=stop)
    res = refine_generator(ae, sampler, x, z, config=cfg, checkpoint=ckpt, resume=True)
    assert state_equal(res.generator, ref.generator)
    assert state_equal(res.discriminator, ref.discriminator)
    drop = lambda h: {k: v for k, v in h.items() if k != "seconds"}  # noqa: E731 (wall time differs)
    assert drop(res.history) == drop(ref.history)
    assert torch.equal(res.evolution_gen, ref.evolution_gen)


def test_resume_with_other_settings_is_refused(tmp_path):
    ae, sampler, x, z = tiny_setup()
    ckpt = tmp_path / "refine.safetensors"
    refine_generator(ae, sampler, x, z, config=small_config(epochs=1), checkpoint=ckpt)
    with pytest.raises(CheckpointError, match="beta"):
        refine_generator(ae, sampler, x, z, config=small_config(epochs=2, beta=1.0), checkpoint=ckpt, resume=True)
