import json
from pathlib import Path
import subprocess
import sys

import pytest

from aeot.cli import main


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("run", "train-ae", "sample", "toy", "datasets"):
        assert cmd in out


def test_run_writes_the_whole_run_directory(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", "--data", "digits", "--image-size", "8", "--arch", "mlp", "--latent-dim", "4",
                 "--epochs", "2", "--n-train", "300", "--n-test", "40", "--n-samples", "16",
                 "--out", str(out), "--device", "cpu"])
    assert code == 0
    for name in ("config.json", "metrics.json", "report.md", "history.json", "autoencoder.safetensors",
                 "latents.safetensors", "sampler.safetensors", "checkpoint.safetensors",
                 "reconstructions.png", "samples.png", "training_curve.png"):
        assert (out / name).is_file(), name
    report = (out / "report.md").read_text()
    for fig in ("reconstructions.png", "samples.png", "training_curve.png"):
        assert f"({fig})" in report
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["config"]["train"]["epochs"] == 2 and cfg["model_resolved"]["arch"] == "mlp"
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 < metrics["test_mse"] < 0.2
    assert "report:" in capsys.readouterr().out

    # Saved work is never overwritten by accident ...
    assert main(["run", "--data", "digits", "--out", str(out)]) == 2
    assert "--resume" in capsys.readouterr().err
    # ... and a resumed finished run reuses the trained autoencoder with its saved config.
    before = (out / "autoencoder.safetensors").read_bytes()
    assert main(["run", "--out", str(out), "--resume", "--device", "cpu"]) == 0
    assert (out / "autoencoder.safetensors").read_bytes() == before

    # Another sampler on the same codes: the autoencoder stays, config and report follow the sampler.
    capsys.readouterr()
    assert main(["sample", "--out", str(out), "--sampler", "kmeans", "--sampler-param", "n_clusters=3",
                 "--device", "cpu"]) == 0
    assert (out / "autoencoder.safetensors").read_bytes() == before
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["config"]["sampler"] == {"name": "kmeans", "params": {"n_clusters": 3}}
    assert cfg["model_resolved"]["arch"] == "mlp"
    assert "sampler: kmeans" in (out / "report.md").read_text()
    assert json.loads((out / "metrics.json").read_text())["test_mse"] == metrics["test_mse"]
    capsys.readouterr()
    assert main(["sample", "--out", str(out), "--sampler", "kmeans", "--sampler-param", "bogus=1"]) == 2
    assert "bogus" in capsys.readouterr().err
    assert main(["sample", "--out", str(out), "--sampler-param", "n_clusters"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert main(["sample", "--out", str(tmp_path / "nothing")]) == 2


def test_corrupt_idx_file_exits_2_with_one_line(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 7)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x01\x00")
    r = subprocess.run([sys.executable, "-m", "aeot.cli", "train-ae", "--data", "mnist", "--data-dir",
                        str(tmp_path), "--out", str(tmp_path / "run")], capture_output=True, text=True)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr
    assert "train-images-idx3-ubyte" in lines[0]


def test_bad_values_exit_2(tmp_path, capsys):
    assert main(["train-ae", "--epochs", "0", "--out", str(tmp_path / "r")]) == 2
    assert "epochs must be a positive int" in capsys.readouterr().err
    assert main(["run", "--data", "moons", "--out", str(tmp_path / "t")]) == 2
    assert "aeot toy" in capsys.readouterr().err


def test_config_file_repeats_a_run_exactly(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["train-ae", "--image-size", "8", "--arch", "mlp", "--latent-dim", "3", "--epochs", "2",
                 "--n-train", "200", "--n-test", "20", "--seed", "7", "--out", str(a), "--device", "cpu"]) == 0
    assert main(["train-ae", "--config", str(a / "config.json"), "--out", str(b), "--device", "cpu"]) == 0
    assert (a / "autoencoder.safetensors").read_bytes() == (b / "autoencoder.safetensors").read_bytes()
    assert (a / "latents.safetensors").read_bytes() == (b / "latents.safetensors").read_bytes()


FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not FASHION.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_train_ae_on_the_debian_fashion_mnist_files(tmp_path):
    out = tmp_path / "fm"
    assert main(["train-ae", "--data", "fashion-mnist", "--n-train", "256", "--n-test", "64", "--epochs", "1",
                 "--width", "0.25", "--out", str(out), "--device", "cpu"]) == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["data_meta"]["train"]["data_dir"] == str(FASHION)
    assert cfg["model_resolved"]["arch"] == "infogan" and cfg["model_resolved"]["image_shape"] == [1, 28, 28]
