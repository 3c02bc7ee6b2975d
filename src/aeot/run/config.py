"""The typed config of a run directory (``config.json``): RunConfig and its sections, overrides,
reading and writing it, and what it resolves to (the dataset split, the autoencoder's arguments)."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aeot._version import __version__
from aeot.data import load_dataset
from aeot.errors import ConfigError
from aeot.io import atomic_write_json, read_json_object
from aeot.nets import default_architecture
from aeot.run.preflight import check_run_config
from aeot.run.rundir import RunDir
from aeot.train.autoencoder import AETrainConfig

__all__ = ["DEFAULT_LATENT", "DataConfig", "ModelConfig", "RunConfig", "SamplerConfig", "apply_overrides",
           "config_from_dict", "dataclass_from_dict", "load_data", "read_run_config", "resolve_model",
           "write_config"]

# Latent sizes of the papers' settings: 8 for the fully connected AE of Zhang et al. (2019) §5.1, 64 for
# the InfoGAN MNIST AE of An et al. (ECCV 2020) §4; 128 for the 32-256 px convolutional ones (§4 states
# no latent size for them; 128 is the z size of SNGAN's and WGAN-GP's generators).
DEFAULT_LATENT = {"mlp": 8, "infogan": 64, "dcgan": 128, "resnet": 128, "conv64": 128, "resnet64": 128,
                  "conv128": 128, "conv256": 128}


@dataclass(kw_only=True)
class DataConfig:
    name: str = "digits"
    data_dir: str | None = None
    image_size: int | None = None  # digits: 8, 16 or 28 (default 28); image-folder: 32, 64, 128 or 256
    n_train: int | None = None  # a deterministic subset of the training split
    n_test: int | None = None


@dataclass(kw_only=True)
class ModelConfig:
    arch: str | None = None  # None: aeot.nets.default_architecture(image_shape)
    latent_dim: int | None = None  # None: DEFAULT_LATENT[arch]
    params: dict[str, Any] = field(default_factory=dict)  # e.g. {"width": 0.5}


@dataclass(kw_only=True)
class SamplerConfig:
    name: str = "sdot"  # AE-OT: semi-discrete OT + extended map (An et al. (ECCV 2020) §3.2)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: AETrainConfig = field(default_factory=AETrainConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    n_samples: int = 100  # decoded samples drawn for the report grid


# ----------------------------------------------------------------------------- config I/O
def config_from_dict(d: dict[str, Any]) -> RunConfig:
    """Rebuild a RunConfig from its ``asdict`` form, rejecting unknown keys."""
    if not isinstance(d, dict):
        raise ConfigError(f"a run config must be a JSON object of sections, got {type(d).__name__} {d!r:.40}")
    parts = {"data": DataConfig, "model": ModelConfig, "train": AETrainConfig, "sampler": SamplerConfig}
    kwargs: dict[str, Any] = {}
    for key, value in d.items():
        if key in parts:
            if not isinstance(value, dict):
                raise ConfigError(f"config section {key!r} must be a mapping, got {value!r}")
            kwargs[key] = dataclass_from_dict(parts[key], value, key)
        elif key in {f.name for f in dataclasses.fields(RunConfig)}:
            kwargs[key] = value
        else:
            raise ConfigError(f"unknown config key {key!r}; allowed: {', '.join(f.name for f in dataclasses.fields(RunConfig))}")
    return RunConfig(**kwargs)


def dataclass_from_dict(cls: type, values: dict[str, Any], section: str):
    """``cls(**values)``, refusing a key that is not a field of ``cls`` (named as ``section.key``)."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ConfigError(f"unknown key {section}.{sorted(unknown)[0]}; allowed: {', '.join(sorted(names))}")
    return cls(**values)


def apply_overrides(cfg: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """Set dotted keys (``"train.epochs"``, ``"n_samples"``) on a copy of ``cfg``."""
    d = asdict(cfg)
    for key, value in overrides.items():
        node = d
        *parents, leaf = key.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return config_from_dict(d)


def resolve_model(cfg: RunConfig, image_shape: tuple[int, ...]) -> dict[str, Any]:
    """The ``make_autoencoder`` keyword arguments for this config and image shape."""
    arch = cfg.model.arch or default_architecture(tuple(image_shape))
    latent = cfg.model.latent_dim or DEFAULT_LATENT.get(arch, 64)
    return {"arch": arch, "image_shape": list(image_shape), "latent_dim": latent, **cfg.model.params}


def load_data(cfg: DataConfig, split: str):
    params: dict[str, Any] = {}
    if cfg.image_size is not None:
        params["image_size"] = cfg.image_size
    n = cfg.n_train if split == "train" else cfg.n_test
    ds = load_dataset(cfg.name, split=split, data_dir=cfg.data_dir, n=n, **params)
    if ds.image_shape is None:
        raise ConfigError(f"dataset {cfg.name!r} is a 2-D toy set, not images; use `aeot toy` for it")
    return ds


def write_config(run_dir: str | Path, cfg: RunConfig, *, device: str, extra: dict[str, Any] | None = None,
                 path: Path | None = None) -> Path:
    """``run_dir/config.json`` (or ``path``, e.g. a staged copy): the resolved config and ``extra``."""
    return atomic_write_json(path or RunDir(run_dir).config,
                             {"aeot_version": __version__, "device": device, "config": asdict(cfg), **(extra or {})})


def read_run_config(path: str | Path) -> RunConfig:
    """The RunConfig saved in a run directory's ``config.json``, or in the file ``path`` itself
    (any name: ``aeot run --config my.json``); one-line errors naming the file."""
    path = Path(path)
    file = path if path.is_file() else RunDir(path).config
    data = read_json_object(file, what="run config")
    if not isinstance(data.get("config"), dict):
        raise ConfigError(f"{file} has no 'config' object (got {data.get('config')!r:.40}); pass a {RunDir.CONFIG} "
                          "written by aeot")
    try:
        cfg = config_from_dict(data["config"])
        check_run_config(cfg)
    except (ConfigError, TypeError) as e:
        raise ConfigError(f"{file}: {e}") from None
    return cfg
