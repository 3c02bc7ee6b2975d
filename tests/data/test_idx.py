import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from aeot.data import ConfigError, DatasetError, load_dataset, read_idx
from aeot.data import mnist as mnist_mod
from aeot.data.idx import IDX_IMAGES, IDX_LABELS, parse_idx, verify_md5

FASHION = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes(arr: np.ndarray) -> bytes:
    arr = np.asarray(arr, dtype=np.uint8)
    return bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def write(path: Path, data: bytes, gz: bool = False) -> Path:
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def make_split(d: Path, prefix: str, n: int, seed: int = 0, gz: bool = False):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    write(d / f"{prefix}-images-idx3-ubyte", idx_bytes(images), gz)
    write(d / f"{prefix}-labels-idx1-ubyte", idx_bytes(labels), gz)
    return images, labels


def one_line(e) -> str:
    msg = str(e.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize("gz", [False, True])
def test_loads_the_values_written(tmp_path, monkeypatch, gz):
    imgs, lbls = make_split(tmp_path, "train", 6, gz=gz)
    timgs, tlbls = make_split(tmp_path, "t10k", 3, seed=1, gz=gz)
    if gz:
        # Our .gz files are not the published ones, whose MD5s are known for MNIST ...
        with pytest.raises(DatasetError, match="checksum mismatch"):
            load_dataset("mnist", data_dir=tmp_path)
        monkeypatch.setitem(mnist_mod.KNOWN_MD5, "mnist", {})  # ... so forget them here
    tr = load_dataset("mnist", data_dir=tmp_path)
    te = load_dataset("mnist", split="test", data_dir=tmp_path)
    assert tr.x.shape == (6, 1, 28, 28) and te.x.shape == (3, 1, 28, 28) and tr.x.dtype == torch.float32
    assert torch.equal(tr.x, torch.from_numpy(imgs[:, None].astype(np.float32) / 255))
    assert torch.equal(te.y, torch.from_numpy(tlbls.astype(np.int64)))
    assert tr.y.dtype == torch.int64 and tr.n_classes == 10 and tr.image_shape == (1, 28, 28)
    suffix = ".gz" if gz else ""
    assert tr.meta["source"][0].endswith("train-images-idx3-ubyte" + suffix)
    # raw files: only .gz MD5s are known for MNIST, so they are format-checked only
    if not gz:
        assert all(s.startswith("unverified") for s in tr.meta["checksums"].values())
    big = load_dataset("mnist", data_dir=tmp_path, image_size=32)
    assert big.x.shape == (6, 1, 32, 32) and 0 <= big.x.min() and big.x.max() <= 1


def test_read_idx_is_a_pure_reader(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    p = write(tmp_path / "a-idx3-ubyte", idx_bytes(arr), gz=True)
    got = read_idx(p, magic=IDX_IMAGES)
    assert got.dtype == np.uint8 and np.array_equal(got, arr)
    assert np.array_equal(parse_idx(idx_bytes(np.array([3, 1, 4])), magic=IDX_LABELS), [3, 1, 4])


@pytest.mark.parametrize("case, data, words", [
    ("garbage", b"\x12\x34\x56\x78" + b"\x00" * 20, ["not an IDX file", "0x12345678"]),
    ("float", bytes([0, 0, 0x0D, 1, 0, 0, 0, 1]) + b"\x00" * 4, ["data type 0x0d"]),
    ("short", b"\x00\x00", ["truncated"]),
    ("header", bytes([0, 0, 8, 3]) + b"\x00" * 7, ["truncated IDX header"]),
])
def test_malformed_headers(tmp_path, case, data, words):
    p = write(tmp_path / "train-images-idx3-ubyte", data)
    with pytest.raises(DatasetError) as e:
        read_idx(p)
    msg = one_line(e)
    assert str(p) in msg
    for w in words:
        assert w in msg


def test_wrong_magic_for_the_file_kind(tmp_path):
    make_split(tmp_path, "train", 4)
    # a labels file holding images
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(np.zeros((4, 28, 28))))
    with pytest.raises(DatasetError) as e:
        load_dataset("mnist", data_dir=tmp_path)
    msg = one_line(e)
    assert "train-labels-idx1-ubyte" in msg and "0x00000803" in msg and "0x00000801" in msg


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_and_too_long_payloads(tmp_path, gz):
    imgs = np.zeros((4, 28, 28), dtype=np.uint8)
    make_split(tmp_path, "train", 4, gz=gz)
    p = write(tmp_path / "train-images-idx3-ubyte", idx_bytes(imgs)[:-10], gz)
    with pytest.raises(DatasetError) as e:
        load_dataset("mnist", data_dir=tmp_path)
    msg = one_line(e)
    assert str(p) in msg and "truncated IDX file" in msg and "expected 3136 bytes of data, found 3126" in msg
    assert "--data-dir" in msg
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(imgs) + b"\x00", gz)
    with pytest.raises(DatasetError, match="too long") as e:
        load_dataset("mnist", data_dir=tmp_path)
    assert str(p) in one_line(e)


