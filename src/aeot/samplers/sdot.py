"""The AE-OT sampler: semi-discrete OT from a uniform box to the codes, then the extended map."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from aeot import distributed
from aeot.errors import ConfigError
from aeot.ot.extended import MODES, Triangulation, apply_extended_map, default_epsilon, resolve_mode, sample_source
from aeot.ot.semidiscrete import SemiDiscreteResult, solve_semidiscrete
from aeot.samplers.base import LatentSampler, positive
from aeot.samplers.registry import register_sampler

__all__ = ["SDOTSampler"]

AUTO_SIMPLEX_MAX_DIM = 8

# Solver knobs passed to solve_semidiscrete when set; None keeps the solver's default.
_SOLVER_KNOBS = ("method", "max_iter", "tol", "tol_max", "lr", "n_samples", "max_samples", "hessian_samples", "qmc",
                 "normalize")


@register_sampler
@dataclass(kw_only=True)
class SDOTSampler(LatentSampler):
    """AE-OT latent sampler (An et al., "AE-OT", ICLR 2020; AE-OT-GAN §3.2, Theorem 1).

    ``fit(z)`` solves the semi-discrete OT problem from ``Uni([0, 1]^d)`` to the empirical
    measure of the codes (:func:`aeot.ot.semidiscrete.solve_semidiscrete`; ``method``
    (``"newton"`` or the reference code's ``"adam"``), ``max_iter``,
    ``tol``, ``tol_max``, ``lr``, ``n_samples``, ``max_samples``, ``hessian_samples``,
    ``qmc`` and ``normalize`` are its knobs, ``None`` keeps its default). ``sample(n)``
    draws ``n`` uniform points in the box and applies the extended map
    :func:`aeot.ot.extended.extended_map` with ``mode``:
    ``"paper"`` (default): the paper's map, barycentric coordinates of ``w`` in the Delaunay
    simplex of mass centres that contains it, mapped linearly onto the simplex of codes;
    outside the hull of the centres (most of the box in high dimension) the plain map.
    ``"pyomt-pairs"``: the reference code's interpolation between two neighbouring cells
    whose supporting planes are within ``angle`` radians, weight ``pair_weight`` (its
    push-forward is a finite set of points). ``"projection"``: aeot's earlier
    top-``k``-cells projection (not continuous). ``"plain"``: the OT map T, i.e. the
    training codes. ``"auto"``: the rule before issue 19 (``"projection"`` for d <= 8,
    ``"pyomt-pairs"`` above), kept so that old runs sample as they did; old names
    ``"simplex"`` / ``"pairs"`` still mean ``"projection"`` / ``"pyomt-pairs"``. Why the
    paper's map is the default, and what each mode gives on real codes:
    docs/extended_map.md.

    ``epsilon`` bounds the simplices of the complex sigma_epsilon, hence
    ``W2(samples, codes) <= epsilon`` (Theorem 1); ``None`` takes the ``epsilon_quantile``
    of the diameters of the simplices used by ``n_probe`` source samples
    (:func:`aeot.ot.extended.default_epsilon`), so about that fraction of the samples
    are interpolated. ``epsilon=0`` gives the plain OT map, i.e. resampling the codes.
    Duplicate codes are merged into one target carrying their summed mass
    (``n_duplicates_`` counts the rows merged away). Fitted under a process group
    (:mod:`aeot.distributed`, e.g. ``torchrun ... aeot run``), the ranks share the solver's
    Monte Carlo samples; the potential equals the one of a single process.
    ``fit(z, checkpoint=PATH)`` saves the solve's state to PATH as it goes (at most once a
    minute) and a rerun resumes from it (single process; :mod:`aeot.ot._sdot_checkpoint`);
    ``aeot run`` and ``aeot reproduce`` use the run directory's ``sampler-fit.safetensors``.
    """

    name: ClassVar[str] = "sdot"
    source_space: ClassVar[str | None] = "uniform source of the semi-discrete map"
    method: str = "newton"
    max_iter: int | None = None
    tol: float | None = None
    tol_max: float | None = None
    lr: float | None = None
    n_samples: int | None = None
    max_samples: int | None = None
    hessian_samples: int | None = None
    qmc: bool = True
    normalize: bool = True
    epsilon: float | None = None
    epsilon_quantile: float = 0.8
    n_probe: int = 1000
    k: int | None = None
    mode: str = "paper"
    angle: float = 0.7
    pair_weight: float = 0.75
    chunk_size: int = 1024
    seed: int = 0

    def _validate(self) -> None:
        for knob in ("max_iter", "n_samples", "max_samples", "hessian_samples", "k"):
            if getattr(self, knob) is not None:
                positive(knob, getattr(self, knob), integer=True)
        for knob in ("tol", "tol_max", "lr"):
            if getattr(self, knob) is not None:
                positive(knob, getattr(self, knob))
        positive("chunk_size", self.chunk_size, integer=True)
        positive("n_probe", self.n_probe, integer=True)
        for knob in ("qmc", "normalize"):
            if not isinstance(getattr(self, knob), bool):
                raise ConfigError(f"{knob} must be True or False, got {getattr(self, knob)!r}")
        if self.method not in ("newton", "adam"):
            raise ConfigError(f"method must be 'newton' or 'adam', got {self.method!r}")
        if self.mode != "auto":
            try:
                resolve_mode(self.mode)
            except ValueError:
                raise ConfigError(f"mode must be one of {', '.join(MODES)} (or auto, the old rule), "
                                  f"got {self.mode!r}") from None
        if self.epsilon is not None and not (_is_number(self.epsilon) and self.epsilon >= 0):
            raise ConfigError(f"epsilon must be None or a number >= 0 (inf allowed), got {self.epsilon!r}")
        if not (_is_number(self.epsilon_quantile) and 0.0 <= self.epsilon_quantile <= 1.0):
            raise ConfigError(f"epsilon_quantile must be in [0, 1], got {self.epsilon_quantile!r}")
        if not (_is_number(self.angle) and 0.0 <= self.angle <= math.pi):
            raise ConfigError(f"angle must be in [0, pi] radians, got {self.angle!r}")
        if not (_is_number(self.pair_weight) and 0.0 <= self.pair_weight <= 1.0):
            raise ConfigError(f"pair_weight must be in [0, 1], got {self.pair_weight!r}")

    @property
    def mode_(self) -> str:
        """The extended-map mode in use: ``mode`` under its current name, ``"auto"`` resolved by d."""
        if self.mode != "auto":
            return resolve_mode(self.mode)
        return "projection" if self.dim_ <= AUTO_SIMPLEX_MAX_DIM else "pyomt-pairs"

    def _fit(self, z: torch.Tensor) -> None:
        knobs = {k: getattr(self, k) for k in _SOLVER_KNOBS if getattr(self, k) is not None}
        codes, weights = z.detach().clone(), None  # (n, d)
        unique, counts = torch.unique(codes, dim=0, return_counts=True)
        if unique.shape[0] < codes.shape[0]:  # duplicate codes: one cell with their summed mass
            codes, weights = unique, counts.to(torch.float64) / codes.shape[0]
        self.n_duplicates_ = int(z.shape[0] - codes.shape[0])
        # under torchrun every rank scores its share of the Monte Carlo samples (aeot.ot.distributed)
        # a file to resume a long solve from (fit(..., checkpoint=)); a process group's ranks share no file
        resume = None if distributed.active() else self._checkpoint
        result = solve_semidiscrete(codes, weights=weights, seed=int(self.seed), progress=self._on_progress,
                                    distributed=distributed.active(), checkpoint=resume, **knobs)
        self.codes_ = codes  # (n_unique, d)
        self.result_ = result
        self._tri = None
        if self.epsilon is None:  # a generator of its own: fitting does not advance generator_
            probe = torch.Generator(device=result.low.device).manual_seed(int(self.seed) + 1)
            self.epsilon_ = default_epsilon(result, self.codes_, quantile=self.epsilon_quantile, n_probe=self.n_probe,
                                            generator=probe, k=self.k, mode=self.mode_, angle=self.angle,
                                            chunk_size=self.chunk_size, triangulation=self._triangulation())
        else:
            self.epsilon_ = float(self.epsilon)

    def _on_progress(self, info: Any) -> None:
        """Forward the solver's progress to the sampler's callback (the CLI's bar)."""
        if isinstance(info, dict):
            numbers = {k: v for k, v in info.items() if k not in ("event", "task", "step", "total")}
            self._emit_step(int(info.get("step", 0)), int(info.get("total", 0)), **numbers)

    def _triangulation(self) -> Triangulation | None:
        """The Delaunay triangulation of the fitted mass centres (paper mode), built once."""
        if self.mode_ != "paper":
            return None
        if self._tri is None:  # reset by fit and load_state_dict
            self._tri = Triangulation(self.result_.centers)
        return self._tri

    def map_source(self, w: torch.Tensor) -> Any:
        """The extended map of source points ``w`` (m, d) in the box: an ``ExtendedSamples``
        (``values`` are the latents; ``cells``, ``interpolated``, ``inside``, ``diameter``)."""
        self._check_fitted()
        return apply_extended_map(w, self.result_, self.codes_, epsilon=self.epsilon_, k=self.k, mode=self.mode_,
                                  angle=self.angle, pair_weight=self.pair_weight, chunk_size=self.chunk_size,
                                  triangulation=self._triangulation())

    def describe(self) -> str:
        """One line for reports: the extended map in use and its epsilon."""
        self._check_fitted()
        why = {"paper": "the paper's map, default", "pyomt-pairs": "the reference code's pairs",
               "projection": "aeot's earlier projection", "plain": "the plain OT map T"}[self.mode_]
        return f"extended map {self.mode_!r} ({why}), epsilon {self.epsilon_:.4g}"

    def _source(self, n: int, generator: torch.Generator) -> torch.Tensor:
        r = self.result_
        return sample_source(n, r.low, r.high, generator)  # (n, d) uniform in the box

    def _push(self, w: torch.Tensor) -> torch.Tensor:
        return self.map_source(w).values

    def _sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return self._push(self._source(n, generator))

    def _fitted_state(self) -> dict[str, Any]:
        result = {f.name: getattr(self.result_, f.name) for f in dataclasses.fields(self.result_)}
        return {
            "codes": self.codes_,
            "n_duplicates": self.n_duplicates_,
            "epsilon": torch.tensor(self.epsilon_, dtype=torch.float64),  # a tensor keeps inf
            "result": result,
        }

    def _load_fitted_state(self, state: dict[str, Any]) -> None:
        self.codes_ = state["codes"].to(self.dtype_)
        self.n_duplicates_ = int(state["n_duplicates"])
        self.epsilon_ = float(state["epsilon"])
        self.result_ = SemiDiscreteResult(**state["result"])
        self._tri = None


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and not math.isnan(x)
