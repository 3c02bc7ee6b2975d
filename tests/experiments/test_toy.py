"""The 2-D table command (Zhang et al. (2019) §4): protocol, resume, outputs, CLI errors."""

import json

import pytest
import torch

from aeot.cli import main
from aeot.errors import ConfigError
from aeot.experiments.toy import ToyConfig, batched_divergence, real_batches, run_toy


def small(**kw):
    base = dict(datasets=["moons"], methods=["Data", "Data (i.i.d.)"], seeds=[0, 1], n_train=600,
                n_batches=3, batch_size=64, steps=5)
    return ToyConfig(**{**base, **kw})


def test_real_batches_are_independent_generator_calls():
    cfg = small()
    a = real_batches("moons", cfg, 0, split="test")
    b = real_batches("moons", cfg, 0, split="train")
    assert a.shape == (cfg.n_batches * cfg.batch_size, 2)
    assert not torch.equal(a, b)
    assert torch.equal(a, real_batches("moons", cfg, 0, split="test"))


def test_batched_divergence_is_zero_on_identical_batches_and_positive_otherwise():
    x = torch.randn(256, 2, dtype=torch.float64)
    assert batched_divergence(x, x, 64) == [0.0] * 4
    assert all(v > 0 for v in batched_divergence(x, x + 0.1, 64))


def test_data_rows_and_outputs(tmp_path):
    res = run_toy(small(), tmp_path)
    s = res.summary
    # Stratified real batches (as make_moons builds them) match each other better than i.i.d. ones.
    assert s["Data"]["moons"]["mean"] < s["Data (i.i.d.)"]["moons"]["mean"]
    assert s["Data"]["moons"]["paper"] == 0.070 and s["Data (i.i.d.)"]["moons"]["paper"] is None
    for f in ["results.json", "table.md", "cells.json", "scatter_data.png", "scatter_data_i_i_d.png"]:
        assert (tmp_path / f).exists(), f
    table = (tmp_path / "table.md").read_text()
    assert "| Data |" in table and "0.070" in table
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["config"]["n_batches"] == 3 and len(saved["cells"]) == 4


def test_resume_skips_done_cells_and_refuses_other_settings(tmp_path):
    run_toy(small(seeds=[0]), tmp_path / "a")
    with pytest.raises(ConfigError, match="--resume"):
        run_toy(small(seeds=[0]), tmp_path / "a")
    with pytest.raises(ConfigError, match="other settings"):
        run_toy(small(seeds=[0, 1]), tmp_path / "a", resume=True)
    before = json.loads((tmp_path / "a" / "cells.json").read_text())["cells"]
    res = run_toy(small(seeds=[0]), tmp_path / "a", resume=True)
    assert [c["divergence"] for c in res.cells] == [c["divergence"] for c in before]
    # Rows may be added to a finished run; the done cells are kept.
    res = run_toy(small(seeds=[0], methods=["Data", "Data (i.i.d.)", "Cluster (k=8)"]), tmp_path / "a", resume=True)
    assert {c["method"] for c in res.cells} == {"Data", "Data (i.i.d.)", "Cluster (k=8)"}
    assert res.cells[0]["divergence"] == before[0]["divergence"]


@pytest.mark.parametrize("kw, word", [({"steps": 0}, "steps"), ({"seeds": []}, "seeds"),
                                      ({"datasets": ["swissroll"]}, "swissroll"),
                                      ({"methods": ["VAE"]}, "VAE"), ({"factor": 1.5}, "factor")])
def test_bad_settings_name_the_value(kw, word):
    with pytest.raises(ConfigError, match=word):
        small(**kw).validate()


def test_cli_toy_writes_table_and_rejects_bad_values(tmp_path, capsys):
    out = tmp_path / "t"
    args = ["toy", "--out", str(out), "--datasets", "circles", "--methods", "Data", "--seeds", "0",
            "--n-batches", "2", "--batch-size", "32", "--n-train", "200"]
    assert main(args) == 0
    assert "| Data |" in capsys.readouterr().out
    assert main(args) == 2
    assert "--resume" in capsys.readouterr().err
    assert main([*args[:-6], "--n-batches", "0"]) == 2


def test_toy_probe_scores_one_cell_like_the_table(capsys, benchmark_script):
    """benchmarks/toy_probe.py: one fit, scored for i.i.d. and Sobol prior draws by the table's
    protocol; a sampler without qmc_sample gets the i.i.d. score only."""
    mod = benchmark_script("toy_probe")
    mod.main(["moons", "ottrans", '{"hidden": [32, 32], "n_pairs": 256}', "--steps", "5", "--seed", "1"])
    out = json.loads(capsys.readouterr().out)
    assert out["seed"] == 1 and out["steps"] == 5 and out["params"] == {"hidden": [32, 32], "n_pairs": 256}
    assert 0 < out["iid"] < 5 and 0 < out["sobol"] < 5
    mod.main(["circles", "gaussian"])
    out = json.loads(capsys.readouterr().out)
    assert 0 < out["iid"] < 5 and "sobol" not in out
    gap = out["between_circles"]  # a Gaussian fills the empty ring between the circles
    assert set(gap) == {"iid", "real"} and gap["iid"] > 0.1 > gap["real"]
    for bad in (["moons", "kmeans", "{bad"], ["moons", "kmeans", "[1]"], ["moons", "nosuch"],
                ["moons", "kmeans", '{"n_clusters": -1}']):
        with pytest.raises(SystemExit) as exc:
            mod.main(bad)
        assert exc.value.code == 2
    assert "params must be a JSON object" in capsys.readouterr().err


def test_toy_exact_map_scores_the_ot_map_and_refuses_bad_sizes(capsys, benchmark_script):
    """benchmarks/toy_exact_map.py: the exact OT map from m prior draws to m real points, scored by
    the table's protocol; Sobol draws (stratified batches) score below i.i.d. draws."""
    mod = benchmark_script("toy_exact_map")
    scores = {}
    for prior in ("sobol", "iid"):
        mod.main(["moons", "--m", "512", "--seeds", "0", "1", "--n-batches", "4", "--prior", prior])
        lines = capsys.readouterr().out.strip().splitlines()
        assert len(lines) == 4 and lines[-1].startswith(f"| exact OT map ({prior} prior, m = 512) | moons |")
        rows, summary = [json.loads(s) for s in lines[:2]], json.loads(lines[2])
        assert [r["seed"] for r in rows] == [0, 1] and all(r["m"] == 512 and r["n_batches"] == 4 for r in rows)
        assert summary["mean"] == pytest.approx(sum(r["divergence"] for r in rows) / 2, abs=1e-4)
        scores[prior] = summary["mean"]
    assert 0 < scores["sobol"] < 0.8 * scores["iid"]
    for bad in (["moons", "--m", "511", "--n-batches", "4"], ["moons", "--n-batches", "0"], ["spirals"]):
        with pytest.raises(SystemExit) as exc:
            mod.main(bad)
        assert exc.value.code == 2
    assert "--m must be at least n_batches * 128 = 512" in capsys.readouterr().err


def test_the_ae_ot_row_names_its_extended_map(tmp_path):
    res = run_toy(small(methods=["AE-OT"], seeds=[0], sdot_n_train=300), tmp_path)
    assert res.cells[0]["params"]["latent_map"].startswith("extended map 'paper'")
    assert "AE-OT: extended map 'paper'" in (tmp_path / "table.md").read_text()
