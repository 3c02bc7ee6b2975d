"""aeot evaluate / compare on a tiny digits run, and the evaluation hook at the end of aeot run."""

import json
import re
import shutil
from pathlib import Path

import pytest
import torch

from aeot.cli import main


def test_run_ends_with_an_evaluation_and_a_report_whose_figures_exist(tiny_run):
    ev = json.loads((tiny_run / "metrics.json").read_text())["evaluation"]
    rows = {r["row"]: r for r in ev["spaces"]["classifier"]["rows"]}
    assert set(rows) == {"generated", "generated vs real A", "real B (floor)", "real B blurred",
                         "real B without class 0"}
    # the floor and the generated row it bounds are at the same n (issue 18 item 6)
    assert rows["generated vs real A"]["n"] == rows["real B (floor)"]["n"] == "179 vs 179"
    assert rows["generated"]["n"] == "1000 vs 359"
    assert ev["latent"]["generated"]["n"] == ev["latent"]["training codes (reference)"]["n"]
    for r in rows.values():
        for key in ("fid", "precision", "recall", "kid", "inception_score", "classes_covered"):
            assert r[key] is not None, key
    assert rows["real B without class 0"]["classes_covered"] <= 9  # the removed class is gone
    assert ev["n_real"] == 359 and ev["latent"]["generated"]["ot_divergence"] > 0
    report = (tiny_run / "report.md").read_text()
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    for name in ("tsne_latents.png", "interp_latent.png", "interp_prior.png", "eval_samples.png",
                 "training_curve.png"):
        assert name in figures
    for name in figures:
        assert (tiny_run / name).is_file(), name
    assert "| real B (floor) |" in report
    # memorisation (issue 19 item 4): measured rows, with the real-data calibration row
    memo = ev["memorization"]
    assert memo["n_train"] == 300 and memo["n_generated"] == 1000 and memo["n_real"] == 180
    for key in ("generated", "real", "reconstructions", "latent_copies"):
        assert 0.0 <= memo[key] <= 1.0, key
    assert memo["real"] < 0.2 and memo["latent_copies"] == 0.0  # a Gaussian's codes are never training codes
    assert "| real held-out images (calibration) |" in report and "## Memorisation" in report


def test_evaluate_twice_uses_the_real_feature_cache_and_compare_writes_a_table(tiny_run, tmp_path, capsys):
    assert main(["evaluate", str(tiny_run), "--n", "200", "--device", "cpu"]) == 0
    ev = json.loads((tiny_run / "metrics.json").read_text())["evaluation"]
    assert ev["n_fake"] == 200 and ev["spaces"]["classifier"]["cache_hits"] == [False, False]
    assert main(["evaluate", str(tiny_run), "--n", "200", "--device", "cpu"]) == 0
    again = json.loads((tiny_run / "metrics.json").read_text())["evaluation"]
    assert again["spaces"]["classifier"]["cache_hits"] == [True, True]
    assert again["spaces"]["classifier"]["rows"] == ev["spaces"]["classifier"]["rows"]  # same seed, same numbers
    out = tmp_path / "cmp.md"
    assert main(["compare", str(tiny_run), str(tiny_run), "--out", str(out)]) == 0
    table = out.read_text()
    assert table.count(str(tiny_run)) == 2 and "FID classifier" in table
    assert "FID classifier" in capsys.readouterr().out


def test_user_errors_are_one_line_with_status_2(tiny_run, tmp_path, capsys, monkeypatch):
    import importlib.metadata

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    assert main(["evaluate", str(tiny_run), "--features", "inception", "--n", "50"]) == 2
    err = capsys.readouterr().err.strip()
    assert "aeot[inception]" in err and "\n" not in err
    assert main(["evaluate", str(tiny_run), "--n", "5"]) == 2
    assert "--n must be" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "nothing")]) == 2
    assert main(["compare", str(tmp_path)]) == 2
    monkeypatch.setenv("AEOT_CACHE", str(tmp_path / "empty-cache"))
    assert main(["evaluate", str(tiny_run), "--n", "50"]) == 2
    assert "aeot classifier train --data digits" in capsys.readouterr().err


@pytest.mark.slow
def test_run_trains_the_digits_classifier_when_none_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("AEOT_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "run"
    assert main(["run", "--data", "digits", "--epochs", "1", "--sampler", "gaussian", "--out", str(out),
                 "--device", "cpu"]) == 0
    ev = json.loads((out / "metrics.json").read_text())["evaluation"]
    assert (tmp_path / "cache" / "classifiers" / "digits.safetensors").is_file()
    assert ev["spaces"]["classifier"]["classifier"]["test_accuracy"] > 0.9
    assert any("trained by this run" in n for n in ev["notes"])


class PoolNet(torch.nn.Module):
    """A stand-in "Inception" for tests: the 3 x 8 x 8 pixels of the 299 px input (192 features)."""

    def forward(self, x):
        return torch.nn.functional.adaptive_avg_pool2d(x, 8).flatten(1)


def test_evaluate_with_own_inception_weights_adds_the_inception_space(tiny_run, tmp_path):
    weights = tmp_path / "pool.pt"
    torch.jit.save(torch.jit.script(PoolNet()), str(weights))
    assert main(["evaluate", str(tiny_run), "--features", "inception", "--inception-weights", str(weights),
                 "--n", "100", "--device", "cpu"]) == 0
    ev = json.loads((tiny_run / "metrics.json").read_text())["evaluation"]
    assert set(ev["spaces"]) == {"classifier", "inception"}
    rows = ev["spaces"]["inception"]["rows"]
    assert [r["row"] for r in rows][:3] == ["generated", "generated vs real A", "real B (floor)"]
    assert len(rows) == 5 and all(r["fid"] >= 0 and 0 <= r["precision"] <= 1 and 0 <= r["recall"] <= 1 for r in rows)
    assert "inception_score" not in rows[0]  # IS and coverage come from the classifier space only
    assert ev["spaces"]["inception"]["weights"] == str(weights)
    assert "Metrics: inception features" in (tiny_run / "report.md").read_text()


def test_inception_resize_conventions_have_their_own_cache_entries(tiny_run, tmp_path, capsys):
    weights = tmp_path / "pool.pt"
    torch.jit.save(torch.jit.script(PoolNet()), str(weights))
    base = ["evaluate", str(tiny_run), "--features", "inception", "--inception-weights", str(weights), "--n", "60",
            "--device", "cpu"]
    spaces = {}
    for resize in ("pytorch-fid", "fid-helper", "fid-helper"):
        assert main([*base, "--inception-resize", resize]) == 0
        spaces.setdefault(resize, []).append(json.loads((tiny_run / "metrics.json").read_text())["evaluation"]
                                             ["spaces"]["inception"])
    pt, (nv, nv_again) = spaces["pytorch-fid"][0], spaces["fid-helper"]
    assert pt["resize"] == "pytorch-fid" and nv["resize"] == "fid-helper"
    assert pt["cache_hits"] == nv["cache_hits"] == [False, False]  # not the other convention's features
    assert nv_again["cache_hits"] == [True, True] and nv_again["rows"] == nv["rows"]
    assert pt["rows"][0]["fid"] != nv["rows"][0]["fid"]
    assert "resized to 299 px by the fid-helper convention" in (tiny_run / "report.md").read_text()
    capsys.readouterr()
    assert main([*base, "--inception-resize", "bicubic"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--inception-resize must be one of pytorch-fid, fid-helper; got 'bicubic'" in err
