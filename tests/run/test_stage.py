"""Stage records and the report composed from them (issue 21: stages never write the report)."""

import json
from dataclasses import FrozenInstanceError

import pytest
import torch

from aeot.run.report import write_report
from aeot.run.rundir import RunDir
from aeot.run.sample import SampleRecord
from aeot.run.stage import StageContext, merge_records
from aeot.run.train_ae import TrainAERecord


def test_a_record_is_frozen_and_lists_its_fields_in_order_without_empty_optional_ones():
    rec = SampleRecord(sampler="gmm", sampler_fit_seconds=1.5, n_samples=16)
    assert list(rec.metrics()) == ["sampler", "sampler_fit_seconds", "n_samples"]
    assert SampleRecord(sampler="sdot", sampler_fit_seconds=1.0, n_samples=4, sampler_detail="tol 0.1").metrics()[
        "sampler_detail"] == "tol 0.1"
    with pytest.raises(FrozenInstanceError):
        rec.n_samples = 3
    with pytest.raises(FrozenInstanceError):
        StageContext().device = "cuda"


def test_later_records_override_earlier_keys():
    ae = TrainAERecord(train_mse=0.1, test_mse=0.2, train_seconds_this_call=3.0, n_train=10, n_test=5)
    merged = merge_records({"sampler": "old", "evaluation": {"x": 1}}, ae,
                           SampleRecord(sampler="gmm", sampler_fit_seconds=1.0, n_samples=4), None)
    assert merged["sampler"] == "gmm" and merged["test_mse"] == 0.2 and merged["evaluation"] == {"x": 1}


def test_the_report_is_a_function_of_the_records_and_the_run_files(tiny_run, _tiny_run):
    """Composing the report again from the records saved in metrics.json gives the same two files."""
    run = RunDir(tiny_run)  # a copy of _tiny_run: its report names the original's config.json
    report = run.report.read_bytes().replace(bytes(_tiny_run), bytes(tiny_run))
    metrics = run.metrics.read_bytes()
    saved = json.loads(metrics)
    saved.pop("aeot_version")
    assert write_report(run, saved) == run.report
    assert run.report.read_bytes() == report and run.metrics.read_bytes() == metrics
    assert not [p for p in tiny_run.iterdir() if p.name.startswith(RunDir.STAGE_PREFIX)]  # staged, then renamed


def test_aeot_run_writes_the_report_once_and_keeps_one_when_the_evaluation_fails(tmp_path, monkeypatch):
    import aeot.run.evaluate
    import aeot.run.report
    from aeot.cli import main
    from aeot.errors import AeotError

    calls = []
    write = aeot.run.report.write_report

    def counted(*args, **kwargs):
        calls.append(args[0])
        return write(*args, **kwargs)

    def broken(*args, **kwargs):
        raise AeotError("the evaluation broke")

    argv = ["run", "--data", "digits", "--image-size", "8", "--arch", "mlp", "--latent-dim", "4", "--epochs", "1",
            "--n-train", "120", "--n-test", "20", "--n-samples", "4", "--sampler", "gaussian", "--device", "cpu"]
    monkeypatch.setattr(aeot.run.evaluate, "write_report", counted)
    monkeypatch.setattr("aeot.run.pipeline.write_report", counted)
    assert main([*argv, "--out", str(tmp_path / "ok")]) == 0
    assert len(calls) == 1  # once, with the evaluation
    assert "evaluation" in json.loads((tmp_path / "ok" / "metrics.json").read_text())

    monkeypatch.setattr(aeot.run.evaluate, "stage", broken)
    assert main([*argv, "--out", str(tmp_path / "bad")]) == 2
    saved = json.loads((tmp_path / "bad" / "metrics.json").read_text())
    assert "evaluation" not in saved and saved["n_train"] == 120 and (tmp_path / "bad" / "report.md").is_file()


def test_a_killed_sdot_fit_resumes_from_the_run_and_its_state_file_goes_once_saved(tiny_run, monkeypatch):
    """The sample stage hands the sampler run.sampler_fit: a rerun after a kill carries the solve on."""
    import dataclasses

    import aeot.ot._sdot_checkpoint as ck
    from aeot.run.config import SamplerConfig, read_run_config
    from aeot.run.pipeline import resample_run
    from aeot.samplers import load_sampler

    monkeypatch.setattr(ck.SolveCheckpoint, "due", lambda self: True)  # save after every iteration
    run = RunDir(tiny_run)
    cfg = dataclasses.replace(read_run_config(run.config),
                              sampler=SamplerConfig(name="sdot", params={"tol": 0.1, "epsilon": 0.0}))

    class Killed(Exception):
        pass

    def kill_at_4(ev):
        if ev.get("event") == "step" and ev.get("task") == "sdot" and ev.get("step") == 4:
            raise Killed

    with pytest.raises(Killed):
        resample_run(run, cfg, StageContext(progress=kill_at_4))
    assert run.sampler_fit.is_file()
    resample_run(run, cfg)
    assert not run.sampler_fit.exists()
    resumed = load_sampler(run.sampler).result_
    fresh = resample_run(run, cfg)  # no state file now: a whole fit from the start
    again = load_sampler(run.sampler).result_
    assert fresh.sample.sampler == "sdot"
    assert torch.equal(resumed.potential, again.potential) and resumed.n_iter == again.n_iter
