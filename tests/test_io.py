import os
import stat

import pytest
import torch
from safetensors.torch import save_file

from aeot.errors import CheckpointError
from aeot.io import (
    atomic_path,
    atomic_write_bytes,
    flatten_state,
    load_checkpoint,
    load_module_state,
    save_checkpoint,
    unflatten_state,
)


def nested_state():
    return {
        "model": {"w": torch.arange(6.0).view(2, 3), "b": torch.zeros(3, dtype=torch.float64)},
        "optimizer": {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.ones(2)}},
                      "param_groups": [{"lr": 1e-3, "betas": [0.9, 0.999], "params": [0], "foreach": None}]},
        "epoch": 4,
        "history": {"loss": [1.0, 0.5]},
    }


def assert_same(a, b):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    else:
        assert a == b


def test_flatten_roundtrip_keeps_int_keys_and_dtypes():
    tensors, skeleton = flatten_state(nested_state())
    assert all(isinstance(t, torch.Tensor) for t in tensors.values())
    assert_same(unflatten_state(tensors, skeleton), nested_state())


def test_checkpoint_roundtrip(tmp_path):
    path = save_checkpoint(tmp_path / "c.safetensors", kind="Thing", state=nested_state(), config={"a": 1})
    state, meta = load_checkpoint(path, kind="Thing")
    assert_same(state, nested_state())
    assert meta["kind"] == "Thing" and meta["config"] == {"a": 1} and meta["aeot_version"]
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]  # no temp file left


def test_checkpoint_of_another_kind_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "c.safetensors", kind="Thing", state={"x": torch.ones(1)})
    with pytest.raises(CheckpointError, match="expected a 'Other'"):
        load_checkpoint(path, kind="Other")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_checkpoint_gives_one_line_error(tmp_path, damage):
    path = save_checkpoint(tmp_path / "c.safetensors", kind="Thing", state=nested_state())
    raw = path.read_bytes()
    path.write_bytes({"truncate": raw[: len(raw) // 2], "garbage": b"\x00" * 50 + raw[50:], "empty": b""}[damage])
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.safetensors")
    save_file({"x": torch.ones(2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(CheckpointError, match="not an aeot checkpoint"):
        load_checkpoint(tmp_path / "plain.safetensors")


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = atomic_write_bytes(tmp_path / "f.bin", b"old")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_module_state_mismatch_names_the_problem(tmp_path):
    a, b = torch.nn.Linear(3, 2), torch.nn.Linear(4, 2)
    with pytest.raises(CheckpointError, match="shape of weight"):
        load_module_state(b, a.state_dict(), path=tmp_path / "x", what="autoencoder")
    with pytest.raises(CheckpointError, match="missing"):
        load_module_state(torch.nn.Sequential(a), a.state_dict(), path=tmp_path / "x", what="autoencoder")


@pytest.mark.parametrize("fault", [RuntimeError("encoder failed"), KeyboardInterrupt()])
def test_an_error_while_writing_removes_the_temporary_file(tmp_path, fault):
    path = atomic_write_bytes(tmp_path / "f.bin", b"old")
    with pytest.raises(type(fault)):
        with atomic_path(path) as tmp:
            tmp.write_bytes(b"half")
            raise fault
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_written_files_get_the_mode_of_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        a = atomic_write_bytes(tmp_path / "a.bin", b"x")
        b = save_checkpoint(tmp_path / "b.safetensors", kind="T", state={"w": torch.ones(2)})
    finally:
        os.umask(old)
    assert stat.S_IMODE(a.stat().st_mode) == stat.S_IMODE(b.stat().st_mode) == 0o640  # not mkstemp's 0600


def test_staged_files_arrive_together_or_not_at_all(tmp_path):
    from aeot.run.staging import remove_orphans, staged

    (tmp_path / "a.txt").write_text("old a")
    with pytest.raises(ValueError):
        with staged(tmp_path) as s:
            atomic_write_bytes(s.path("a.txt"), b"new a")
            raise ValueError("the second file failed")
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"] and (tmp_path / "a.txt").read_text() == "old a"
    with staged(tmp_path) as s:
        atomic_write_bytes(s.path("a.txt"), b"new a")
        assert s.find("a.txt") != tmp_path / "a.txt" and s.find("b.txt") == tmp_path / "b.txt"
        atomic_write_bytes(s.path("b.txt"), b"new b")
        assert (tmp_path / "a.txt").read_text() == "old a"  # nothing arrives before the end
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]
    assert (tmp_path / "a.txt").read_text() == "new a"
    # what killed processes leave: removed; files that are not aeot's: kept
    (tmp_path / ".a.txt.x1y2.tmp").write_text("")
    (tmp_path / ".tmpq9").write_text("")
    (tmp_path / ".stage-k3").mkdir()
    (tmp_path / "mine.tmp").write_text("")
    (tmp_path / ".hidden").write_text("")
    assert len(remove_orphans(tmp_path)) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden", "a.txt", "b.txt", "mine.tmp"]
