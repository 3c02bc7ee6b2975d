"""One cell of the 2-D table (aeot toy) for any sampler parameters: a probe.

    python benchmarks/toy_probe.py DATASET SAMPLER ['JSON params'] [--seed 0] [--steps 10000]

Fits ``make_sampler(SAMPLER, seed=..., steps=..., **params)`` (``steps`` only for the mapping
networks) on the training points of ``aeot toy``'s DATASET (moons or circles, the table's noise
and factor) for one seed, and scores it by the table's protocol against the same real batches:
the mean OT divergence between consecutive generated and real batches of 128. It prints one JSON
line with the score for i.i.d. prior draws (``qmc_sample=False``) and for Sobol draws
(``qmc_sample=True``) of the same fitted sampler, and the fit time; on circles also the fraction
of generated and of real points in the empty ring between the two circles (``between_circles``:
where a network that smooths across the OT map's tear puts points). docs/toy.md quotes the probes
it ran this way (the rows of the table itself come from ``aeot toy``).

Example (the OTtrans probes on circles in docs/toy.md):

    python benchmarks/toy_probe.py circles ottrans \
        '{"qmc_train": true, "lr_schedule": "cosine", "n_pairs": 10000, "lr": 0.001}' --seed 1
"""

from __future__ import annotations

import argparse
import json
import time

from aeot.errors import AeotError
from aeot.experiments.toy import ToyConfig, batched_divergence, fit_method, real_batches, training_points


def probe(dataset: str, sampler: str, params: dict, seed: int, steps: int) -> dict:
    cfg = ToyConfig(steps=steps)
    train = training_points(cfg, dataset, seed)  # (n_train, 2)
    real = real_batches(dataset, cfg, seed, split="test")  # (n_batches * batch_size, 2)
    t = time.perf_counter()
    fitted, _ = fit_method(cfg, sampler, params, train, seed)
    fit_s = time.perf_counter() - t
    out = {"dataset": dataset, "sampler": sampler, "params": params, "seed": seed, "steps": steps,
           "fit_seconds": round(fit_s, 1)}
    for qmc in (False, True):
        if hasattr(fitted, "qmc_sample"):
            fitted.qmc_sample = qmc
        elif qmc:
            continue
        gen = fitted.sample(cfg.n_batches * cfg.batch_size).double()  # (n_batches * batch_size, 2)
        scores = batched_divergence(gen, real, cfg.batch_size)
        out["sobol" if qmc else "iid"] = round(sum(scores) / len(scores), 4)
        if dataset == "circles":
            out.setdefault("between_circles", {})["sobol" if qmc else "iid"] = between(gen, cfg)
    if dataset == "circles":
        out["between_circles"]["real"] = between(real, cfg)
    return out


def between(points, cfg: ToyConfig) -> float:
    """Fraction of points (n, 2) in the empty ring between the two circles: radius more than 3
    noise standard deviations from both (factor + 3 noise < r < 1 - 3 noise)."""
    r = points.norm(dim=1)  # (n,)
    lo, hi = cfg.factor + 3 * cfg.noise, 1.0 - 3 * cfg.noise
    return round(float(((r > lo) & (r < hi)).double().mean()), 4)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", choices=["moons", "circles"])
    parser.add_argument("sampler")
    parser.add_argument("params", nargs="?", default="{}", help="sampler parameters as JSON")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=10000)
    args = parser.parse_args(argv)
    try:
        params = json.loads(args.params)
    except json.JSONDecodeError as err:
        parser.error(f"params must be a JSON object such as '{{\"n_clusters\": 8}}'; got {args.params!r} ({err})")
    if not isinstance(params, dict):
        parser.error(f"params must be a JSON object such as '{{\"n_clusters\": 8}}'; got {args.params!r}")
    try:
        result = probe(args.dataset, args.sampler, params, args.seed, args.steps)
    except (AeotError, TypeError) as err:  # unknown sampler or parameter, bad value
        parser.error(str(err))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
