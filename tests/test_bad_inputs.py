"""Bad inputs through the CLI (issue 18): each one exits 2 with one line on stderr and leaves the run
directory byte for byte as it was (names, contents and modes), or creates nothing.

One tiny finished digits run (1 epoch, 8 px, latent 4) is shared by the module and copied for
each test that damages or inspects it.
"""

import errno
import io
import json
import os
import pickle
import resource
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aeot.cli import main

TINY_AE = ["--data", "digits", "--image-size", "8", "--arch", "mlp", "--latent-dim", "4", "--epochs", "1",
           "--n-train", "300", "--n-test", "40", "--device", "cpu"]
TINY = [*TINY_AE, "--n-samples", "16"]
UMASK = 0o022


@pytest.fixture(scope="module")
def _finished(tmp_path_factory, aeot_cache):
    out = tmp_path_factory.mktemp("bad inputs") / "a run"  # spaces: the report must quote the path
    old = os.umask(UMASK)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("AEOT_CACHE", str(aeot_cache))
            assert main(["run", *TINY, "--sampler", "gaussian", "--out", str(out)]) == 0
    finally:
        os.umask(old)
    return out


@pytest.fixture
def run(_finished, tmp_path):
    """A private copy of the finished run (file modes kept)."""
    return Path(shutil.copytree(_finished, tmp_path / "run copy"))


