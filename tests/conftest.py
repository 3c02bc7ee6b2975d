
import importlib.util
from pathlib import Path

import pytest
import torch

# Tests run single-threaded so results are bitwise reproducible across processes.
torch.set_num_threads(1)


@pytest.fixture
def rng():
    return torch.Generator().manual_seed(1234)


@pytest.fixture(autouse=True)
def _no_user_data_env(monkeypatch):
    """A user's AEOT_DATA must not leak into tests."""
    monkeypatch.delenv("AEOT_DATA", raising=False)
    yield


@pytest.fixture(scope="session")
def aeot_cache(tmp_path_factory):
    """A per-session cache folder holding a tiny digits classifier, so that `aeot run` in tests
    evaluates without first training the real one (that path is a slow test)."""
    import os

    from aeot.metrics import ClassifierConfig, train_dataset_classifier

    path = tmp_path_factory.mktemp("aeot-cache")
    old = os.environ.get("AEOT_CACHE")
    os.environ["AEOT_CACHE"] = str(path)
    try:
        train_dataset_classifier("digits", n_train=400, config=ClassifierConfig(width=4, feature_dim=16, epochs=2))
    finally:
        os.environ.pop("AEOT_CACHE") if old is None else os.environ.__setitem__("AEOT_CACHE", old)
    return path


@pytest.fixture(autouse=True)
def _private_cache(monkeypatch, aeot_cache):
    """Classifiers and cached real features go to the session folder, never ~/.cache/aeot."""
    monkeypatch.setenv("AEOT_CACHE", str(aeot_cache))
    yield


@pytest.fixture
def benchmark_script():
    """Load a script of benchmarks/ as a module (they are not part of the package)."""
    def load(name: str):
        path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    return load
