"""The dataset registry: name -> loader function and a one-line description.

A loader is a function with keyword-only parameters. ``split`` is always passed; ``seed``,
``data_dir`` and ``n`` only when the loader declares them (a loader that declares ``n``
subsets by itself, e.g. before decoding images; otherwise :func:`load_dataset` does it).
Every other keyword parameter, with its default, is a dataset parameter that
``load_dataset(name, **params)`` accepts; anything else is refused with the allowed list.
The CLI builds its ``--data`` choices from :func:`list_datasets`.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass, replace
from typing import Any, Callable

import torch

from aeot.data.base import Dataset, check_split, split_seed, subset_indices
from aeot.errors import ConfigError, DatasetError

__all__ = [
    "DatasetSpec",
    "UnknownDatasetError",
    "dataset_spec",
    "describe_datasets",
    "list_datasets",
    "load_dataset",
    "register_dataset",
]

Loader = Callable[..., Dataset]
_RESERVED = ("split", "seed", "data_dir", "n")


class UnknownDatasetError(ConfigError, DatasetError):
    """No dataset is registered under the name asked for (both a config and a dataset error)."""


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: its name, loader, description and the loader's parameter defaults."""

    name: str
    loader: Loader
    description: str

    @property
    def params(self) -> dict[str, Any]:
        """Dataset parameters and their defaults (the loader's keywords other than split/seed/data_dir/n)."""
        sig = inspect.signature(self.loader)
        return {k: p.default for k, p in sig.parameters.items() if k not in _RESERVED}

    def accepts(self, keyword: str) -> bool:
        return keyword in inspect.signature(self.loader).parameters


_REGISTRY: dict[str, DatasetSpec] = {}


def register_dataset(name: str, description: str, loader: Loader | None = None, *,
                     overwrite: bool = False) -> Any:
    """Register ``loader`` under ``name``; without ``loader``, return a decorator that does.

    ``description`` is one line for ``aeot datasets``. Registering a taken name raises
    :class:`ConfigError` unless ``overwrite=True``.
    """

    def _register(fn: Loader) -> Loader:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"dataset name must be a non-empty str, got {name!r}")
        if name in _REGISTRY and not overwrite:
            raise ConfigError(f"dataset {name!r} is already registered; pass overwrite=True to replace it")
        sig = inspect.signature(fn)
        bad = [k for k, p in sig.parameters.items() if p.kind is not inspect.Parameter.KEYWORD_ONLY]
        if bad or "split" not in sig.parameters:
            raise ConfigError(f"dataset loader for {name!r} must take keyword-only parameters including "
                              f"split; got {sig}")
        _REGISTRY[name] = DatasetSpec(name=name, loader=fn, description=" ".join(description.split()))
        return fn

    return _register if loader is None else _register(loader)


def dataset_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of ``name``, or :class:`UnknownDatasetError` listing the known names."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise UnknownDatasetError(
            f"unknown dataset {name!r}; known datasets: {', '.join(_REGISTRY)}"
        ) from None


def list_datasets() -> list[str]:
    """Names of the registered datasets, in registration order."""
    return list(_REGISTRY)


def describe_datasets() -> dict[str, str]:
    """``{name: one-line description}`` of the registered datasets."""
    return {name: spec.description for name, spec in _REGISTRY.items()}


def load_dataset(name: str, *, split: str = "train", data_dir: str | os.PathLike | None = None,
                 n: int | None = None, seed: int = 0, **params: Any) -> Dataset:
    """Load dataset ``name`` (see :func:`describe_datasets`) as a :class:`Dataset`.

    ``split`` is "train" or "test"; ``data_dir`` overrides ``$AEOT_DATA`` and built-in locations
    for file-based datasets; ``n`` keeps a deterministic random subset of ``n`` items (chosen by
    ``seed``, original order kept); ``params`` are the dataset's own settings (``image_size`` ...).
    Bad values raise :class:`ConfigError`; missing or corrupt files :class:`DatasetError`.
    """
    spec = dataset_spec(name)
    check_split(split)
    split_seed(seed, "subset")  # validates seed
    allowed = spec.params
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        listing = ", ".join(allowed) if allowed else "none"
        raise ConfigError(f"dataset {name!r} has no parameter {unknown[0]!r}; its parameters: {listing}")
    kwargs: dict[str, Any] = {"split": split, **params}
    if spec.accepts("seed"):
        kwargs["seed"] = seed
    if data_dir is not None and not spec.accepts("data_dir"):
        raise ConfigError(f"dataset {name!r} reads no files, so data_dir={str(data_dir)!r} is not used; drop it")
    if spec.accepts("data_dir"):
        kwargs["data_dir"] = data_dir
    if spec.accepts("n"):
        kwargs["n"] = n
    ds = spec.loader(**kwargs)

    if n is not None and not spec.accepts("n"):
        idx = torch.from_numpy(subset_indices(len(ds), n, seed, what=f"{name} {split} items"))
        ds = replace(ds, x=ds.x[idx], y=None if ds.y is None else ds.y[idx])
    meta = {
        "name": name,
        "split": split,
        "n": n,
        "seed": seed,
        "params": {**allowed, **params},
        **ds.meta,
        "size": len(ds),
    }
    return replace(ds, name=name, meta=meta)
