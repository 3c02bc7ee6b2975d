"""FID per refinement epoch (issue 5, item 5): the callback, its epoch 0, --no-fid, --fid-n."""

import json
import math

import pytest
import torch

from aeot.cli import main

RUN = ["--data", "digits", "--image-size", "8", "--arch", "mlp", "--latent-dim", "4", "--epochs", "1",
       "--n-train", "120", "--n-test", "20", "--n-samples", "16", "--device", "cpu", "--sampler", "gaussian"]
REFINE = ["--epochs", "1", "--batch-size", "16", "--device", "cpu"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("refine-fid") / "run"
    assert main(["run", *RUN, "--out", str(out)]) == 0
    return out


def test_callback_gives_finite_fid_and_coverage(run_dir):
    from aeot.run.refine_metrics import fid_callback_for_run
    from aeot.samplers import load_sampler
    from aeot.train.autoencoder import load_autoencoder
    from aeot.train.refine import EpochView

    cb, info = fid_callback_for_run(run_dir, n=40)
    assert cb is not None and info["n"] == 40 and info["n_real"] > 0
    ae = load_autoencoder(run_dir / "autoencoder.safetensors")
    sampler = load_sampler(run_dir / "sampler.safetensors")
    out = cb(EpochView(0, ae.decoder.eval(), lambda m: sampler.sample(m, generator=torch.Generator().manual_seed(0))))
    assert math.isfinite(out["fid"]) and out["fid"] >= 0
    assert 1 <= out["classes_covered"] <= 10 and math.isfinite(out["kl_to_real"])
    z = sampler.sample(40, generator=torch.Generator().manual_seed(0))
    fixed, _ = fid_callback_for_run(run_dir, n=40, latents=z)
    view = EpochView(3, ae.decoder.eval(), lambda m: pytest.fail("fixed latents must not be redrawn"))
    assert fixed(view)["fid"] == pytest.approx(out["fid"], rel=1e-9)  # same latents, same decoder


def test_fid_at_epoch_0_is_the_fid_of_the_decoders_samples(run_dir, tmp_path):
    """Epoch 0 of the history equals FID computed directly on the decoder's samples, same latents."""
    import dataclasses
    import shutil

    from aeot.evaluation import DEFAULT_N
    from aeot.metrics import fid_from_features, load_classifier, predict
    from aeot.metrics.classifier import default_classifier_path
    from aeot.run.config import load_data, read_run_config
    from aeot.run.refine import FID_LATENT_SALT
    from aeot.samplers import load_sampler
    from aeot.train.autoencoder import load_autoencoder

    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    assert main(["refine", str(run), *REFINE, "--fid-n", "50"]) == 0
    hist = json.loads((run / "refine" / "history.json").read_text())
    assert hist["epoch"] == [0, 1] and len(hist["fid"]) == 2 and len(hist["classes_covered"]) == 2
    seed = json.loads((run / "refine" / "config.json").read_text())["refine"]["seed"]

    ae = load_autoencoder(run / "autoencoder.safetensors")
    sampler = load_sampler(run / "sampler.safetensors")
    z = sampler.sample(50, generator=torch.Generator().manual_seed(seed + FID_LATENT_SALT))
    with torch.no_grad():
        fake = ae.decoder.eval()(z).clamp(0, 1)
    cfg = read_run_config(run)
    test = load_data(dataclasses.replace(cfg.data, n_test=None), "test")
    idx = torch.randperm(len(test), generator=torch.Generator().manual_seed(0))[: min(DEFAULT_N["classifier"],
                                                                                     len(test))].sort().values
    clf, _ = load_classifier(default_classifier_path("digits"))
    direct = fid_from_features(predict(clf, test.x[idx])[1], predict(clf, fake)[1])
    assert hist["fid"][0] == pytest.approx(direct, rel=1e-9, abs=1e-9)
    report = (run / "report.md").read_text()
    assert "| fid |" in report and "50 generated images per epoch (the same latents" in report


def test_no_fid_leaves_no_fid_in_history(run_dir, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    assert main(["refine", str(run), *REFINE, "--no-fid"]) == 0
    hist = json.loads((run / "refine" / "history.json").read_text())
    assert not any(k in hist for k in ("fid", "classes_covered", "kl_to_real"))
    assert "--no-fid" in (run / "report.md").read_text()


def test_bad_fid_n_exits_2_with_one_line(run_dir, capsys):
    capsys.readouterr()
    assert main(["refine", str(run_dir), *REFINE, "--fid-n", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--fid-n" in err and len(err.splitlines()) == 1
    assert not (run_dir / "refine" / "history.json").exists()


def test_no_classifier_for_a_large_set_gives_a_note(monkeypatch, run_dir):
    import aeot.evaluation.features as features
    from aeot.run.refine_metrics import fid_callback_for_run

    monkeypatch.setattr(features, "AUTO_CLASSIFIER_MAX_TRAIN", 10)  # digits counts as large here
    monkeypatch.setenv("AEOT_CACHE", str(run_dir / "empty-cache"))  # no cached classifier
    cb, info = fid_callback_for_run(run_dir, n=20)
    assert cb is None and "aeot classifier train --data digits" in info["note"]


def test_resumed_refinement_continues_the_fid_column(run_dir, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    assert main(["refine", str(run), *REFINE, "--fid-n", "30"]) == 0
    assert main(["refine", str(run), "--resume", "--epochs", "2", "--device", "cpu"]) == 0
    hist = json.loads((run / "refine" / "history.json").read_text())
    assert hist["epoch"] == [0, 1, 2] and all(math.isfinite(v) for v in hist["fid"])
    assert json.loads((run / "refine" / "config.json").read_text())["fid"]["n"] == 30  # the saved --fid-n


def test_report_names_the_classifier_command_when_there_is_none(monkeypatch, run_dir, tmp_path):
    import shutil

    import aeot.evaluation.features as features

    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    monkeypatch.setattr(features, "AUTO_CLASSIFIER_MAX_TRAIN", 10)  # digits counts as a large set here
    monkeypatch.setenv("AEOT_CACHE", str(tmp_path / "empty-cache"))  # no cached classifier
    assert main(["refine", str(run), *REFINE]) == 0
    assert "fid" not in json.loads((run / "refine" / "history.json").read_text())
    assert "`aeot classifier train --data digits`" in (run / "report.md").read_text()
