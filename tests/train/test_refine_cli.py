import json
import shutil

import pytest
import torch

from aeot.cli import main
from aeot.run.generator import load_generator
from aeot.train import load_autoencoder

RUN = ["--data", "digits", "--image-size", "8", "--arch", "mlp", "--latent-dim", "4", "--epochs", "1",
       "--n-train", "120", "--n-test", "20", "--n-samples", "16", "--device", "cpu", "--sampler", "gaussian"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("refine") / "run"
    assert main(["run", *RUN, "--out", str(out)]) == 0
    return out


def test_run_refine_writes_the_comparison_into_the_report(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", *RUN, "--out", str(out), "--refine", "--refine-epochs", "2"]) == 0
    r = out / "refine"
    for name in ("config.json", "checkpoint.safetensors", "generator.safetensors", "history.json", "curves.png",
                 "evolution_reconstructions.png", "evolution_samples.png", "aeot_vs_aeotgan.png", "metrics.json"):
        assert (r / name).is_file(), name
    report = (out / "report.md").read_text()
    assert "## AE-OT vs AE-OT-GAN" in report
    for fig in ("curves.png", "evolution_reconstructions.png", "evolution_samples.png", "aeot_vs_aeotgan.png"):
        assert f"(refine/{fig})" in report
    hist = json.loads((r / "history.json").read_text())
    assert hist["epoch"] == [0, 1, 2]
    cfg = json.loads((r / "config.json").read_text())
    assert cfg["refine"]["lr_ratio"] == 15.0 and cfg["refine"]["g_steps"] == 3  # the digits preset
    gen = load_generator(out)
    ae = load_autoencoder(out / "autoencoder.safetensors")
    zz = torch.randn(4, 4)
    with torch.no_grad():
        assert not torch.equal(gen(zz), ae.decode(zz))  # refined, and the autoencoder kept as it was
    assert "eval_content_loss: epoch 0" in capsys.readouterr().out

    # aeot evaluate --generator refined: the generator's images, written under refine/, report untouched
    before = (out / "report.md").read_text()
    assert main(["evaluate", str(out), "--generator", "refined", "--n", "40", "--device", "cpu"]) == 0
    ev = json.loads((r / "evaluation.json").read_text())
    assert ev["generator"] == "refined" and "AE-OT-GAN" in ev["source"]
    assert ev["spaces"]["classifier"]["rows"][0]["row"] == "generated"
    for name in ("eval_samples.png", "interp_prior.png", "tsne_latents.png"):
        assert (r / name).is_file(), name
    assert (out / "report.md").read_text() == before
    assert main(["evaluate", str(out), "--n", "40", "--device", "cpu"]) == 0  # the decoder: different images
    dec = json.loads((out / "metrics.json").read_text())["evaluation"]
    assert dec["generator"] == "decoder"
    assert dec["spaces"]["classifier"]["rows"][0]["fid"] != ev["spaces"]["classifier"]["rows"][0]["fid"]


def test_evaluate_refined_needs_a_refinement(run_dir, tmp_path, capsys):
    fresh = tmp_path / "fresh"
    shutil.copytree(run_dir, fresh, ignore=shutil.ignore_patterns("refine"))
    assert main(["evaluate", str(fresh), "--generator", "refined", "--n", "40", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "aeot refine" in err[0]


def test_refine_command_resumes_and_refuses_overwrites(run_dir, capsys):
    assert main(["refine", str(run_dir), "--epochs", "1", "--batch-size", "16", "--device", "cpu"]) == 0
    capsys.readouterr()
    assert main(["refine", str(run_dir), "--epochs", "1"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["refine", str(run_dir), "--resume", "--epochs", "2", "--device", "cpu"]) == 0
    hist = json.loads((run_dir / "refine" / "history.json").read_text())
    assert hist["epoch"] == [0, 1, 2]
    cfg = json.loads((run_dir / "refine" / "config.json").read_text())
    assert cfg["refine"]["batch_size"] == 16  # the saved setting, not the preset


@pytest.mark.parametrize("args, word", [
    (["--lr-ratio", "1"], "lr_ratio"), (["--ratio", "-1"], "ratio"), (["--g-steps", "0"], "g_steps"),
    (["--sampler-param", "k=1"], "--sampler"),
])
def test_bad_refine_settings_exit_2_with_one_line(run_dir, capsys, args, word):
    capsys.readouterr()
    assert main(["refine", str(run_dir), *args, "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert word in err and len(err.splitlines()) == 1


def test_refine_with_another_sampler_fits_it_on_the_latents(tmp_path):
    out = tmp_path / "run"
    assert main(["run", *RUN, "--out", str(out)]) == 0
    assert main(["refine", str(out), "--epochs", "1", "--sampler", "kmeans", "--sampler-param", "n_clusters=3",
                 "--device", "cpu"]) == 0
    cfg = json.loads((out / "refine" / "config.json").read_text())
    assert cfg["sampler"] == {"name": "kmeans", "params": cfg["sampler"]["params"], "fitted_here": True}
    assert cfg["sampler"]["params"]["n_clusters"] == 3
    assert (out / "refine" / "sampler.safetensors").is_file()


def test_refine_needs_a_finished_run(tmp_path, capsys):
    assert main(["refine", str(tmp_path), "--device", "cpu"]) == 2
    assert "aeot run" in capsys.readouterr().err


def test_a_per_epoch_metric_callback_reaches_history_curves_and_report(tmp_path):
    from aeot.run.pipeline import refine_and_report
    from aeot.train.refine import RefineConfig

    out = tmp_path / "run"
    assert main(["run", *RUN, "--out", str(out)]) == 0
    seen = []

    def fid_stub(view):  # stands in for the FID of the evaluation work
        seen.append(view.epoch)
        return {"fid": float(view.generate(8).mean())}

    refine_and_report(out, RefineConfig(epochs=2, batch_size=16), callbacks=[fid_stub])
    assert seen == [0, 1, 2]
    hist = json.loads((out / "refine" / "history.json").read_text())
    assert len(hist["fid"]) == 3
    report = (out / "report.md").read_text()
    assert "| fid |" in report


def test_preset_option_picks_another_datasets_r_and_t(tmp_path):
    from aeot.run.refine import refine_config_for

    out = tmp_path / "run"
    assert main(["run", *RUN, "--out", str(out)]) == 0
    cfg = refine_config_for(out, {"epochs": 2}, preset="cifar10")
    assert (cfg.lr_ratio, cfg.g_steps, cfg.epochs) == (25.0, 10, 2)
    with pytest.raises(Exception, match="unknown refine preset"):
        refine_config_for(out, preset="imagenet")
