import json

import pytest
import torch

from aeot.data import (
    ConfigError,
    Dataset,
    DatasetError,
    describe_datasets,
    list_datasets,
    load_dataset,
    register_dataset,
)
from aeot.data import registry as reg

ALL = ["moons", "circles", "8gaussians", "swissroll", "digits", "mnist", "fashion-mnist", "mnist-5k", "cifar10",
       "image-folder"]


def one_line(exc_info) -> str:
    msg = str(exc_info.value)
    assert "\n" not in msg and msg.strip() == msg and msg
    return msg


def test_every_dataset_is_registered_and_described():
    names = list_datasets()
    assert set(ALL) <= set(names)
    assert len(names) == len(set(names))
    desc = describe_datasets()
    assert list(desc) == names
    assert all(isinstance(t, str) and t and "\n" not in t for t in desc.values())


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ConfigError) as e:
        load_dataset("mnsit")
    msg = one_line(e)
    assert "'mnsit'" in msg
    for name in ALL:
        assert name in msg
    assert isinstance(e.value, DatasetError)  # callers catching either class see it


def test_unknown_parameter_is_named_with_the_allowed_ones():
    with pytest.raises(ConfigError) as e:
        load_dataset("digits", imagesize=16)
    msg = one_line(e)
    assert "'imagesize'" in msg and "image_size" in msg


@pytest.mark.parametrize("kwargs, words", [
    ({"split": "val"}, ["'val'", "train", "test"]),
    ({"n": 0}, ["n", "0"]),
    ({"n": -3}, ["n", "-3"]),
    ({"n": 1.5}, ["n", "1.5"]),
    ({"n": 100_000}, ["100000", "1438"]),
    ({"image_size": 20}, ["image_size", "20", "8, 16, 28"]),
    ({"seed": -1}, ["seed", "-1"]),
    ({"data_dir": "/tmp/x"}, ["data_dir", "/tmp/x"]),
])
def test_bad_values_are_config_errors_naming_the_value(kwargs, words):
    with pytest.raises(ConfigError) as e:
        load_dataset("digits", **kwargs)
    msg = one_line(e)
    for w in words:
        assert w in msg, (w, msg)


def test_toy_parameters_are_checked():
    with pytest.raises(ConfigError, match="noise"):
        load_dataset("moons", noise=-0.1)
    with pytest.raises(ConfigError, match="factor"):
        load_dataset("circles", factor=1.5)
    with pytest.raises(ConfigError, match="n_samples"):
        load_dataset("8gaussians", n_samples=0)


def test_register_a_custom_dataset(monkeypatch):
    monkeypatch.setattr(reg, "_REGISTRY", dict(reg._REGISTRY))

    @register_dataset("ramp", "a ramp of n_points points")
    def load_ramp(*, split, seed=0, n_points: int = 10):
        x = torch.arange(n_points, dtype=torch.float32)[:, None].repeat(1, 2)
        return Dataset(x=x, y=None, name="ramp", meta={"source": "test"})

    assert "ramp" in list_datasets() and describe_datasets()["ramp"] == "a ramp of n_points points"
    ds = load_dataset("ramp", n_points=7, n=3, seed=5)
    assert ds.x.shape == (3, 2) and ds.image_shape is None
    # the subset keeps original order and takes distinct rows
    assert torch.all(ds.x[1:, 0] > ds.x[:-1, 0])
    assert ds.meta["params"] == {"n_points": 7} and ds.meta["n"] == 3 and ds.meta["size"] == 3
    with pytest.raises(ConfigError, match="already registered"):
        register_dataset("ramp", "again", load_ramp)
    with pytest.raises(ConfigError, match="keyword-only"):
        register_dataset("bad", "positional", lambda split: None)


def test_meta_is_json_serialisable():
    for name in ("moons", "digits"):
        ds = load_dataset(name, n=10)
        back = json.loads(json.dumps(ds.meta))
        assert back["name"] == name and back["size"] == 10 == len(ds)