def snapshot(d: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every path under ``d`` with its mode and (files) its bytes."""
    return {str(p.relative_to(d)): (p.stat().st_mode, p.read_bytes() if p.is_file() else None)
            for p in sorted(d.rglob("*"))} | {".": (d.stat().st_mode, None)}


def error_line(capsys) -> str:
    """The one stderr line of a failed command (no traceback, nothing else)."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("aeot: error: "), lines[0]
    return lines[0]


def refused(argv: list[str], capsys, *dirs: Path) -> str:
    """``main(argv)`` exits 2 with one line and leaves each of ``dirs`` exactly as it was."""
    before = [snapshot(d) for d in dirs]
    capsys.readouterr()
    assert main(argv) == 2
    line = error_line(capsys)
    assert [snapshot(d) for d in dirs] == before
    return line


def refused_new(argv: list[str], capsys, new: Path) -> str:
    """``main(argv)`` exits 2 with one line and creates nothing at ``new``."""
    capsys.readouterr()
    assert main(argv) == 2
    line = error_line(capsys)
    assert not new.exists(), sorted(p.name for p in new.iterdir()) if new.is_dir() else new
    return line


# ----------------------------------------------------------------------------- item 2: aeot sample
@pytest.mark.parametrize("n", ["-1", "0"])
def test_sample_with_a_bad_n_samples_keeps_the_fitted_sampler(run, capsys, n):
    line = refused(["sample", "--run", str(run), "--sampler", "kmeans", "--n-samples", n], capsys, run)
    assert "n_samples" in line and n in line


def test_sample_with_n_samples_abc_in_config_json(run, capsys):
    doc = json.loads((run / "config.json").read_text())
    doc["config"]["n_samples"] = "abc"
    (run / "config.json").write_text(json.dumps(doc))
    line = refused(["sample", "--run", str(run), "--sampler", "kmeans"], capsys, run)
    assert "'abc'" in line and "config.json" in line


def test_sample_with_an_autoencoder_of_another_latent_size(run, capsys):
    from aeot.nets import make_autoencoder
    from aeot.train.autoencoder import save_autoencoder

    save_autoencoder(run / "autoencoder.safetensors", make_autoencoder("mlp", image_shape=(1, 8, 8), latent_dim=6))
    line = refused(["sample", "--run", str(run), "--sampler", "kmeans"], capsys, run)
    assert "latent size 6" in line and "size 4" in line


@pytest.mark.parametrize("argv", [["--sampler", "kmeans", "--sampler-param", "bogus=1"],
                                  ["--sampler-param", "n_clusters"], ["--sampler", "kmeans", "--device", "cuda"]])
def test_sample_with_bad_sampler_settings(run, capsys, argv, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    refused(["sample", "--run", str(run), *argv], capsys, run)


def test_sample_run_and_its_old_name_out_both_work(run, capsys):
    assert main(["sample", "--run", str(run), "--sampler", "kmeans", "--sampler-param", "n_clusters=3",
                 "--device", "cpu"]) == 0
    assert json.loads((run / "config.json").read_text())["config"]["sampler"]["name"] == "kmeans"
    assert main(["sample", "--out", str(run), "--sampler", "gaussian", "--device", "cpu"]) == 0
    assert json.loads((run / "config.json").read_text())["config"]["sampler"]["name"] == "gaussian"
    assert "sampler: gaussian" in (run / "report.md").read_text()
    assert not [p for p in run.iterdir() if p.name.startswith(".")]  # no staging left behind


# ----------------------------------------------------------------------------- item 3: --resume
@pytest.mark.parametrize("argv, key, saved, now", [
    (["run", "--latent-dim", "8"], "model.latent_dim", "4", "8"),
    (["train-ae", "--data", "mnist"], "data.name", "'digits'", "'mnist'"),
    (["train-ae", "--seed", "3"], "train.seed", "0", "3"),
    (["run", "--sampler", "kmeans"], "sampler.name", "'gaussian'", "'kmeans'"),
])
def test_a_refused_resume_leaves_the_run_as_it_was(run, capsys, argv, key, saved, now):
    line = refused([*argv, "--out", str(run), "--resume", "--device", "cpu"], capsys, run)
    assert f"{key}={saved}" in line and f"{key}={now}" in line
    # ... and the run still resumes without edits
    assert main(["train-ae", "--out", str(run), "--resume", "--device", "cpu"]) == 0


def test_resume_removes_the_temporary_files_of_killed_runs(run):
    orphans = [run / ".checkpoint.safetensors.k1l2m3.tmp", run / ".tmpab12cd", run / ".report.md.x.tmp"]
    for p in orphans:
        p.write_bytes(b"half a file")
    (run / ".stage-q1w2e3").mkdir()
    (run / ".stage-q1w2e3" / "sampler.safetensors").write_bytes(b"staged")
    keep = run / "notes.tmp"  # not aeot's: stays
    keep.write_text("mine")
    before = (run / "autoencoder.safetensors").read_bytes()
    assert main(["train-ae", "--out", str(run), "--resume", "--device", "cpu"]) == 0
    assert not [p for p in run.iterdir() if p.name.startswith(".")]
    assert keep.read_text() == "mine"
    assert (run / "autoencoder.safetensors").read_bytes() == before  # finished: nothing retrained


# ----------------------------------------------------------------------------- item 4: OS and numeric faults
def _denied(*args, **kwargs):
    raise PermissionError(errno.EACCES, "Permission denied", kwargs.get("dir") or (args[0] if args else None))


@pytest.mark.parametrize("argv", [["sample", "--run", "{run}", "--sampler", "kmeans"],
                                  ["evaluate", "{run}", "--n", "40"],
                                  ["train-ae", "--out", "{run}", "--resume"]])
def test_a_read_only_run_directory(run, capsys, monkeypatch, argv):
    """Writes are refused as a read-only directory refuses them (simulated: root may write anywhere)."""
    import tempfile

    monkeypatch.setattr(tempfile, "mkstemp", _denied)
    monkeypatch.setattr(tempfile, "mkdtemp", _denied)
    line = refused([a.format(run=run) for a in argv] + ["--device", "cpu"], capsys, run)
    assert "Permission denied" in line and str(run) in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_really_read_only_run_directory(run, capsys):
    run.chmod(0o555)
    try:
        line = refused(["sample", "--run", str(run), "--sampler", "kmeans"], capsys, run)
    finally:
        run.chmod(0o755)
    assert "not writable" in line


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "disk is full"), (errno.EFBIG, "ulimit")])
def test_a_full_disk(run, capsys, monkeypatch, code, words):
    def full(fd):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fsync", full)  # every atomic write syncs before its rename
    line = refused(["sample", "--run", str(run), "--sampler", "kmeans", "--device", "cpu"], capsys, run)
    assert words in line


def test_a_file_size_limit_is_one_line_not_a_kill(run):
    """``ulimit -f``: SIGXFSZ is ignored, the write fails with EFBIG, the run stays as it was."""
    before = snapshot(run)
    limit = 4096  # bytes: report.md and the sampler are larger

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run([sys.executable, "-m", "aeot.cli", "sample", "--run", str(run), "--sampler", "kmeans",
                        "--device", "cpu"], capture_output=True, text=True, preexec_fn=small_files, env=env)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "ulimit" in r.stderr
    assert snapshot(run) == before


def test_out_naming_an_existing_file(tmp_path, capsys):
    f = tmp_path / "notes.txt"
    f.write_text("keep me")
    for argv in (["train-ae", *TINY_AE], ["run", *TINY]):
        line = refused([*argv, "--out", str(f)], capsys, tmp_path)
        assert "is a file" in line and str(f) in line


def test_compare_out_naming_a_directory(run, tmp_path, capsys):
    d = tmp_path / "tables"
    d.mkdir()
    line = refused(["compare", str(run), "--out", str(d)], capsys, run, d)
    assert "is a directory" in line


