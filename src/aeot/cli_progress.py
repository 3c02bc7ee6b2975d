"""Progress display of the command line: tqdm bars and stage lines for the library's events.

A fit that stops on a tolerance (the semi-discrete OT solve of the ``sdot`` sampler) has no
known number of steps: its bar counts iterations without an ETA and shows the errors that
decide when it stops (``p95``, ``max``: the 95th percentile and the largest relative error
``|cell mass / target mass - 1|`` over the cells; ``empty``: cells that no sample reached) next
to their tolerances. Its ``max_iter`` is an upper bound, not the expected length.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["SDOT_FIELDS", "TqdmProgress", "sdot_stop_rule"]

SDOT_FIELDS = ("p95: 95th percentile of the cells' relative mass error |mu_i / nu_i - 1|; max: its largest "
               "value; empty: cells no sample fell in. The fit stops when p95 <= tol and max <= tol_max "
               "(or after max_iter iterations, with a warning)")


def sdot_stop_rule(params: dict[str, Any] | None = None) -> dict[str, Any]:
    """``{"tol", "tol_max", "max_iter"}`` of an sdot fit with sampler ``params`` (else the solver's defaults)."""
    import inspect

    from aeot.ot.semidiscrete import solve_semidiscrete

    defaults = {k: v.default for k, v in inspect.signature(solve_semidiscrete).parameters.items()}
    params = params or {}
    return {k: params[k] if params.get(k) is not None else defaults[k] for k in ("tol", "tol_max", "max_iter")}


class TqdmProgress:
    """Turns the library's progress events into tqdm bars and stage lines.

    ``stop_rules``: task name -> ``{"tol", "tol_max", "max_iter"}`` for fits that stop on a
    tolerance (default: the sdot solver's defaults).
    """

    def __init__(self, stream=sys.stderr, log=sys.stdout, stop_rules: dict[str, dict[str, Any]] | None = None):
        self.stream = stream  # bars (stderr, like every progress bar)
        self.log = log  # stage lines (stdout): stderr keeps only bars and the error line
        self.bar = None
        self.stop_rules = stop_rules or {}

    def __call__(self, event: dict[str, Any]) -> None:
        from tqdm import tqdm

        kind = event.get("event")
        if kind == "stage":
            self.close()
            print(f"[{event['stage']}] {event.get('message', '')}", file=self.log, flush=True)
        elif kind == "batch":
            total = event["epochs"] * event["n_batches"]
            if self.bar is None:
                done = (event["epoch"] - 1) * event["n_batches"] + event["batch"] - 1
                self.bar = tqdm(total=total, initial=done, desc="train-ae", unit="batch",
                                file=self.stream, dynamic_ncols=True, mininterval=0.5)
            self.bar.update(1)
            self.bar.set_postfix(epoch=f"{event['epoch']}/{event['epochs']}", loss=f"{event['loss']:.4f}",
                                 refresh=False)
        elif kind == "step" and event.get("task") == "sdot":
            self._tolerance_step(event)
        elif kind == "step":  # generic long fit: {"task", "step", "total", **numbers}
            if self.bar is None or getattr(self.bar, "desc", None) != event["task"]:
                self.close()
                self.bar = tqdm(total=event["total"], initial=event["step"] - 1, desc=event["task"],
                                file=self.stream, dynamic_ncols=True, mininterval=0.5)
            self.bar.update(event["step"] - self.bar.n)
            extra = {k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in event.items()
                     if k not in ("event", "task", "step", "total")}
            if extra:
                self.bar.set_postfix(extra, refresh=False)
            if event["step"] >= event["total"]:
                self.close()
        elif kind == "epoch" and self.bar is not None:
            self.bar.set_postfix(epoch=f"{event['epoch']}/{event['epochs']}",
                                 train=f"{event['train_mse']:.4f}", val=f"{event['val_mse']:.4f}")
            if event["epoch"] == event["epochs"]:
                self.close()

    def _tolerance_step(self, event: dict[str, Any]) -> None:
        """An sdot iteration: a count without ETA, and each stopping error beside its tolerance."""
        from tqdm import tqdm

        rule = self.stop_rules.get("sdot") or sdot_stop_rule()
        if self.bar is None or getattr(self.bar, "desc", None) != "sdot":
            self.close()
            self.bar = tqdm(total=None, initial=event["step"] - 1, desc="sdot", unit="iter",
                            file=self.stream, dynamic_ncols=True, mininterval=0.5,
                            bar_format="{desc}: iteration {n_fmt} (at most " + str(event.get("total") or
                                                                                 rule["max_iter"])
                                       + ") [{elapsed}, {rate_fmt}]{postfix}")
        self.bar.update(event["step"] - self.bar.n)
        post = {"p95": f"{event.get('p95', float('nan')):.3g} (stop <= {rule['tol']:g})",
                "max": f"{event.get('max', float('nan')):.3g} (stop <= {rule['tol_max']:g})",
                "empty": event.get("empty")}
        self.bar.set_postfix(post, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
