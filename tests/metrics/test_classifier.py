import pytest
import torch

from aeot.errors import CheckpointError, ConfigError
from aeot.io import save_checkpoint
from aeot.metrics import ClassifierConfig, ClassifierFeatures, load_classifier, predict, save_classifier, train_classifier


def _toy_images(n, rng):
    """Two classes a CNN separates at once: a bright left half or a bright right half."""
    y = torch.randint(0, 2, (n,), generator=rng)
    x = torch.rand(n, 1, 28, 28, generator=rng) * 0.2
    x[y == 0, :, :, :14] += 0.7
    x[y == 1, :, :, 14:] += 0.7
    return x.clamp(0, 1), y


def test_classifier_learns_saves_and_loads_back(tmp_path, rng):
    x, y = _toy_images(256, rng)
    xt, yt = _toy_images(64, rng)
    model, summary = train_classifier(x, y, n_classes=2, config=ClassifierConfig(width=4, feature_dim=16, epochs=2,
                                                                                 batch_size=32), x_test=xt, y_test=yt)
    assert summary["test_accuracy"] > 0.9
    path = save_classifier(tmp_path / "c.safetensors", model, {"dataset": "toy", "test_accuracy": summary["test_accuracy"]})
    assert path.with_suffix(".json").is_file()
    loaded, info = load_classifier(path)
    assert info["dataset"] == "toy"
    logits, feats = predict(loaded, xt)
    ref_logits, ref_feats = predict(model, xt)
    assert torch.equal(logits, ref_logits) and feats.shape == (64, 16)
    assert torch.allclose(ClassifierFeatures(loaded)(xt[:3]).double(), ref_feats[:3], atol=1e-5)


def test_classifier_resizes_other_sizes_and_refuses_colour():
    model, _ = train_classifier(torch.rand(8, 1, 28, 28), torch.arange(8) % 2, n_classes=2,
                                config=ClassifierConfig(width=2, feature_dim=4, epochs=1))
    assert predict(model, torch.rand(3, 1, 8, 8))[0].shape == (3, 2)
    with pytest.raises(ValueError, match=r"C in \(1,\)"):
        predict(model, torch.rand(3, 3, 28, 28))


def test_bad_config_and_wrong_checkpoint_kind(tmp_path):
    with pytest.raises(ConfigError, match="epochs"):
        train_classifier(torch.rand(4, 1, 28, 28), torch.zeros(4, dtype=torch.long), n_classes=2,
                         config=ClassifierConfig(epochs=0))
    other = save_checkpoint(tmp_path / "o.safetensors", kind="Autoencoder", state={"w": torch.zeros(1)})
    with pytest.raises(CheckpointError, match="expected a 'DomainClassifier'"):
        load_classifier(other)
