"""Shared fixtures of the run-directory tests: one tiny finished digits run, copied per test."""

import shutil
from pathlib import Path

import pytest

from aeot.cli import main


@pytest.fixture(scope="package")
def _tiny_run(tmp_path_factory, aeot_cache):
    out = tmp_path_factory.mktemp("eval") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AEOT_CACHE", str(aeot_cache))
        assert main(["run", "--data", "digits", "--image-size", "8", "--arch", "mlp", "--latent-dim", "4",
                     "--epochs", "1", "--n-train", "300", "--n-test", "40", "--n-samples", "16",
                     "--sampler", "gaussian", "--out", str(out), "--device", "cpu"]) == 0
    return out


@pytest.fixture
def tiny_run(_tiny_run, tmp_path):
    """A private copy of one finished (and evaluated) tiny digits run."""
    return Path(shutil.copytree(_tiny_run, tmp_path / "run"))
