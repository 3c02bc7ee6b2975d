"""One registry of latent samplers by name; the CLI choices come from here."""

from __future__ import annotations

import dataclasses
from typing import Any

from aeot.errors import CheckpointError, ConfigError
from aeot.io import load_checkpoint, save_checkpoint

SAMPLERS: dict[str, type] = {}


def register_sampler(cls: type) -> type:
    """Class decorator: register ``cls`` under ``cls.name``."""
    if cls.name in SAMPLERS and SAMPLERS[cls.name] is not cls:
        raise ValueError(f"sampler name {cls.name!r} is already registered")
    SAMPLERS[cls.name] = cls
    return cls


def list_samplers() -> list[str]:
    return sorted(SAMPLERS)


def make_sampler(name: str, **params: Any):
    """Build the sampler registered as ``name`` with keyword hyperparameters."""
    if name not in SAMPLERS:
        raise ConfigError(f"unknown sampler {name!r}; choose one of {', '.join(list_samplers())}")
    cls = SAMPLERS[name]
    try:
        return cls(**params)
    except TypeError as e:
        allowed = [f.name for f in dataclasses.fields(cls)]
        raise ConfigError(f"bad parameters for sampler {name!r} ({e}); allowed: {', '.join(allowed)}") from None


def save_sampler(path, sampler) -> None:
    """Write a fitted sampler (params in JSON, fitted tensors in safetensors)."""
    save_checkpoint(
        path,
        kind=type(sampler).__name__,
        state=sampler.state_dict(),
        config={"name": sampler.name, "params": sampler.get_params()},
    )


def load_sampler(path, *, device=None):
    """Rebuild a fitted sampler written by :func:`save_sampler`."""
    state, meta = load_checkpoint(path)
    name = (meta.get("config") or {}).get("name")
    if name not in SAMPLERS or SAMPLERS[name].__name__ != meta.get("kind"):
        raise CheckpointError(
            f"{path}: not a sampler checkpoint (holds {meta.get('kind')!r}); "
            "pass the fitted sampler a run saved (aeot sample writes it)"
        )
    sampler = make_sampler(name, **meta["config"].get("params", {}))
    return sampler.load_state_dict(state, device=device)
