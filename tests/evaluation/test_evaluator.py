"""The Evaluator (issue 21 item 2): prepared once on one reference set, evaluates any latent
generative model into a frozen Evaluation; the refiner's FID callback shares its reference set."""

import dataclasses

import pytest
import torch

import aeot
from aeot.evaluation import ReferenceSet, fid_callback
from aeot.evaluation.rows import blur


@pytest.fixture(scope="module")
def model():
    train = aeot.load_dataset("digits", split="train", n=300)
    ae = aeot.make_autoencoder("mlp", image_shape=train.image_shape, latent_dim=4)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        aeot.train_autoencoder(ae, train.x, config=aeot.AETrainConfig(epochs=1))
    sampler = aeot.make_sampler("gaussian", seed=0).fit(aeot.encode(ae, train.x))
    return aeot.LatentGenerativeModel(decoder=ae, sampler=sampler, encoder=ae)


@pytest.fixture(scope="module")
def evaluator(aeot_cache):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AEOT_CACHE", str(aeot_cache))
        return aeot.Evaluator("digits", features="classifier", n=1000).prepare()


def test_the_architecture_example_evaluates_a_model(evaluator, model):
    result = evaluator.evaluate(model)
    assert isinstance(result, aeot.Evaluation)
    assert result.fid >= 0 and 0 <= result.precision <= 1 and 0 <= result.recall <= 1
    assert 1 <= result.classes_covered <= 10 and result.inception_score >= 1
    assert result.n_fake == result.samples.shape[0] == 1000 and result.n_real == evaluator.reference.n
    assert result.latent["generated"]["ot_divergence"] > 0  # the model has an encoder
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.n_fake = 3
    again = evaluator.evaluate(model)  # the same seed draws the same latents: the same numbers
    assert again.fid == result.fid and again.spaces["classifier"]["rows"] == result.spaces["classifier"]["rows"]


def test_an_unprepared_evaluator_says_so(model):
    with pytest.raises(aeot.NotFittedError, match="prepare"):
        aeot.Evaluator("digits", n=100).evaluate(model)


def test_the_reference_set_is_chosen_by_dataset_n_and_seed_alone():
    a, b = ReferenceSet.select("digits", 100, seed=0), ReferenceSet.select("digits", 100, seed=0)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y) and a.n == 100
    assert not torch.equal(a.x, ReferenceSet.select("digits", 100, seed=1).x)
    assert ReferenceSet.select("digits", 10**6).n == len(aeot.load_dataset("digits", split="test"))  # capped


def test_epoch_0_of_the_fid_callback_is_the_evaluations_fid(evaluator, model):
    """Built from the same prepared reference set, the callback measures what the evaluation measures."""
    result = evaluator.evaluate(model)
    cb, info = fid_callback(evaluator, n=1000, latents=result.latents)
    assert info["n_real"] == result.n_real
    assert cb.measure(result.samples)["fid"] == pytest.approx(result.fid, rel=1e-9, abs=1e-12)
    assert cb.measure(result.samples)["classes_covered"] == result.classes_covered


def test_blur_keeps_range_and_mean_and_smooths():
    x = torch.zeros(1, 1, 28, 28)
    x[..., 14, 14] = 1.0
    y = blur(x)
    assert 0 <= float(y.min()) and float(y.max()) < 0.2 and float(y.sum()) == pytest.approx(1.0, rel=1e-5)


class _Pool(torch.nn.Module):
    def forward(self, x):
        return torch.nn.functional.adaptive_avg_pool2d(x, 4).flatten(1)  # (N, 48): a stand-in "Inception"


def test_the_inception_space_alone_measures_small_n_without_the_classifier(model, tmp_path):
    weights = tmp_path / "pool.pt"
    torch.jit.save(torch.jit.script(_Pool()), str(weights))
    ev = aeot.Evaluator("digits", features="inception", n=20, inception_weights=weights, inception_resize="fid-helper",
                        with_classifier=False).prepare()
    result = ev.evaluate(model)  # n = 20: too few for the classifier's IS splits, fine for FID
    assert set(result.spaces) == {"inception"} and result.fid >= 0 and result.inception_score is None
    assert result.spaces["inception"]["resize"] == "fid-helper" and result.memorization is None
    with pytest.raises(aeot.ConfigError, match="with_classifier=False"):
        aeot.Evaluator("digits", features="classifier", with_classifier=False).prepare()
