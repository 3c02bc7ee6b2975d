"""Semi-discrete optimal transport from the uniform measure on a box to weighted points.

AE-OT-GAN (An et al.) section 3.2 and AE-OT (An et al., ICLR 2020): the Brenier potential
``u_h(x) = max_i <x, y_i> + h_i`` pushes the uniform measure on ``[low, high]^d`` forward to
``sum_i nu_i delta_{y_i}`` when every power cell
``W_i = {x : <x, y_i> + h_i >= <x, y_j> + h_j for all j}`` has measure ``nu_i``.  ``h`` minimises
the convex energy ``E(h) = int u_h - sum_i nu_i h_i`` whose gradient is ``mu(h) - nu``
(``mu_i`` = measure of ``W_i``, estimated here by scrambled Sobol points, fresh each iteration).

The reference code (pyOMT, Yang Guo / Na Lei) runs Adam on ``h`` with the same Sobol points
every iteration.  This solver takes damped Newton steps instead: the Hessian of ``E`` is the
graph Laplacian of the facets, estimated from the samples that fall within a slab of width
``delta_i`` of a facet and averaged over iterations (see :mod:`aeot.ot._sdot_newton`), with a
per-cell trust radius, and empty cells raised by an exact one-cell solve.  Each iteration uses
fresh points; its budget doubles when the error reaches the Monte Carlo noise floor or stalls.
benchmarks/sdot.py compares both (docs/benchmarks/sdot.md): on n = 1000 codes in d = 64 the
reference needed 25x the samples and 100x+ the time for the same 95th-percentile error.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import warnings
from collections.abc import Callable
import dataclasses
from dataclasses import dataclass, field

import torch
from torch import Tensor

from aeot.ot._power import TARGET_CHUNK, PowerScorer, cell_index, default_chunk_size, power_scores_topk
from aeot.ot._sdot_adam import AdamStepper
from aeot.ot._sdot_budget import HEADROOM, NOISE_MARGIN, budget_warning, noise_max, noise_p95, samples_for_tol
from aeot.ot._sdot_estimate import choose_placement, estimate
from aeot.io import to_json
from aeot.ot import _sdot_multiscale
from aeot.ot._sdot_checkpoint import STOP_KNOBS, SolveCheckpoint, fingerprint
from aeot.ot._sdot_multiscale import FACTOR, carry_potential, cluster
from aeot.ot._sdot_newton import NewtonStepper, capture_raise
from aeot.ot._sdot_validate import validate_inputs
from aeot.ot.distributed import ChunkStream, Comm

__all__ = ["SemiDiscreteResult", "cell_index", "power_scores_topk", "solve_semidiscrete"]

logger = logging.getLogger(__name__)

PATIENCE = 3  # iterations at the full budget without a 5% better error before the solve stops
PATIENCE_ADAM = 30  # the same for method="adam", whose step halves only after 10 flat iterations
STATUSES = ("converged", "max_iter", "noise_floor", "stalled", "max_time")

@dataclass(frozen=True)
class SemiDiscreteResult:
    """Output of :func:`solve_semidiscrete`; the OT map is ``targets[cell_index(w)]``."""

    potential: Tensor  # (n,) h, zero mean, float32 as used by the solver's scores
    targets: Tensor  # (n, d) the y_i of the scores <w, y_i> + h_i (after ``scale``), float32
    weights: Tensor  # (n,) target masses nu_i, float64, sum 1
    centers: Tensor  # (n, d) mean of the last estimate's samples in each cell (box coordinates)
    cell_mass: Tensor  # (n,) last estimate of the measure of each cell (fraction of the box)
    low: Tensor  # (d,) source box
    high: Tensor  # (d,)
    errors: list[dict]  # one dict per iteration: p95, max, mean relative error, empty, n_samples, ...
    converged: bool
    n_iter: int
    n_samples: int  # source points drawn in total (pilot included), all ranks together
    scale: dict  # targets = offset + (codes - center) / scale; potential is for these targets
    empty: Tensor = field(default=None)  # (n,) bool: no sample in the last estimate; centre is a fallback
    # why the solve stopped: "converged"; "noise_floor" (the budget max_samples reached its Monte
    # Carlo floor above tol), "stalled" (no progress at the full budget), "max_iter", "max_time"
    status: str = "converged"
    # the coarse solve the fine one started from (``multiscale``): n, iterations, status, seconds
    warm_start: dict | None = None

    def cell_index(self, w: Tensor) -> Tensor:
        """Power cell of each row of ``w`` (m, d) in box coordinates -> (m,) long."""
        return cell_index(w, self.targets, self.potential)


def solve_semidiscrete(
    y: Tensor,
    *,
    weights: Tensor | None = None,
    low: float | Tensor = 0.0,
    high: float | Tensor = 1.0,
    max_iter: int = 300,
    method: str = "newton",
    tol: float = 0.1,
    tol_max: float = 0.5,
    lr: float = 1.0,
    n_samples: int | None = None,
    max_samples: int | None = None,
    max_time: float | None = None,
    hessian_samples: int | None = None,
    qmc: bool = True,
    seed: int = 0,
    normalize: bool = True,
    chunk_size: int | None = None,
    target_chunk: int = TARGET_CHUNK,
    progress: Callable[[dict], None] | None = None,
    group=None,
    distributed: bool = False,
    multiscale: bool = True,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: float = 60.0,
) -> SemiDiscreteResult:
    """Semi-discrete OT potential from Uniform([low, high]^d) to ``sum_i weights_i delta_{y_i}``.

    AE-OT-GAN section 3.2 / AE-OT: finds ``h`` such that each power cell ``W_i`` has measure
    ``nu_i`` (as a fraction of the box).  Errors are relative, ``e_i = |mu_i / nu_i - 1|``, so
    they mean the same at any ``n``; the solve stops when the 95th percentile of ``e`` is at most
    ``tol`` and its maximum at most ``tol_max``, both measured on the iteration's own estimate
    (which includes the Monte Carlo noise, about ``1 / sqrt(M nu_i)`` for ``M`` samples: a
    solve to ``tol = 0.1`` needs ``M`` of roughly ``1000 n`` in its last iterations).

    y: (n, d) codes.  weights: (n,) positive, summing to 1 (default uniform).  low, high: box
    corners, scalars or (d,).  max_iter: iterations.  method: ``"newton"`` (default, the damped
    Newton step above) or ``"adam"`` (the reference code's update, :mod:`aeot.ot._sdot_adam`;
    no Hessian samples, more iterations).  lr: damping of the Newton step (1 = full step), or
    for Adam a factor on its first step length.  n_samples: first per-iteration budget
    (default 16 n); it doubles when the error stalls or reaches the noise floor, up to
    ``max_samples`` per iteration.  max_samples: the cap; ``None`` (default) sizes it from ``n``,
    the weights and the tolerances (:mod:`aeot.ot._sdot_budget`: HEADROOM = 4 times the
    samples whose noise p95 is ``tol / 1.5``, i.e. about 3,500 n for ``tol = 0.1``).  A cap
    below what ``tol`` needs warns before the solve starts, with the accuracy it can reach.
    max_time: seconds after which the solve stops (status ``"max_time"``, a warning); after
    the first iteration it warns if the budget ``tol`` needs is predicted to take longer.
    hessian_samples: samples per iteration used for the Hessian (default 64 n).  qmc:
    scrambled Sobol points (else i.i.d. uniforms), fresh each iteration, seeded by ``seed``.
    chunk_size / target_chunk: tile of the score kernel (samples x targets).  progress:
    called with ``{"event": "step", "task": "sdot", "step", "total", "p95", "max", "empty",
    "n_samples"}`` after each iteration.  distributed / group: split the samples of each
    iteration over the ranks of a ``torch.distributed`` group (see :mod:`aeot.ot.distributed`).
    multiscale: for ``n >= 4096``, start from the solution of a coarse problem on about
    ``n / 8`` clusters of the codes (recursively; :mod:`aeot.ot._sdot_multiscale`) instead of
    the Voronoi diagram; the stopping rule is the same, so is the tolerance met.
    checkpoint: a ``.safetensors`` file for the solver's state (:mod:`aeot.ot._sdot_checkpoint`),
    written atomically after an iteration's step at most every ``checkpoint_every`` seconds and
    when the solve ends; when the file exists the solve resumes from it and makes the same
    iterations as one never stopped (a finished one with the same stopping rule returns its
    result; a tighter ``tol`` or more ``max_iter``/``max_time``/``max_samples`` carries on).
    Another problem's file is refused (one-line error).  Single process only.

    Scaling: the codes are centred and divided by one global scalar, then placed in the box
    as ``targets = offset + (y - center) / scale`` with ``offset`` the box centre (recorded in
    ``scale``).  A uniform scaling or a translation of the codes changes no cell (only ``h``),
    so this is for conditioning and float32 accuracy; the scale is picked among a few
    candidates by a small pilot estimate so that the Voronoi diagram of the placed codes (the
    starting potential ``h_i = -|t_i|^2 / 2``) is as balanced as possible.  With
    ``normalize=False`` the result's targets are the codes themselves and the potential is
    rescaled accordingly (same cells).  Non-convergence warns, naming the knob to turn.

    Stopping: at the full budget, ``PATIENCE`` (3) iterations without a 5% smaller error end
    the solve (status ``"noise_floor"`` when the error is within 1.5x the noise floor of the
    budget, else ``"stalled"``) instead of looping to ``max_iter``; the result's ``status``,
    ``converged`` and ``errors[-1]`` (p95, max, noise_p95) say how far it got.

    Cost: one iteration scores ``M x n`` pairs (``2 d`` flops each, float32 matmul tiles on
    ``y``'s device) and the solve ends with ``M`` of about ``900 n`` for ``tol=0.1``: for
    ``n = 1000, d = 64`` a few seconds on one CPU core; ``n = 60000`` needs ``M`` near
    ``5e7`` per iteration, hours on a CPU, seconds per iteration on a GPU (or loosen ``tol``).
    Memory: O(n d) plus the Hessian's slab pairs of ``hessian_samples`` samples and one
    chunk x target_chunk score tile; never an n x M matrix.
    Same seed, same device type: same result (on CUDA the float64 ``index_add_`` sums may
    differ in the last bits between runs).
    """
    if method not in ("newton", "adam"):
        raise ValueError(f"method must be 'newton' or 'adam', got {method!r}")
    y, nu, low, high = validate_inputs(
        y, weights, low, high, max_iter=max_iter, tol=tol, tol_max=tol_max, lr=lr, n_samples=n_samples,
        max_samples=max_samples, hessian_samples=hessian_samples, qmc=qmc, chunk_size=chunk_size,
        target_chunk=target_chunk, max_time=max_time,
    )
    comm = Comm(group, distributed)
    device = y.device
    n, d = y.shape
    s = int(chunk_size or default_chunk_size(device))
    if not (isinstance(checkpoint_every, (int, float)) and checkpoint_every >= 0):
        raise ValueError(f"checkpoint_every must be a number of seconds >= 0, got {checkpoint_every!r}")
    # the stopping rule as the checkpoint's JSON holds it (inf as null), to compare with a saved one
    stop = json.loads(to_json(dict(zip(STOP_KNOBS, (tol, tol_max, max_iter, max_samples, max_time)))))
    ckpt, saved = None, None
    if checkpoint is not None:
        if comm.world_size > 1:
            raise ValueError("checkpoint= is for a single-process solve; under a process group leave it None")
        ckpt = SolveCheckpoint(checkpoint, every=checkpoint_every, fingerprint=fingerprint(
            y, nu, low, high, seed=seed, qmc=qmc, method=method, chunk=s, target_chunk=target_chunk, n_samples=n_samples,
            hessian_samples=hessian_samples, multiscale=bool(multiscale)))
        saved = ckpt.load()
        if saved is not None and saved.get("result") is not None and saved["stop"] == stop:
            logger.info("solve_semidiscrete: %s holds a finished solve with the same stopping rule", checkpoint)
            return SemiDiscreteResult(**_to_device(saved["result"], device))
    stream = ChunkStream(d, low, high, chunk=s, seed=seed, qmc=qmc, device=device)

    y64 = y.to(torch.float64)
    center = y64.mean(0)  # (d,)
    spread = float((y64 - center).pow(2).mean().sqrt())
    u = (y64 - center) / (spread if spread > 0 else 1.0)  # (n, d) unit global scale
    box_mid = (low + high) / 2  # (d,)
    side = float((high - low).mean())

    if n == 1:
        return _single_target(y, nu, low, high, box_mid, center, normalize)

    t_start = time.perf_counter()
    if saved is None:
        # ---- pilot: choose the placement scale of the codes in the box, and delta
        m_pilot = _chunks(max(4 * n, 4 * s), s)
        alpha, delta0 = choose_placement(u, nu, box_mid, side, stream, comm, m_pilot, target_chunk)
        next_chunk, used = m_pilot, m_pilot * s
    else:
        alpha, delta0 = float(saved["alpha"]), float(saved["delta0"])
        next_chunk, used = int(saved["next_chunk"]), int(saved["used"])
        t_start -= float(saved["elapsed"])
        logger.info("solve_semidiscrete: resuming from %s after %d iterations", checkpoint, int(saved["it"]))
    t64 = box_mid + alpha * side * u  # (n, d) targets in box coordinates
    scale = spread / (alpha * side) if spread > 0 else 1.0
    h = -0.5 * t64.pow(2).sum(1)
    h -= h.mean()  # (n,) Voronoi diagram of the placed codes
    warm = None
    if saved is not None:
        h, warm = saved["h"].to(device), saved["warm"]
    elif multiscale and n >= _sdot_multiscale.MIN_N:
        h, warm = _coarse_start(
            t64, nu, low, high, seed=seed, tol=tol, tol_max=tol_max, method=method, lr=lr, qmc=qmc,
            chunk_size=chunk_size, target_chunk=target_chunk, progress=progress, group=group,
            distributed=distributed, max_time=max_time,
        )
        used += warm["n_samples"]
    t32 = t64.to(torch.float32)
    scorer = PowerScorer(t32, h, target_chunk=target_chunk)
    if method == "newton":
        stepper = NewtonStepper(n, delta0, device=device)
    else:  # "adam" (validated): the reference code's update, with lr in units of delta0
        stepper, lr = AdamStepper(n, delta0, device=device, lr=lr), 1.0

    m = _chunks(n_samples or 16 * n, s) if saved is None else int(saved["m"])
    need = samples_for_tol(nu, tol, tol_max)  # least budget whose noise lets tol be certified
    m_max = max(m, (max_samples if max_samples is not None else HEADROOM * need) // s)
    if max_samples is not None and (msg := budget_warning(nu, tol, tol_max, m_max * s)):
        warnings.warn(msg, RuntimeWarning, stacklevel=2)
    m_hess = _chunks(hessian_samples or 64 * n, s) if method == "newton" else 0
    m_cap = _chunks(min(8 * n, 1 << 18), s)  # samples kept to place empty cells
    m_cap = min(m_hess, m_cap) if m_hess else m_cap
    errors: list[dict] = []
    best, stall, converged, status = (math.inf, math.inf), 0, False, "max_iter"
    top_best, top_stall = (math.inf, math.inf), 0  # progress at the full budget m_max
    patience = PATIENCE if method == "newton" else PATIENCE_ADAM
    start_it = 0
    if saved is not None:
        stepper.load_state_dict(saved["stepper"])
        errors, start_it = list(saved["errors"]), int(saved["it"])
        best, stall = tuple(saved["best"].tolist()), int(saved["stall"])
        top_best, top_stall = tuple(saved["top_best"].tolist()), int(saved["top_stall"])
        if start_it >= max_iter:
            raise ValueError(f"{checkpoint}: the saved solve has run {start_it} iterations, max_iter={max_iter}; "
                             f"raise max_iter to carry on")

    def snapshot(next_it: int, result: dict | None = None) -> dict:
        return {"alpha": alpha, "delta0": delta0, "h": h, "stepper": stepper.state_dict(), "it": next_it, "m": m,
                "next_chunk": next_chunk, "used": used, "best": torch.tensor(best, dtype=torch.float64),
                "stall": stall, "top_best": torch.tensor(top_best, dtype=torch.float64), "top_stall": top_stall,
                "elapsed": time.perf_counter() - t_start, "errors": errors, "warm": warm, "stop": stop,
                "result": result}

    for it in range(start_it, max_iter):
        t_iter = time.perf_counter()
        mh, mc = min(m, m_hess), min(m, m_cap)
        est = estimate(scorer, stream, comm, next_chunk, m, mh, mc, stepper.delta, n)
        next_chunk += m
        used += m * s
        mu = est["counts"].to(torch.float64) / (m * s)  # (n,)
        e = (mu / nu - 1.0).abs()
        p95, emax = float(torch.quantile(e, 0.95)), float(e.max())
        noise, nmax = noise_p95(nu, m * s), noise_max(nu, m * s)  # Monte Carlo noise of this estimate
        rec = {
            "iter": it + 1, "p95": p95, "max": emax, "mean": float(e.mean()), "empty": int((mu == 0).sum()),
            "n_samples": m * s, "total_samples": used, "noise_p95": noise, "noise_max": nmax,
            "delta": float(stepper.delta.median()),
        }
        errors.append(rec)
        if progress is not None:
            progress({"event": "step", "task": "sdot", "step": it + 1, "total": max_iter, "p95": p95,
                      "max": emax, "empty": rec["empty"], "n_samples": m * s, "tol": tol, "tol_max": tol_max})
        converged = p95 <= tol and emax <= tol_max
        if converged:
            status = "converged"
            break
        if m >= m_max:  # at the full budget: stop when the error no longer improves
            if p95 < 0.95 * top_best[0] or emax < 0.95 * top_best[1]:
                top_best, top_stall = (min(p95, top_best[0]), min(emax, top_best[1])), 0
            else:
                top_stall += 1
            if top_stall >= patience:
                floor = p95 <= max(tol, NOISE_MARGIN * noise) and emax <= max(tol_max, 3 * nmax)
                status = "noise_floor" if floor else "stalled"
                break
        elapsed = time.perf_counter() - t_start
        if it == 0:
            per = (time.perf_counter() - t_iter) / (m * s)
            logger.info("solve_semidiscrete: n=%d, tol=%g needs about %d samples per iteration (cap %d); at "
                        "%.3g us per sample (the first iteration's rate, pessimistic for small n) an iteration at that "
                        "budget takes about %.0f s", n, tol, need,
                        m_max * s, per * 1e6, per * need)
        if max_time is not None:
            if elapsed >= max_time:
                status = "max_time"
                break
            if it == 0:
                _warn_time(max_time, elapsed, time.perf_counter() - t_iter, m * s, need, m_max * s)
        if it == max_iter - 1:
            break
        # ---- damped Newton step; empty cells are raised to capture their share
        dh = stepper.step(mu, nu, m * s, est, mh * s)
        empty = (est["counts"] == 0).nonzero().flatten()
        if empty.numel():
            # the raise is computed against the other cells' *stepped* potentials: against the
            # old ones, a near-duplicate neighbour that the step also shrinks would be emptied
            dh[empty] = 0.0
            h_new = h + lr * dh
            rescore = PowerScorer(t32, h_new, target_chunk=target_chunk)
            kept = [(x, rescore.argmax(x)[0]) for x, _ in est["kept"]]
            dh[empty] = capture_raise(t32, h_new, empty, nu, kept, comm, mc * s) / lr
        h = h + lr * dh
        h -= h.mean()
        comm.broadcast_(h)
        scorer.set_potential(h)
        # ---- budget: double at the noise floor, or when progress stalls not far above it
        # (a few cells far above the noise, e.g. oscillating, are the trust radii's business)
        if p95 < 0.95 * best[0] or emax < 0.95 * best[1]:
            best, stall = (min(p95, best[0]), min(emax, best[1])), 0
        else:
            stall += 1
        max_ok = max(3 * nmax, tol_max)  # beyond it the largest error is not noise
        at_floor = p95 < 1.5 * noise and emax < max_ok
        if (at_floor or (stall >= 2 and p95 < 4 * noise and emax < 2 * max_ok)) and m < m_max:
            m, best, stall = min(2 * m, m_max), (math.inf, math.inf), 0
        if ckpt is not None and ckpt.due():
            ckpt.save(snapshot(it + 1))

    if not converged:
        warnings.warn(_stop_message(status, errors[-1], tol, tol_max, max_iter, max_samples, max_time, need),
                      RuntimeWarning, stacklevel=2)

    csum = comm.all_reduce_(est["center_sums"])
    counts = est["counts"]
    empty = counts == 0
    centers = csum / counts.clamp_min(1).to(torch.float64).unsqueeze(1)
    fallback = torch.minimum(torch.maximum(t64, low), high)  # the placed code, clipped to the box
    centers = torch.where(empty.unsqueeze(1), fallback, centers)
    if normalize:
        targets, potential = t64, h
        scale_rec = {"center": center, "scale": scale, "offset": box_mid}
    else:
        targets, potential = y64, h * scale  # same cells: <x, y> + scale h = scale (<x, t> + h) + f(x)
        scale_rec = {"center": torch.zeros_like(center), "scale": 1.0, "offset": torch.zeros_like(center)}
    potential = potential - potential.mean()
    result = SemiDiscreteResult(
        potential=potential.to(torch.float32), targets=targets.to(torch.float32), weights=nu,
        centers=centers.to(torch.float32), cell_mass=mu, low=low, high=high, errors=errors,
        converged=converged, n_iter=len(errors), n_samples=used, scale=scale_rec, empty=empty, status=status,
        warm_start=warm,
    )
    if ckpt is not None:
        ckpt.save(snapshot(len(errors), {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}))
    return result


def _to_device(obj, device):
    """A loaded nested state with its tensors moved to ``device``."""
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_device(v, device) for v in obj]
    return obj


COARSE_TOL = 0.2  # the coarse solve's p95 tolerance (at least the fine one's): it only has to be near


def _coarse_start(t64: Tensor, nu: Tensor, low: Tensor, high: Tensor, *, seed: int, tol: float, tol_max: float,
                  progress, max_time, **solve_kw) -> tuple[Tensor, dict]:
    """Starting potential (n,) float64 of the placed targets from a solve on their clusters."""
    t0 = time.perf_counter()
    assign, centers, mass = cluster(t64, nu, max(2, t64.shape[0] // FACTOR), seed=seed)
    with warnings.catch_warnings():  # the coarse solve's own accuracy is recorded, the fine solve decides
        warnings.simplefilter("ignore", RuntimeWarning)
        res = _coarse_solve(centers, mass, low, high, tol, tol_max, seed, progress, max_time, solve_kw)
    h = carry_potential(t64, assign, res.targets, res.potential, res.centers, res.cell_mass,
                        float((high - low).prod()))
    info = {"n": int(centers.shape[0]), "n_iter": res.n_iter, "status": res.status, "n_samples": res.n_samples,
            "seconds": time.perf_counter() - t0, "p95": res.errors[-1]["p95"] if res.errors else 0.0}
    if res.warm_start is not None:
        info["warm_start"] = res.warm_start
    return h, info


def _coarse_solve(centers, mass, low, high, tol, tol_max, seed, progress, max_time, solve_kw) -> SemiDiscreteResult:
    def coarse_progress(ev: dict) -> None:
        progress({**ev, "task": "sdot-coarse"})

    return solve_semidiscrete(
        centers, weights=mass / mass.sum(), low=low, high=high, tol=max(tol, COARSE_TOL), tol_max=max(tol_max, 1.0),
        seed=seed + 1, normalize=False, progress=coarse_progress if progress is not None else None,
        max_time=max_time, **solve_kw,
    )


def _stop_message(status: str, last: dict, tol: float, tol_max: float, max_iter: int, max_samples: int | None,
                  max_time: float | None, need: int) -> str:
    """The non-convergence warning: where the solve stopped, how accurate it got, the knob to turn."""
    where = {
        "max_iter": f"in max_iter={max_iter} iterations",
        "noise_floor": f"at the Monte Carlo noise floor of max_samples={max_samples or last['n_samples']}",
        "stalled": "after iterations without progress at the full budget",
        "max_time": f"within max_time={max_time} s",
    }[status]
    if status == "noise_floor":
        knob = f"raise max_samples to >= {need} (or leave it None)"
    elif status == "stalled":
        knob = "lower lr (damping of the step) or raise max_samples"
    elif status == "max_time":
        knob = "raise max_time"
    elif last["noise_p95"] > tol / NOISE_MARGIN:  # max_iter, with a budget too small for tol
        knob = f"raise max_samples to >= {need} (or leave it None) and max_iter"
    else:
        knob = "raise max_iter"
    return (
        f"solve_semidiscrete did not converge {where}: relative cell error p95={last['p95']:.3g} (tol={tol}), "
        f"max={last['max']:.3g} (tol_max={tol_max}) with {last['n_samples']} samples per iteration "
        f"(noise floor p95~{last['noise_p95']:.3g}); {knob}, or loosen tol/tol_max"
    )


def _warn_time(max_time: float, elapsed: float, it_seconds: float, m: int, need: int, m_max: int) -> None:
    """After the first iteration: warn when the budget ``tol`` needs is predicted to exceed max_time."""
    per_sample = it_seconds / m
    # the budget doubles from m to ``need``: about 4 iterations' worth of ``need`` samples in all
    predicted = elapsed + 4 * need * per_sample
    if predicted <= max_time:
        return
    reach = max(m, min(m_max, int((max_time - elapsed) / (4 * per_sample))))
    warnings.warn(
        f"max_time={max_time} s is predicted to stop the solve early: the budget tol needs ({need} samples per "
        f"iteration) takes about {predicted:.0f} s at {per_sample * 1e6:.2f} us per sample; within max_time the "
        f"budget reaches about {reach} samples per iteration; raise max_time or loosen tol",
        RuntimeWarning, stacklevel=3,
    )


def _chunks(samples: int, s: int) -> int:
    return max(1, -(-int(samples) // s))


def _single_target(y, nu, low, high, box_mid, center, normalize) -> SemiDiscreteResult:
    targets = (box_mid if normalize else y[0].to(torch.float64)).unsqueeze(0)
    return SemiDiscreteResult(
        potential=torch.zeros(1, device=y.device), targets=targets.to(torch.float32), weights=nu,
        centers=box_mid.unsqueeze(0).to(torch.float32), cell_mass=torch.ones(1, dtype=torch.float64, device=y.device),
        low=low, high=high, errors=[], converged=True, n_iter=0, n_samples=0,
        scale={"center": center if normalize else torch.zeros_like(center), "scale": 1.0,
               "offset": box_mid if normalize else torch.zeros_like(center)},
        empty=torch.zeros(1, dtype=torch.bool, device=y.device),
    )
