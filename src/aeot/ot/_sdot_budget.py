"""Monte Carlo budget of the semi-discrete solver: how many samples a tolerance needs.

The solver estimates each cell measure ``mu_i`` from ``M`` uniform samples, so its relative
cell error ``e_i = |mu_i / nu_i - 1|`` carries a noise of standard deviation
``sqrt((1 - nu_i) / (M nu_i))`` (binomial; scrambled Sobol points measured no better at
d >= 8, see docs/benchmarks/sdot.md).  The solve stops when the 95th percentile of its *own*
estimate is at most ``tol``, so ``tol`` is reachable only when the noise alone stays well
below it: this module sizes ``M`` so that the noise p95 is at most ``tol / NOISE_MARGIN``
(and the expected largest noise of the n cells at most ``tol_max / NOISE_MARGIN``), i.e.
``M ~ (1.96 NOISE_MARGIN / tol)^2 n``: 864 samples per cell for ``tol = 0.1``.  The AE-OT
papers (An et al., ICLR 2020; AE-OT-GAN, ECCV 2020) fit 60,000-200,000 codes, where a fixed
cap of 2^24 samples per iteration has a noise p95 of 0.117-0.21, above ``tol = 0.1``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

Z95 = 1.96  # two-sided 95% normal quantile: the noise p95 of |N(0, sd)| is about 1.96 sd
NOISE_MARGIN = 1.5  # the noise p95 must be at most tol / NOISE_MARGIN for tol to be reachable
HEADROOM = 4  # default cap: this many times the samples the tolerance needs (two doublings)


def _rel_var(nu: Tensor) -> Tensor:
    return (1.0 - nu) / nu  # (n,) M x variance of mu_i / nu_i


def max_noise_factor(n: int) -> float:
    """About the largest of ``n`` standard normal magnitudes: ``sqrt(2 ln 2n)``."""
    return math.sqrt(2.0 * math.log(2.0 * max(n, 1)))


def noise_p95(nu: Tensor, m: int) -> float:
    """95th percentile over cells of the noise (1.96 sd) of ``mu_i / nu_i`` with ``m`` samples."""
    return Z95 * math.sqrt(float(torch.quantile(_rel_var(nu), 0.95)) / m)


def noise_max(nu: Tensor, m: int) -> float:
    """Expected largest noise of ``mu_i / nu_i`` over the n cells with ``m`` samples."""
    return max_noise_factor(nu.numel()) * math.sqrt(float(_rel_var(nu).max()) / m)


def samples_for_tol(nu: Tensor, tol: float, tol_max: float) -> int:
    """Samples per iteration whose noise is at most ``tol / NOISE_MARGIN`` at the p95 and
    ``tol_max / NOISE_MARGIN`` at the maximum: the least budget that can certify ``tol``."""
    v95, vmax = float(torch.quantile(_rel_var(nu), 0.95)), float(_rel_var(nu).max())
    m95 = v95 * (Z95 * NOISE_MARGIN / tol) ** 2
    mmax = vmax * (max_noise_factor(nu.numel()) * NOISE_MARGIN / tol_max) ** 2
    return max(1, math.ceil(max(m95, mmax)))


def reachable_tol(nu: Tensor, m: int) -> tuple[float, float]:
    """The smallest (tol, tol_max) that ``m`` samples per iteration can certify."""
    return NOISE_MARGIN * noise_p95(nu, m), NOISE_MARGIN * noise_max(nu, m)


def budget_warning(nu: Tensor, tol: float, tol_max: float, max_samples: int) -> str | None:
    """The pre-flight warning when ``max_samples`` cannot reach (tol, tol_max), else None."""
    need = samples_for_tol(nu, tol, tol_max)
    if max_samples >= need:
        return None
    t95, tmax = reachable_tol(nu, max_samples)
    return (
        f"max_samples={max_samples} samples per iteration cannot certify tol={tol}, tol_max={tol_max} for "
        f"n={nu.numel()} cells: its Monte Carlo noise floor is p95~{noise_p95(nu, max_samples):.3g}, "
        f"max~{noise_max(nu, max_samples):.3g}, so the solve can reach about tol={t95:.3g}, "
        f"tol_max={tmax:.3g} and will stop there unconverged; raise max_samples to >= {need} "
        f"(or leave it None) or loosen tol/tol_max"
    )
