"""The latent sampler contract (scikit-learn style, see STYLE.md).

A sampler is a dataclass with keyword-only hyperparameters. ``fit(z)`` learns from
latent codes ``z`` of shape ``(n, d)`` and returns ``self``; ``sample(n)`` returns
``(n, d)`` codes on the device and dtype of the fitted codes. Fitted attributes end in
``_``. Randomness flows from the ``seed`` field through a ``torch.Generator`` made in
``fit`` and advanced by each ``sample`` call, unless the caller passes its own.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable, ClassVar

import torch

from aeot._validation import check_flag, check_int, check_positive_int, check_positive_number
from aeot.errors import ConfigError, NotFittedError


def check_codes(z: Any, *, name: str = "z") -> torch.Tensor:
    """Validate latent codes: a finite floating tensor of shape (n, d) with n >= 1."""
    if not isinstance(z, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (n, d), got {type(z).__name__}")
    if z.ndim != 2:
        raise ValueError(f"{name} must have shape (n, d), got {tuple(z.shape)}")
    if z.shape[0] == 0 or z.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(z.shape)}); fit needs at least one code")
    if not z.is_floating_point():
        raise ValueError(f"{name} must be floating point, got {z.dtype}")
    if not torch.isfinite(z).all():
        bad = int((~torch.isfinite(z)).any(dim=1).sum())
        raise ValueError(f"{name} has {bad} rows with NaN or inf; check the encoder output")
    return z


def check_n(n: Any) -> int:
    return check_int("n", n, low=0, what="a non-negative int", error=ValueError)


class LatentSampler:
    """Base class of every latent sampler; subclasses are ``@dataclass(kw_only=True)``."""

    name: ClassVar[str] = "base"
    # What the source of a sampler that pushes random source points forward is (``sample(n)`` =
    # ``push_source(sample_source(n))``); ``None``: the sampler exposes no such space.
    source_space: ClassVar[str | None] = None
    seed: int

    # -- to implement -------------------------------------------------------------
    def _fit(self, z: torch.Tensor) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _sample(self, n: int, generator: torch.Generator) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def _validate(self) -> None:
        """Check hyperparameters; raise ConfigError naming the value."""

    # -- contract -------------------------------------------------------------------
    def fit(self, z: torch.Tensor, *, progress: Callable[[dict[str, Any]], None] | None = None,
            checkpoint: str | os.PathLike | None = None) -> "LatentSampler":
        """Learn from codes ``z`` (n, d); ``progress`` receives ``{"event": "step", ...}`` dicts.

        ``checkpoint``: a file where a long fit saves its state as it goes and from which a
        rerun resumes (``sdot``: the semi-discrete solve); samplers without such state ignore it.
        """
        z = check_codes(z)
        self._validate()
        self.dim_ = int(z.shape[1])
        self.n_fit_ = int(z.shape[0])
        self.device_ = z.device
        self.dtype_ = z.dtype
        self.generator_ = torch.Generator(device=z.device).manual_seed(int(self.seed))
        self._progress, self._checkpoint = progress, checkpoint
        try:
            self._fit(z)
        finally:
            self._progress = self._checkpoint = None
        return self

    def _emit_step(self, step: int, total: int, **metrics: Any) -> None:
        """Report fitting progress (long fits: OT solves, mapping networks) to the callback."""
        cb = getattr(self, "_progress", None)
        if cb is not None:
            cb({"event": "step", "task": self.name, "step": step, "total": total, **metrics})

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        self._check_fitted()
        n = check_n(n)
        out = self._sample(n, generator if generator is not None else self.generator_)
        assert out.shape == (n, self.dim_), out.shape
        return out.to(self.dtype_)

    def sample_source(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` source points ``(n, d)`` that :meth:`sample` pushes forward (see ``source_space``).

        Parameters
        ----------
        n : int
            How many.
        generator : torch.Generator, optional
            Default: the sampler's own generator (advanced).

        Returns
        -------
        torch.Tensor
        """
        self._check_fitted()
        if self.source_space is None:
            raise ConfigError(f"sampler {self.name!r} exposes no source space (source_space is None)")
        return self._source(check_n(n), generator if generator is not None else self.generator_)

    def push_source(self, w: torch.Tensor) -> torch.Tensor:
        """The latent codes ``(m, d)`` of source points ``w`` (m, d): what :meth:`sample` returns for them."""
        self._check_fitted()
        if self.source_space is None:
            raise ConfigError(f"sampler {self.name!r} exposes no source space (source_space is None)")
        return self._push(w)

    def _source(self, n: int, generator: torch.Generator) -> torch.Tensor:  # pragma: no cover - optional
        raise NotImplementedError

    def _push(self, w: torch.Tensor) -> torch.Tensor:  # pragma: no cover - optional
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not hasattr(self, "dim_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(z) first")

    # -- persistence -----------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def _fitted_state(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _load_fitted_state(self, state: dict[str, Any]) -> None:  # pragma: no cover
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Fitted state plus the generator state; tensors and plain values only."""
        self._check_fitted()
        return {
            "dim": self.dim_,
            "n_fit": self.n_fit_,
            "dtype": str(self.dtype_).removeprefix("torch."),
            "generator": self.generator_.get_state(),
            "fitted": self._fitted_state(),
        }

    def load_state_dict(self, state: dict[str, Any], *, device: torch.device | str | None = None) -> "LatentSampler":
        try:
            dtype = getattr(torch, state["dtype"])
            dev = torch.device(device) if device is not None else torch.device("cpu")
            fitted = {
                k: (v.to(dev) if isinstance(v, torch.Tensor) else v) for k, v in state["fitted"].items()
            }
            self._validate()
            self.dim_, self.n_fit_ = int(state["dim"]), int(state["n_fit"])
            self.device_, self.dtype_ = dev, dtype
            self.generator_ = torch.Generator(device=dev)
            self.generator_.set_state(state["generator"].cpu())
            self._load_fitted_state(fitted)
        except (KeyError, TypeError, AttributeError) as e:
            raise ConfigError(f"sampler state for {type(self).__name__} is incomplete ({e}); "
                              "load a state saved by the same sampler") from None
        return self


def flag(name: str, value: Any) -> None:
    """A bool hyperparameter (``True``/``False`` only), or :class:`ConfigError`."""
    check_flag(name, value)


def sobol(n: int, dim: int, generator: torch.Generator, *, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``n`` points (n, dim) of one scrambled Sobol sequence in [0, 1)^dim (CPU), its scrambling
    seeded by a draw from ``generator``: the ``qmc_sample`` draws of the samplers."""
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
    return torch.quasirandom.SobolEngine(dim, scramble=True, seed=seed).draw(n, dtype=dtype)


def positive(name: str, value: Any, *, integer: bool = False) -> None:
    """A positive hyperparameter (an int if ``integer``), or :class:`ConfigError`."""
    if integer:
        check_positive_int(name, value)
    else:
        check_positive_number(name, value)
