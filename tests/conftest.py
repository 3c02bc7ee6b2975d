
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