def test_a_diverging_training_is_one_line_and_leaves_no_directory(tmp_path, capsys):
    new = tmp_path / "diverged"
    line = refused_new(["train-ae", *TINY_AE, "--lr", "1e30", "--out", str(new)], capsys, new)
    assert "lower lr" in line


@pytest.mark.parametrize("text", ['{"config": []}', "[]", '"a string"', "42", "{not json",
                                  '{"config": {"data": []}}', '{"config": {"data": {"name": []}}}',
                                  '{"config": {"model": {"params": 3}}}', '{"config": {"train": {"epochs": "x"}}}'])
@pytest.mark.parametrize("cmd", [["sample", "--run", "{run}"], ["evaluate", "{run}"]])
def test_a_malformed_config_json_of_any_shape(run, capsys, text, cmd):
    (run / "config.json").write_text(text)
    line = refused([a.format(run=run) for a in cmd] + ["--device", "cpu"], capsys, run)
    assert "config.json" in line


def test_a_malformed_metrics_json(run, capsys, tmp_path):
    (run / "metrics.json").write_text("[1, 2]")
    for argv in (["sample", "--run", str(run), "--sampler", "kmeans"], ["compare", str(run)]):
        line = refused(argv + ([] if argv[0] == "compare" else ["--device", "cpu"]), capsys, run)
        assert "metrics.json" in line and "JSON object" in line


