"""Every check of a command's inputs, made before the command reads data or touches a file.

A command calls these first, so that a rejected value leaves no directory behind and a
refused ``--resume`` leaves the run as it was. Each raises :class:`ConfigError` with one
line naming the value received and what to do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aeot._validation import check_int
from aeot.errors import ConfigError
from aeot.samplers import make_sampler

__all__ = ["RESUME_MAY_CHANGE", "check_out_dir", "check_out_file", "check_positive_int", "check_resume_matches",
           "check_run_config"]

# What `--resume` may change: more epochs, a bigger or smaller sample grid. Everything else
# (data, model, latent size, optimiser, seed, sampler) defines the run.
RESUME_MAY_CHANGE = ("train.epochs", "n_samples")


def check_positive_int(value: Any, name: str, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    check_int(name, value, what=f"a positive int{' or null' if optional else ''}")


def _check_type(value: Any, name: str, kind: type, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ConfigError(f"{name} must be a {kind.__name__}{' or null' if optional else ''}, got {value!r}")


def check_run_config(cfg) -> None:
    """All values of a :class:`aeot.run.config.RunConfig`: types, ranges, the sampler's name and keys."""
    d, m = cfg.data, cfg.model
    _check_type(d.name, "data.name", str)
    _check_type(d.data_dir, "data.data_dir", str, optional=True)
    for key in ("image_size", "n_train", "n_test"):
        check_positive_int(getattr(d, key), f"data.{key}", optional=True)
    _check_type(m.arch, "model.arch", str, optional=True)
    check_positive_int(m.latent_dim, "model.latent_dim (--latent-dim)", optional=True)
    _check_type(m.params, "model.params", dict)
    cfg.train.validate()
    _check_type(cfg.sampler.name, "sampler.name", str)
    _check_type(cfg.sampler.params, "sampler.params", dict)
    make_sampler(cfg.sampler.name, **cfg.sampler.params)  # unknown name or keys
    check_positive_int(cfg.n_samples, "n_samples (--n-samples)")


def check_out_dir(path: str | Path, *, flag: str = "--out") -> Path:
    """``path`` can be a run directory: it does not exist yet, or is a writable directory."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {path} is a file, not a directory; name a new or existing run directory")
    for parent in path.parents:  # a file where a parent directory should be
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"{flag} {path}: {parent} is a file, not a directory; choose another path")
            break
    _check_writable(path if path.exists() else next(p for p in path.parents if p.exists()), flag)
    return path


def check_out_file(path: str | Path, *, flag: str = "--out") -> Path:
    """``path`` can be written as a file: it is not a directory and its folder is writable."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{flag} {path} is a directory; name a file, e.g. {path / 'compare.md'}")
    check_out_dir(path.parent, flag=flag)
    return path


def _check_writable(d: Path, flag: str) -> None:
    if not os.access(d, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag}: {d} is not writable (permission denied); choose another directory or fix its "
                          "permissions")


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def check_resume_matches(saved: dict[str, Any], resolved: dict[str, Any] | None, new: dict[str, Any], *,
                         where: str | Path) -> None:
    """``--resume``: refuse a config ``new`` that differs from the ``saved`` one (both ``asdict``
    forms) in anything but :data:`RESUME_MAY_CHANGE`. ``model.arch`` and ``model.latent_dim``
    left to their default (None) compare as the values the run resolved (``resolved``)."""
    a_flat, b_flat = _flatten(saved), _flatten(new)
    for key in sorted(set(a_flat) | set(b_flat)):
        if key in RESUME_MAY_CHANGE:
            continue
        a, b = a_flat.get(key), b_flat.get(key)
        if key in ("model.arch", "model.latent_dim"):
            a = a if a is not None else (resolved or {}).get(key.split(".")[1])
            b = a if b is None else b
        if a != b:
            raise ConfigError(f"--resume: {where} was made with {key}={a!r}, now {key}={b!r}; resume with the "
                              "same settings (only --epochs and --n-samples may change) or choose another --out")