def test_count_mismatch(tmp_path):
    make_split(tmp_path, "train", 5)
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(np.zeros(4)))
    with pytest.raises(DatasetError) as e:
        load_dataset("mnist", data_dir=tmp_path)
    msg = one_line(e)
    assert "train-images-idx3-ubyte" in msg and "5 images" in msg and "4 labels" in msg


def test_labels_outside_0_9(tmp_path):
    make_split(tmp_path, "train", 3)
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(np.array([1, 2, 12])))
    with pytest.raises(DatasetError, match="label 12") as e:
        load_dataset("mnist", data_dir=tmp_path)
    assert "train-labels-idx1-ubyte" in one_line(e)


@pytest.mark.parametrize("mangle", ["flip", "cut", "notgz"])
def test_corrupt_gzip(tmp_path, mangle):
    make_split(tmp_path, "train", 4, gz=True)
    p = tmp_path / "train-images-idx3-ubyte.gz"
    data = bytearray(p.read_bytes())
    if mangle == "flip":
        data[len(data) // 2] ^= 0xFF
        data[len(data) // 2 + 1] ^= 0xFF
    elif mangle == "cut":
        data = data[: len(data) // 2]
    else:
        data = bytearray(b"this is not gzip at all")
    p.write_bytes(bytes(data))
    with pytest.raises(DatasetError) as e:
        load_dataset("mnist", data_dir=tmp_path)
    msg = one_line(e)
    assert str(p) in msg and "gzip" in msg


def test_missing_directory_and_missing_file(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(DatasetError) as e:
        load_dataset("mnist", data_dir=missing)
    msg = one_line(e)
    assert str(missing) in msg and "does not exist" in msg and "--data-dir" in msg
    make_split(tmp_path, "train", 2)
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(DatasetError) as e:
        load_dataset("mnist", data_dir=tmp_path)
    msg = one_line(e)
    assert "train-labels-idx1-ubyte" in msg and "not found" in msg
    # the test split's files are looked up by their own names
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte"):
        load_dataset("mnist", split="test", data_dir=tmp_path)


def test_mnist_has_no_default_directory():
    with pytest.raises(DatasetError) as e:
        load_dataset("mnist")
    msg = one_line(e)
    assert "--data-dir" in msg and "AEOT_DATA" in msg


def test_missing_default_fashion_dir_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(mnist_mod.DEFAULT_DIRS, "fashion-mnist", str(tmp_path / "absent"))
    with pytest.raises(DatasetError) as e:
        load_dataset("fashion-mnist")
    msg = one_line(e)
    assert "absent" in msg and "dataset-fashion-mnist" in msg and "AEOT_DATA" in msg


def test_aeot_data_env_prefers_the_named_subdirectory(tmp_path, monkeypatch):
    make_split(tmp_path, "train", 3, seed=0)
    (tmp_path / "mnist").mkdir()
    make_split(tmp_path / "mnist", "train", 5, seed=1)
    monkeypatch.setenv("AEOT_DATA", str(tmp_path))
    ds = load_dataset("mnist")
    assert len(ds) == 5 and ds.meta["data_dir"] == str(tmp_path / "mnist") and ds.meta["data_dir_from"] == "AEOT_DATA"
    (tmp_path / "fashion-mnist").mkdir()
    with pytest.raises(DatasetError, match="fashion-mnist"):
        load_dataset("fashion-mnist")  # the subdirectory exists but is empty
    # no subdirectory for this name: AEOT_DATA itself; an explicit data_dir wins over the env
    assert len(load_dataset("mnist", data_dir=tmp_path)) == 3


# ----------------------------------------------------------------------------- checksums
def md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def test_verify_md5_rule():
    content = b"idx content"
    gz = gzip.compress(content)
    ok_gz = {"gz": md5(gz)}
    assert verify_md5("f.gz", gz, content, ok_gz).startswith("ok")
    assert verify_md5("f.gz", gz, content, {"gz": "0" * 32, "raw": md5(content)}).startswith("ok")
    assert verify_md5("f", content, content, {"raw": md5(content)}).startswith("ok")
    assert verify_md5("f", content, content, ok_gz).startswith("unverified")  # no MD5 applies to a raw file
    assert verify_md5("f.gz", gz, content, None).startswith("unverified")
    for path, fb, known in [("f.gz", gz, {"gz": "0" * 32}), ("f.gz", gz, {"gz": "0" * 32, "raw": "1" * 32}),
                            ("f", content, {"raw": "1" * 32}), ("f", content, {"gz": md5(gz), "raw": "1" * 32})]:
        with pytest.raises(DatasetError) as e:
            verify_md5(path, fb, content, known)
        msg = one_line(e)
        assert msg.startswith(f"{path}: MD5 checksum mismatch") and "corrupt or altered" in msg
        assert "verify=False" in msg


@pytest.mark.parametrize("gz", [False, True])
def test_known_checksums_pass_or_fail_in_the_loader(tmp_path, monkeypatch, gz):
    make_split(tmp_path, "train", 4, gz=gz)
    suffix = ".gz" if gz else ""
    img = tmp_path / f"train-images-idx3-ubyte{suffix}"
    lbl = tmp_path / f"train-labels-idx1-ubyte{suffix}"
    raw = lambda p: gzip.decompress(p.read_bytes()) if gz else p.read_bytes()  # noqa: E731
    table = {"train-images-idx3-ubyte": {"raw": md5(raw(img))}, "train-labels-idx1-ubyte": {"raw": md5(raw(lbl))}}
    monkeypatch.setitem(mnist_mod.KNOWN_MD5, "mnist", table)
    ds = load_dataset("mnist", data_dir=tmp_path)
    assert ds.meta["checksums"] == {img.name: "ok (md5 of decompressed content)",
                                    lbl.name: "ok (md5 of decompressed content)"}
    if gz:  # the original .gz MD5 matches too
        table["train-images-idx3-ubyte"] = {"gz": md5(img.read_bytes()), "raw": "0" * 32}
        assert load_dataset("mnist", data_dir=tmp_path).meta["checksums"][img.name] == "ok (md5 of .gz file)"

    # same shape, valid IDX, one pixel altered: the format checks pass, the checksum does not
    imgs = np.frombuffer(raw(img)[16:], dtype=np.uint8).reshape(4, 28, 28).copy()
    imgs[0, 0, 0] ^= 1
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(imgs), gz)
    with pytest.raises(DatasetError) as e:
        load_dataset("mnist", data_dir=tmp_path)
    msg = one_line(e)
    assert str(img) in msg and "checksum mismatch" in msg and "verify=False" in msg
    skipped = load_dataset("mnist", data_dir=tmp_path, verify=False)
    assert skipped.meta["checksums"][img.name] == "skipped" and skipped.x[0, 0, 0, 0] * 255 == imgs[0, 0, 0]
    with pytest.raises(ConfigError, match="verify"):
        load_dataset("mnist", data_dir=tmp_path, verify="no")


def test_table_holds_both_kinds_of_fashion_checksums():
    for stem, known in mnist_mod.KNOWN_MD5["fashion-mnist"].items():
        assert set(known) == {"gz", "raw"} and all(len(v) == 32 for v in known.values()), stem
    assert all(set(k) == {"gz"} for k in mnist_mod.KNOWN_MD5["mnist"].values())


@pytest.mark.skipif(not (FASHION / "t10k-images-idx3-ubyte.gz").is_file(), reason="dataset-fashion-mnist not installed")
def test_real_fashion_mnist_test_split():
    ds = load_dataset("fashion-mnist", split="test")
    assert ds.x.shape == (10000, 1, 28, 28) and ds.meta["data_dir_from"] == "default"
    assert ds.y.bincount().tolist() == [1000] * 10
    assert 0 <= ds.x.min() and ds.x.max() == 1.0
    assert all(s.startswith("ok") for s in ds.meta["checksums"].values()) and len(ds.meta["checksums"]) == 2
