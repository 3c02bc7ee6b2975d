"""aeot reproduce cifar10 | celeba | celeba-hq: end to end on tiny synthetic data the tests make.

The data: CIFAR-format python batches and folders of PNGs (32 and 64 px) written into tmp_path;
the Inception network: a tiny TorchScript stand-in (pooling and a fixed projection to 32
features), so that the FID column is measured in seconds. The networks are the presets' own
architectures at width 1/8.
"""

import json
import pickle
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from aeot.cli import main
from aeot.errors import ConfigError
from aeot.experiments import presets_000
from aeot.experiments.presets_000 import PAPER_PRESETS, paper_preset_config, refine_config, reproduce_paper
from aeot.experiments.presets_000_table import PAPER_FID

TINY = dict(n_train=None, width=0.125, latent_dim=8, ae_epochs=1, ae_batch_size=32,
            sampler={"max_iter": 10, "max_samples": 20000}, refine_epochs=1, refine={"batch_size": 32, "g_steps": 1},
            n_eval=20, features="inception")


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: on a shared 2-core machine more threads only contend (10x slower here)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _images(n: int, size: int, seed: int) -> np.ndarray:
    """``n`` uint8 RGB images (n, 3, size, size): a coloured square on a coloured background."""
    rng = np.random.default_rng(seed)
    x = np.empty((n, 3, size, size), dtype=np.uint8)
    for i in range(n):
        x[i] = rng.integers(0, 256, (3, 1, 1))
        a, b = sorted(rng.integers(0, size, 2))
        x[i, :, a:b + 1, a:b + 1] = rng.integers(0, 256, (3, 1, 1))
    return x


def make_cifar_dir(root, n_train=8, n_test=24):
    """data_batch_1..5 and test_batch in CIFAR-10's python format (dict of bytes keys)."""
    root.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for k, name in enumerate(names):
        n = n_test if name == "test_batch" else n_train
        batch = {b"data": _images(n, 32, k).reshape(n, 3072), b"labels": [int(v) for v in np.arange(n) % 10]}
        with open(root / name, "wb") as f:
            pickle.dump(batch, f, protocol=4)
    return root


def make_image_dir(root, size, n=120):
    """``n`` PNGs of ``size`` px (the last 10% are the test split)."""
    root.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(_images(n, size, 7)):
        Image.fromarray(im.transpose(1, 2, 0)).save(root / f"{i:04d}.png")
    return root


