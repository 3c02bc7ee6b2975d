import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from aeot.data import DatasetError, load_dataset
from aeot.data.cifar import safe_unpickle


def batch(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {b"batch_label": b"training batch", b"labels": [int(v) for v in rng.integers(0, 10, n)],
            b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
            b"filenames": [f"img_{i}.png".encode() for i in range(n)]}


def dump(path: Path, obj) -> None:
    # protocol 4: numpy arrays pickle through numpy's _reconstruct, as in the published files
    path.write_bytes(pickle.dumps(obj, protocol=4))


def make_cifar(root: Path, sub: bool = True) -> dict:
    d = root / "cifar-10-batches-py" if sub else root
    d.mkdir(parents=True, exist_ok=True)
    batches = {f"data_batch_{i}": batch(3, i) for i in range(1, 6)}
    batches["test_batch"] = batch(4, 99)
    for name, b in batches.items():
        dump(d / name, b)
    return batches


def one_line(e) -> str:
    msg = str(e.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize("sub", [True, False])
def test_loads_a_fake_batch_directory(tmp_path, sub):
    batches = make_cifar(tmp_path, sub)
    tr = load_dataset("cifar10", data_dir=tmp_path)
    te = load_dataset("cifar10", split="test", data_dir=tmp_path)
    assert tr.x.shape == (15, 3, 32, 32) and te.x.shape == (4, 3, 32, 32) and tr.image_shape == (3, 32, 32)
    data = np.concatenate([batches[f"data_batch_{i}"][b"data"] for i in range(1, 6)])
    want = torch.from_numpy(data.reshape(-1, 3, 32, 32).astype(np.float32) / 255)
    assert torch.equal(tr.x, want)
    # channel-major rows: the first 1024 values are the red plane
    assert torch.equal(te.x[0, 0].flatten() * 255, torch.from_numpy(batches["test_batch"][b"data"][0, :1024]).float())
    assert te.y.tolist() == batches["test_batch"][b"labels"] and tr.y.dtype == torch.int64
    assert len(load_dataset("cifar10", data_dir=tmp_path, n=5, seed=1)) == 5


class WritesMarker:
    """Unpickling this calls open(marker, "w"), which creates the file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_code_execution_payload_is_refused_and_never_runs(tmp_path):
    make_cifar(tmp_path)
    marker = tmp_path / "pwned"
    evil = batch(4, 1)
    evil[b"labels"] = WritesMarker(marker)
    payload = pickle.dumps(evil, protocol=4)
    # control: the ordinary unpickler really does run it
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(WritesMarker(control), protocol=4)).close()
    assert control.exists()

    target = tmp_path / "cifar-10-batches-py" / "test_batch"
    target.write_bytes(payload)
    with pytest.raises(DatasetError) as e:
        load_dataset("cifar10", split="test", data_dir=tmp_path)
    msg = one_line(e)
    assert str(target) in msg and "forbidden global" in msg and "open" in msg
    assert not marker.exists()


@pytest.mark.parametrize("obj, forbidden", [
    ({b"data": os.system, b"labels": []}, "system"),
    ({b"data": np.zeros((1, 3072), np.uint8), b"labels": [np.int64(1)]}, "scalar"),  # numpy scalars: not needed
    (WritesMarker("x"), "open"),
])
def test_other_globals_are_refused(tmp_path, obj, forbidden):
    p = tmp_path / "data_batch_1"
    dump(p, obj)
    with pytest.raises(DatasetError) as e:
        safe_unpickle(p)
    msg = one_line(e)
    assert str(p) in msg and forbidden in msg


def test_bad_structures(tmp_path):
    make_cifar(tmp_path)
    d = tmp_path / "cifar-10-batches-py"
    cases = [
        (b"\x80\x04garbage", "not a readable pickle"),
        (pickle.dumps([1, 2, 3], protocol=4), "expected a dict"),
        (pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, protocol=4), "(N, 3072)"),
        (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, protocol=4), "2 images but 1 labels"),
        (pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [10]}, protocol=4), "outside 0..9"),
        (pickle.dumps({b"labels": [0]}, protocol=4), "b'data'"),
    ]
    for data, words in cases:
        (d / "test_batch").write_bytes(data)
        with pytest.raises(DatasetError) as e:
            load_dataset("cifar10", split="test", data_dir=tmp_path)
        msg = one_line(e)
        assert str(d / "test_batch") in msg and words in msg, msg


def test_missing_files_and_directories(tmp_path):
    with pytest.raises(DatasetError) as e:
        load_dataset("cifar10")
    assert "--data-dir" in one_line(e) and "AEOT_DATA" in str(e.value)
    make_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DatasetError) as e:
        load_dataset("cifar10", data_dir=tmp_path)
    assert "data_batch_3" in one_line(e) and "not found" in str(e.value)