def test_a_genuine_bug_prints_a_traceback_and_asks_for_a_report(run, capsys, monkeypatch):
    import aeot.run.sample

    def bug(*a, **k):
        raise KeyError("an internal slip")

    monkeypatch.setattr(aeot.run.sample, "stage", bug)
    before = snapshot(run)
    assert main(["sample", "--run", str(run), "--sampler", "kmeans"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "an internal slip" in err and "please report it" in err.splitlines()[-1]
    assert snapshot(run) == before


# ----------------------------------------------------------------------------- item 6: compare at different n
def test_compare_marks_runs_evaluated_at_another_n(run, tmp_path, capsys):
    other = Path(shutil.copytree(run, tmp_path / "other"))
    assert main(["evaluate", str(other), "--n", "60", "--device", "cpu"]) == 0
    out = tmp_path / "cmp.md"
    assert main(["compare", str(run), str(other), "--out", str(out)]) == 0
    table = out.read_text()
    assert "| 1000 vs 359 |" in table and "| 60 vs 60 * |" in table and "do not compare" in table
    assert main(["compare", str(run), str(run), "--out", str(out)]) == 0
    assert "*" not in out.read_text()  # same n: nothing to mark


# ----------------------------------------------------------------------------- item 7: smaller ones
@pytest.mark.parametrize("argv, words", [
    (["--latent-dim", "0"], "latent_dim"), (["--seed", "-1"], "seed"), (["--n-samples", "0"], "n_samples"),
    (["--n-samples", "-1"], "n_samples"), (["--n-train", "0"], "n_train"), (["--epochs", "0"], "epochs"),
    (["--arch", "mlp", "--width", "0"], "width"),
])
def test_rejected_values_leave_no_directory(tmp_path, capsys, argv, words):
    new = tmp_path / "new"
    line = refused_new(["run", *TINY, *argv, "--out", str(new)], capsys, new)
    assert words in line


def test_config_of_any_file_name(run, tmp_path):
    mine = tmp_path / "my settings.json"
    shutil.copy(run / "config.json", mine)
    new = tmp_path / "again"
    assert main(["train-ae", "--config", str(mine), "--out", str(new), "--device", "cpu"]) == 0
    assert (new / "autoencoder.safetensors").read_bytes() == (run / "autoencoder.safetensors").read_bytes()


def test_report_quotes_paths_and_files_have_the_usual_mode(_finished):
    report = (_finished / "report.md").read_text()
    assert f"aeot run --config {shlex.quote(str(_finished / 'config.json'))} --out NEW_DIR" in report
    assert " " in str(_finished)  # the quoting matters here
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in _finished.iterdir() if p.is_file()}
    assert modes and set(modes.values()) == {0o666 & ~UMASK}, modes


def test_sdot_progress_shows_the_errors_against_their_tolerances():
    import torch

    from aeot.cli._common import TqdmProgress
    from aeot.ot import solve_semidiscrete

    stream = io.StringIO()
    bars = TqdmProgress(stream=stream, log=io.StringIO())
    solve_semidiscrete(torch.rand(20, 2, generator=torch.Generator().manual_seed(0)), tol=0.05, tol_max=0.7,
                       max_iter=300, progress=bars)  # the solver's own events carry the rule it stops on
    bars.close()
    text = stream.getvalue()
    assert "(stop <= 0.05)" in text and "(stop <= 0.7)" in text
    assert "/300" not in text and "%" not in text  # no progress fraction, no ETA towards max_iter
    assert "at most 300" in text


def test_help_explains_the_sdot_fields_and_the_run_option(capsys):
    with pytest.raises(SystemExit):
        main(["sample", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "95th percentile" in out and "--run RUN_DIR, --out RUN_DIR" in out


# ----------------------------------------------------------------------------- cases that already worked
def _idx(arr) -> bytes:
    arr = np.asarray(arr, dtype=np.uint8)
    return bytes([0, 0, 8, arr.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape) + arr.tobytes()


def _mnist_dir(d: Path) -> Path:
    d.mkdir()
    for split, n in (("train", 12), ("t10k", 4)):
        (d / f"{split}-images-idx3-ubyte").write_bytes(_idx(np.zeros((n, 28, 28))))
        (d / f"{split}-labels-idx1-ubyte").write_bytes(_idx(np.arange(n) % 10))
    return d


@pytest.mark.parametrize("damage, words", [
    (lambda d: (d / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 7), "train-images"),
    (lambda d: (d / "train-labels-idx1-ubyte").write_bytes(_idx(np.arange(5))), "train-labels"),  # count mismatch
    (lambda d: (d / "t10k-images-idx3-ubyte").unlink(), "t10k-images"),
    (lambda d: [(d / "train-images-idx3-ubyte").unlink(),
                (d / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b\x08 cut")], "gzip"),
])
def test_corrupt_or_missing_idx_files(tmp_path, capsys, damage, words):
    d = _mnist_dir(tmp_path / "mnist")
    damage(d)
    new = tmp_path / "new"
    line = refused_new(["train-ae", "--data", "mnist", "--data-dir", str(d), "--epochs", "1", "--out", str(new)],
                       capsys, new)
    assert words in line


def test_a_missing_data_directory(tmp_path, capsys):
    new = tmp_path / "new"
    line = refused_new(["train-ae", "--data", "mnist", "--data-dir", str(tmp_path / "nowhere"), "--out", str(new)],
                       capsys, new)
    assert "nowhere" in line


def test_an_unreadable_png_in_an_image_folder(tmp_path, capsys):
    from PIL import Image

    d = tmp_path / "faces"
    d.mkdir()
    for i in range(3):
        Image.new("RGB", (40, 40), (i * 50, 0, 0)).save(d / f"img{i}.png")
    (d / "img1.png").write_bytes(b"\x89PNG not really")
    new = tmp_path / "new"
    line = refused_new(["train-ae", "--data", "image-folder", "--data-dir", str(d), "--out", str(new)], capsys, new)
    assert "img1.png" in line


class _Payload:
    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_malicious_cifar_pickle_is_refused_and_never_runs(tmp_path, capsys):
    d = tmp_path / "cifar-10-batches-py"
    d.mkdir()
    rng = np.random.default_rng(0)
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        batch = {b"labels": [int(v) for v in rng.integers(0, 10, 3)],
                 b"data": rng.integers(0, 256, size=(3, 3072), dtype=np.uint8)}
        (d / name).write_bytes(pickle.dumps(batch, protocol=4))
    marker = tmp_path / "pwned"
    (d / "data_batch_3").write_bytes(pickle.dumps({b"labels": _Payload(marker), b"data": b""}, protocol=4))
    new = tmp_path / "new"
    line = refused_new(["train-ae", "--data", "cifar10", "--data-dir", str(tmp_path), "--out", str(new)], capsys, new)
    assert "data_batch_3" in line and "forbidden" in line
    assert not marker.exists()


@pytest.mark.parametrize("name", ["autoencoder.safetensors", "latents.safetensors", "sampler.safetensors"])
def test_a_corrupt_checkpoint_in_the_run(run, capsys, name):
    data = bytearray((run / name).read_bytes())
    (run / name).write_bytes(bytes(data[: len(data) // 2]))
    argv = (["evaluate", str(run), "--n", "40"] if name == "sampler.safetensors"
            else ["sample", "--run", str(run), "--sampler", "kmeans"])
    line = refused(argv + ["--device", "cpu"], capsys, run)
    assert name in line


@pytest.mark.parametrize("argv", [["sample", "--run", "{missing}"], ["evaluate", "{missing}"],
                                  ["refine", "{missing}"], ["train-ae", "--out", "{missing}", "--config",
                                                            "{missing}/config.json"]])
def test_a_missing_run_directory(tmp_path, capsys, argv):
    missing = tmp_path / "missing"
    refused_new([a.format(missing=missing) for a in argv], capsys, missing)
