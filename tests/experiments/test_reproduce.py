"""aeot reproduce: every row evaluated alike, stages reused on rerun, targets checked, clear errors."""

import json

import pytest

from aeot.cli import main
from aeot.errors import ConfigError
from aeot.experiments.reproduce import preset_config, reproduce
from aeot.experiments.reproduce_table import PAPER_RATIO, check_targets

TINY = dict(n_train=300, image_size=8, mlp_epochs=1, mlp_latent=4, conv_arch="mlp", conv_latent=4, conv_epochs=1,
            ae_batch_size=64, samplers={"sdot": {"max_iter": 20}, "ottrans": {"steps": 20}, "otgen": {"steps": 20},
                                        "kantorovich": {"steps": 20, "hidden": [16]},
                                        "gaussian": {}, "gmm": {"n_components": 2}},
            conv_sampler={"max_iter": 20}, refine_epochs=1, n_eval=40,
            baselines={name: {"epochs": 1, "arch": "mlp", "latent_dim": 4} for name in ("vae", "wae-mmd", "gan", "wgan", "wgan-gp")})
ROWS = ["True Images", "AE-OTgen", "AE-OTtrans", "AE-OT (Liu et al., 004)", "AE-OT (semi-discrete, 000)", "AE-OT-GAN",
        "WAE-MMD", "VAE", "GAN", "WGAN", "WGAN-GP"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce") / "out"
    events = []
    results = reproduce(preset_config("digits", "budget", **TINY), out, command="pytest", progress=events.append)
    return out, results, events


def test_the_table_has_every_row_with_measured_values_and_a_grid(tiny):
    out, results, _ = tiny
    methods = [r["method"] for r in results.rows]
    assert methods[: len(ROWS)] == ROWS
    for r in results.rows:
        assert r["FID_floor_n"] is not None and r["FID_floor_n"] >= 0, r["method"]  # every row at the floor's n
        assert r["method"] == "True Images" or r["FID"] >= 0, r["method"]
        assert r["IS"] >= 1.0 - 1e-6, r["method"]  # IS is at least 1 by definition
        assert 1 <= r["classes_covered"] <= 10
    by = {r["method"]: r for r in results.rows}
    assert by["True Images"]["paper_IS"] == 9.86 and by["AE-OTgen"]["paper_IS"] == 9.52  # MNIST column for digits
    assert set(by["AE-OT-GAN"]["train_seconds"]) == {"autoencoder", "sampler", "refine"}
    table = (out / "table.md").read_text()
    for m in ROWS:
        assert f"| {m} |" in table
    assert by["AE-OT (Liu et al., 004)"]["paper_IS"] == 6.89 and by["WGAN"]["paper_IS"] == 6.90
    assert by["AE-OT (semi-discrete, 000)"]["paper_IS"] is None and by["WGAN-GP"]["paper_IS"] is None
    for m in ("AE-OT (semi-discrete, 000)", "AE-OT-GAN", "AE-OT (conv AE: AE-OT-GAN at epoch 0)"):
        assert by[m]["latent_map"].startswith("extended map 'paper'"), m  # each AE-OT row names its map
        assert f"{m}: extended map 'paper'" in table
    for r in results.rows:  # issue 19: the memorisation measure in every row, calibrated by the real one
        assert 0.0 <= r["near_copies"] <= 1.0, r["method"]
    assert 0.0 <= by["AE-OT (semi-discrete, 000)"]["latent_copies"] <= 1.0 and "| near-copies |" in table
    for name in ("true-images", "ae-otgen", "ae-ot-gan", "wgan", "wgan-gp", "vae"):
        assert (out / "grids" / f"{name}.png").is_file(), name
    assert len(results.targets) == 3 and all(isinstance(t["met"], bool) for t in results.targets)
    assert results.header == table.split("\n\n")[1] and results.table == out / "table.md"  # what the CLI prints
    assert json.loads((out / "results.json").read_text())["rows"] == json.loads(json.dumps(results.rows))


def test_a_rerun_reuses_every_stage_and_other_settings_are_refused(tiny):
    out, _, _ = tiny
    events = []
    again = reproduce(preset_config("digits", "budget", **TINY), out, command="pytest", progress=events.append)
    started = [e["message"] for e in events if e.get("stage") == "reproduce" and "starting" in e.get("message", "")]
    assert started == []  # nothing recomputed
    assert [r["FID"] for r in again.rows] == [r["FID"] for r in tiny[1].rows]
    with pytest.raises(ConfigError, match="mlp_epochs"):
        reproduce(preset_config("digits", "budget", **{**TINY, "mlp_epochs": 2}), out)


def test_targets_are_checked_against_the_measured_rows():
    def row(method, is_, fid):
        return {"method": method, "IS": is_, "FID": fid}

    rows = [row("True Images", 10.0, 1.0), row("AE-OTgen", 9.0, 20.0), row("AE-OT (semi-discrete, 000)", 6.0, 30.0),
            row("AE-OT-GAN", 7.0, 10.0), row("GAN", 5.0, 12.0), row("VAE", 4.0, 40.0)]
    ratio, non_adv, fid = check_targets(rows)
    assert ratio["met"] and "AE-OTgen" in ratio["measured"]  # 0.9 >= 0.871
    assert non_adv["met"] and non_adv["informational"] and fid["met"]
    rows[1]["IS"] = PAPER_RATIO * 10.0 - 0.01
    rows[3]["IS"] = 1.0
    rows[4]["FID"] = 9.0
    ratio, non_adv, fid = check_targets(rows)
    assert not ratio["met"] and not fid["met"] and "GAN" in fid["measured"]
    assert not non_adv["met"] and "AE-OTgen:" in non_adv["measured"]  # 8.70 / 10 < 0.871


def test_presets_and_bad_values():
    fm = preset_config("fashion-mnist", "budget")
    full = preset_config("fashion-mnist", "full")
    assert full.refine_epochs == 500 and full.samplers["otgen"]["steps"] == 10000  # the papers' values
    assert fm.n_train is not None and fm.baselines["gan"]["arch"] == "infogan" and fm.baselines["vae"]["arch"] == "mlp"
    with pytest.raises(ConfigError, match="preset"):
        preset_config("digits", "huge")
    with pytest.raises(ConfigError, match="n_eval"):
        preset_config("digits", "budget", n_eval=0)


def test_cli_bad_values_exit_2_with_one_line(tmp_path, capsys):
    assert main(["reproduce", "digits", "--n-eval", "0", "--out", str(tmp_path / "o"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "n_eval" in err[0]
    for args in (["svhn"], ["digits", "--budget", "--full"]):  # argparse: usage error, status 2
        with pytest.raises(SystemExit) as e:
            main(["reproduce", *args])
        assert e.value.code == 2


def test_baseline_runs_are_evaluated_like_any_run(tiny):
    out, _, _ = tiny
    gan = json.loads((out / "baseline-gan" / "metrics.json").read_text())["evaluation"]
    vae = json.loads((out / "baseline-vae" / "metrics.json").read_text())["evaluation"]
    assert gan["latent"] == {} and any("no encoder" in n for n in gan["notes"])  # a GAN has no encoder
    assert vae["latent"]["generated"]["ot_divergence"] > 0 and "baseline 'vae'" in vae["source"]
    assert (out / "baseline-gan" / "report.md").is_file() and (out / "baseline-gan" / "interp_prior.png").is_file()
    refined = json.loads((out / "ae-conv" / "refine" / "evaluation.json").read_text())
    assert refined["generator"] == "refined"


def test_ctrl_c_says_how_to_continue(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("aeot.cli.reproduce.reproduce", interrupted)  # the name the command calls
    assert main(["reproduce", "digits", "--out", str(tmp_path / "o"), "--device", "cpu"]) == 130
    assert "run the same command again" in capsys.readouterr().err


@pytest.mark.parametrize("dataset", ["fashion-mnist", "mnist"])
def test_full_preset_solves_with_a_budget_that_follows_n(dataset):
    # issue 20 item 5: no sample cap (the budget follows n and tol, so the solve converges at 60,000
    # codes) and the tolerance chosen from the measured curve of docs/sdot-scale.md §4
    cfg = preset_config(dataset, "full")
    for params in (cfg.samplers["sdot"], cfg.conv_sampler):
        assert "max_samples" not in params and "max_iter" not in params
        assert params["tol"] == 0.3 and params["tol_max"] == 1.5
