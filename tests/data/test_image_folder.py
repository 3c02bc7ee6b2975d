import numpy as np
import pytest
import torch
from PIL import Image

from aeot.data import ConfigError, DatasetError, load_dataset
from aeot.data.folder import list_image_files, load_image

SIZES = [(40, 30), (64, 64), (100, 80), (30, 50), (70, 70), (90, 60), (33, 33), (120, 45), (50, 52), (81, 64)]


def make_folder(root, colours=None):
    """Ten solid-colour images of different sizes (png and jpg, some in a subfolder)."""
    rng = np.random.default_rng(0)
    colours = colours or [tuple(int(c) for c in rng.integers(0, 256, 3)) for _ in SIZES]
    paths = []
    for i, ((w, h), col) in enumerate(zip(SIZES, colours)):
        sub = root / ("b" if i % 3 == 0 else "")
        sub.mkdir(parents=True, exist_ok=True)
        p = sub / f"img{i:02d}.png"
        Image.new("RGB", (w, h), col).save(p)
        paths.append(p)
    return paths, colours


def test_loads_resized_rgb_images_in_sorted_order(tmp_path):
    make_folder(tmp_path)
    (tmp_path / "notes.txt").write_text("not an image")
    Image.new("L", (20, 20), 128).save(tmp_path / "zz_grey.JPG")  # greyscale, upper-case suffix
    files = list_image_files(tmp_path)
    assert len(files) == 11 and files[-1].name == "zz_grey.JPG"
    assert [f.relative_to(tmp_path).as_posix() for f in files] == sorted(f.relative_to(tmp_path).as_posix() for f in files)

    train = load_dataset("image-folder", data_dir=tmp_path)
    test = load_dataset("image-folder", split="test", data_dir=tmp_path)
    assert train.x.shape == (10, 3, 64, 64) and test.x.shape == (1, 3, 64, 64)  # last floor(11/10)=1 file is test
    assert train.y is None and train.image_shape == (3, 64, 64) and train.x.dtype == torch.float32
    assert 0 <= train.x.min() and train.x.max() <= 1
    # a solid colour stays that colour; grey converts to RGB
    assert torch.allclose(test.x, torch.full_like(test.x, 128 / 255), atol=2 / 255)
    small = load_dataset("image-folder", data_dir=tmp_path, image_size=32)
    assert small.x.shape == (10, 3, 32, 32)
    assert set(train.meta["first_files"]).isdisjoint(test.meta["first_files"])


def test_solid_colours_survive_crop_and_resize(tmp_path):
    paths, colours = make_folder(tmp_path)
    for p, col in zip(paths, colours):
        arr = load_image(p, 64)
        assert arr.shape == (3, 64, 64) and arr.dtype == np.uint8
        assert np.abs(arr.astype(int) - np.array(col)[:, None, None]).max() <= 1


def test_centre_crop(tmp_path):
    # a 90x30 image: black | white | black thirds; the centred 30x30 square is all white
    im = np.zeros((30, 90, 3), np.uint8)
    im[:, 30:60] = 255
    Image.fromarray(im).save(tmp_path / "a.png")
    assert load_image(tmp_path / "a.png", 32).min() >= 250
    assert load_image(tmp_path / "a.png", 32, crop=30).min() >= 250
    with pytest.raises(DatasetError, match="crop=40"):
        load_image(tmp_path / "a.png", 32, crop=40)


def test_n_subset_is_chosen_before_decoding(tmp_path):
    make_folder(tmp_path)
    (tmp_path / "b" / "img03.png").write_bytes(b"broken")  # only decoded if chosen
    files = [f.relative_to(tmp_path).as_posix() for f in list_image_files(tmp_path)]
    picks = {}
    for seed in range(6):
        try:
            ds = load_dataset("image-folder", data_dir=tmp_path, n=3, seed=seed)
        except DatasetError:
            continue
        assert ds.x.shape == (3, 3, 64, 64)
        picks[seed] = ds.meta["first_files"]
        assert all(f in files[:9] for f in picks[seed])
    assert picks and len({tuple(v) for v in picks.values()}) > 1
    with pytest.raises(ConfigError) as e:
        load_dataset("image-folder", data_dir=tmp_path, n=10)
    assert "n=10" in str(e.value) and "9" in str(e.value)


def test_unreadable_image_is_named(tmp_path):
    make_folder(tmp_path)
    bad = tmp_path / "b" / "img00.png"
    bad.write_bytes(b"\x89PNG definitely not a png")
    with pytest.raises(DatasetError) as e:
        load_dataset("image-folder", data_dir=tmp_path)
    msg = str(e.value)
    assert "\n" not in msg and str(bad) in msg and "Pillow cannot read" in msg


def test_empty_or_missing_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(DatasetError) as e:
        load_dataset("image-folder", data_dir=tmp_path)
    assert str(tmp_path) in str(e.value) and "no .jpg" in str(e.value)
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset("image-folder", data_dir=tmp_path / "absent")
    with pytest.raises(DatasetError, match="--data-dir"):
        load_dataset("image-folder")
    with pytest.raises(ConfigError, match="image_size"):
        load_dataset("image-folder", data_dir=tmp_path, image_size=96)


@pytest.mark.parametrize("size", [32, 64, 128, 256])
def test_every_folder_size_keeps_a_solid_colour(tmp_path, size):
    paths, colours = make_folder(tmp_path)
    test = load_dataset("image-folder", split="test", data_dir=tmp_path, image_size=size)
    assert test.x.shape == (1, 3, size, size) and test.meta["image_size"] == size
    last = paths.index(list_image_files(tmp_path)[-1])  # the last sorted file is the test split
    want = torch.tensor(colours[last], dtype=torch.float32).view(1, 3, 1, 1) / 255
    assert torch.allclose(test.x, want.expand_as(test.x), atol=2 / 255)