class _TinyInception(torch.nn.Module):
    """Pooling and a fixed projection to 32 features (the real network gives 2048, whose 2048 x 2048
    matrix square roots would cost the test a minute on a CPU)."""

    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(48, 32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(torch.nn.functional.adaptive_avg_pool2d(x, 4).flatten(1))  # (N, 32)


@pytest.fixture(scope="module")
def inception(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("inception") / "tiny.pt"
    with warnings.catch_warnings():  # torch deprecates TorchScript; the Inception file of FID is TorchScript
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(_TinyInception()), str(path))
    return str(path)


def test_cifar10_from_the_cli_end_to_end(tmp_path, inception, monkeypatch, capsys):
    data = make_cifar_dir(tmp_path / "cifar")
    monkeypatch.setitem(presets_000.PAPER_PRESETS["cifar10"], "budget", {**TINY, "inception_weights": inception})
    out = tmp_path / "out"
    assert main(["reproduce", "cifar10", "--data-dir", str(data), "--out", str(out), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    rows = {(r["column"], r["method"]): r for r in results["rows"]}
    assert set(rows) == {(c, m) for c in ("standard", "resnet") for m in ("AE-OT (epoch 0)", "AE-OT-GAN")}
    for r in results["rows"]:
        assert r["FID"] is not None and r["FID"] >= 0 and r["n_fake"] == 20 and r["n_real"] == 20  # 24 test images
        assert (out / r["grid"]).is_file()
    # the paper's numbers, from 000 Table 1, beside ours
    assert rows[("standard", "AE-OT-GAN")]["paper_FID"] == 25.2 and rows[("resnet", "AE-OT (epoch 0)")]["paper_FID"] == 28.5
    assert rows[("resnet", "AE-OT-GAN")]["paper_source"] == "000 Table 1, CIFAR10 ResNet"
    assert results["refine"]["lr_ratio"] == 25.0  # 000 §4: R of CIFAR-10 (T is 1 here, to keep the test short)
    table = (out / "table.md").read_text()
    assert "| AE-OT-GAN | resnet (`resnet`) |" in table and "| SNGAN | standard | 25.5 |" in table
    assert "FID" in printed and "000 Table 1, CIFAR10 Standard" in printed
    refine_cfg = json.loads((out / "ae-standard" / "refine" / "config.json").read_text())["refine"]
    assert refine_cfg["disc_params"] == {"spectral_norm": True}  # SNGAN's discriminator


def test_celeba_runs_both_columns_and_004s_rows(tmp_path, inception):
    data = make_image_dir(tmp_path / "faces", 64)
    # the 64 px ResNet convolves at full resolution: 20 training pairs, 1 generated per reconstruction
    small = {**TINY, "n_train": 20, "refine": {"batch_size": 16, "g_steps": 1, "ratio": 1.0}}
    cfg = paper_preset_config("celeba", "budget", data_dir=data, **small, inception_weights=inception,
                              samplers_004={"ottrans": {"steps": 5, "batch_size": 16}},
                              baselines_004={"vae": {"epochs": 1}})
    out = tmp_path / "out"
    events = []
    result = reproduce_paper(cfg, out, progress=events.append)
    by = {(r["column"], r["method"]): r for r in result.rows}
    assert by[("resnet", "AE-OT-GAN")]["arch"] == "resnet64" and by[("standard", "AE-OT-GAN")]["arch"] == "conv64"
    assert by[("resnet", "AE-OT-GAN")]["paper_FID"] == 7.8 and by[("standard", "AE-OT (epoch 0)")]["paper_FID"] == 24.3
    assert by[("standard", "AE-OTtrans")]["paper_FID"] == 58.79 and by[("standard", "VAE")]["paper_FID"] == 59.85
    assert all(r["FID"] >= 0 for r in result.rows)
    refine_cfg = json.loads((out / "ae-resnet" / "refine" / "config.json").read_text())["refine"]
    assert refine_cfg["disc_params"] == {"spectral_norm": False}  # WGAN-div's networks have none
    assert refine_cfg["lr_ratio"] == 15.0  # 000 §4: R of CelebA
    # a rerun reuses every stage; other settings are refused
    again = reproduce_paper(cfg, out, progress=events.clear() or events.append)
    assert not [e for e in events if "starting" in e.get("message", "")]
    assert [r["FID"] for r in again.rows] == [r["FID"] for r in result.rows]
    with pytest.raises(ConfigError, match="ae_epochs"):
        reproduce_paper(paper_preset_config("celeba", "budget", data_dir=data, **{**small, "ae_epochs": 2},
                                            inception_weights=inception), out)


def test_presets_hold_the_papers_settings(tmp_path):
    (tmp_path / "x").write_text("")
    for name in ("cifar10", "celeba", "celeba-hq"):
        full = paper_preset_config(name, "full", data_dir=tmp_path)
        assert full.refine_epochs == 500 and full.n_train is None and full.width == 1.0  # 000 §4: 500 epochs
        assert full.features == "inception" and full.n_eval == 10000
        assert paper_preset_config(name, "budget", data_dir=tmp_path).refine_epochs < 10
    assert paper_preset_config("celeba-hq", "full", data_dir=tmp_path).archs == {"256 px": "conv256"}
    r_t = {name: refine_config(paper_preset_config(name, "full", data_dir=tmp_path)) for name in PAPER_PRESETS}
    assert {name: (c.lr_ratio, c.g_steps) for name, c in r_t.items()} == {  # 000 §4 (CelebA-HQ: CelebA's)
        "cifar10": (25.0, 10), "celeba": (15.0, 5), "celeba-hq": (15.0, 5)}
    assert r_t["cifar10"].disc_params == {"spectral_norm": True} and r_t["celeba"].disc_params == {"spectral_norm": False}
    assert PAPER_FID[("celeba-hq", "256 px")][1]["AE-OT-GAN"] == 7.2  # 000 Table 2
    assert PAPER_FID[("celeba", "004")][1]["AE-OT (Liu et al., 004)"] == 106.96  # 004 §5.2


def test_a_missing_or_empty_data_dir_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for args, words in ((["cifar10"], "needs --data-dir"), (["celeba", "--data-dir", str(tmp_path / "empty")], "empty"),
                        (["celeba-hq", "--data-dir", str(tmp_path / "absent")], "not a directory")):
        assert main(["reproduce", *args, "--out", str(tmp_path / "o"), "--device", "cpu"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0] and "--data-dir" in err[0], err
    assert main(["reproduce", "digits", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "--data-dir is for cifar10" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow  # ~40 s on the shared 2-core machine: 256 px networks and images
def test_celeba_hq_runs_at_256_px(tmp_path, inception):
    data = make_image_dir(tmp_path / "hq", 256, n=80)  # 8 test images: the floor's halves need 4 each
    small = {**TINY, "n_train": 20, "width": 0.0625, "refine": {"batch_size": 16, "g_steps": 1}}
    result = reproduce_paper(paper_preset_config("celeba-hq", "budget", data_dir=data, **small,
                                                 inception_weights=inception), tmp_path / "out")
    by = {r["method"]: r for r in result.rows}
    assert set(by) == {"AE-OT (epoch 0)", "AE-OT-GAN"} and by["AE-OT-GAN"]["arch"] == "conv256"
    assert by["AE-OT-GAN"]["paper_FID"] == 7.2 and by["AE-OT-GAN"]["paper_source"] == "000 Table 2, CelebA-HQ"
    assert by["AE-OT (epoch 0)"]["paper_FID"] is None  # Table 2 has no AE-OT row
    assert all(r["FID"] >= 0 for r in result.rows)
    assert "| WGAN-QC | 256 px | 7.7 | 000 Table 2, CelebA-HQ |" in (tmp_path / "out" / "table.md").read_text()


def test_inception_options_of_the_000_presets(tmp_path, capsys):
    (tmp_path / "x").write_text("")
    assert paper_preset_config("cifar10", data_dir=tmp_path, inception_resize="fid-helper").inception_resize == "fid-helper"
    assert paper_preset_config("cifar10", data_dir=tmp_path).inception_resize == "pytorch-fid"
    with pytest.raises(ConfigError, match="resize"):
        paper_preset_config("cifar10", data_dir=tmp_path, inception_resize="nearest")
    # every row is already in Inception features on --n-eval images: --n-inception is refused, not ignored
    assert main(["reproduce", "cifar10", "--data-dir", str(tmp_path), "--n-inception", "100",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--n-inception" in err[0] and "--n-eval" in err[0]
    assert not (tmp_path / "o").exists()
