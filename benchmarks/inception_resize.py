"""How much the resize convention moves Inception features and FID, on a real set (issue 22 item 4).

Takes ``--n`` Fashion-MNIST test images (the reference subset of ``aeot evaluate`` with seed 0),
splits them into the evaluator's two disjoint halves A and B, blurs B (sigma 1 px, the
evaluator's degraded row), and embeds all three sets with the FID Inception network under both
conventions of :mod:`aeot.metrics.inception` ("pytorch-fid": ``F.interpolate``; "fid-helper":
8-bit rounding then the NVIDIA-style bilinear). Reports

- the relative difference of the 2048-d features of the same images between the conventions
  (over the whole set, ``||F_pt - F_nv|| / ||F_pt||``, and the per-image median);
- FID(A, B) (the floor) and FID(A, blurred B) under each convention, and their relative change;
- FID(A, B) with A embedded by one convention and B by the other (what mixing them would give);
- the seconds per image of the network on this machine, with 1 and with 2 threads.

Writes ``benchmarks/results/inception_resize.json``; prints the JSON, then a Markdown table.

    PYTHONPATH=src python benchmarks/inception_resize.py [--n 1000] [--threads 1] [--timing-images 50]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from aeot.evaluation.reference import ReferenceSet
from aeot.evaluation.rows import blur, halves
from aeot.metrics import extract_features
from aeot.metrics.fid import fid_from_features
from aeot.metrics.inception import RESIZE_CONVENTIONS, WEIGHTS_SHA1, load_inception

OUT = Path(__file__).resolve().parent / "results" / "inception_resize.json"


def embed(net, x: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Features (n, 2048) of ``x`` and the seconds per image it took."""
    t0 = time.perf_counter()
    with torch.no_grad():
        f = extract_features(net, x, batch_size=50)
    return f.double(), (time.perf_counter() - t0) / x.shape[0]


def seconds_per_image(net, x: torch.Tensor, threads: int) -> float:
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.no_grad():
            net(x[:5])  # warm-up
        return embed(net, x)[1]
    finally:
        torch.set_num_threads(old)


def relative(a: float, b: float) -> float:
    return abs(a - b) / abs(a)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--n", type=int, default=1000, help="real test images, split into halves A and B (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads for the embeddings (default 1)")
    p.add_argument("--timing-images", type=int, default=50, help="images timed with 1 and with 2 threads")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    ref = ReferenceSet.select(args.dataset, args.n, seed=args.seed)
    ia, ib = halves(ref.n, args.seed)
    sets = {"A": ref.x[ia], "B": ref.x[ib], "B blurred": blur(ref.x[ib])}
    feats: dict[str, dict[str, torch.Tensor]] = {}
    per_image: dict[str, float] = {}
    for resize in RESIZE_CONVENTIONS:
        net = load_inception(resize=resize)
        feats[resize], secs = {}, []
        for name, x in sets.items():
            feats[resize][name], s = embed(net, x)
            secs.append(s)
        per_image[resize] = sum(secs) / len(secs)
    pt, nv = (feats[r] for r in RESIZE_CONVENTIONS)
    real_pt, real_nv = torch.cat([pt["A"], pt["B"]]), torch.cat([nv["A"], nv["B"]])
    per_img = ((real_pt - real_nv).norm(dim=1) / real_pt.norm(dim=1)).median().item()
    fid = {r: {"floor (A vs B)": fid_from_features(f["A"], f["B"]),
               "blurred (A vs blurred B)": fid_from_features(f["A"], f["B blurred"])} for r, f in feats.items()}
    timing_x = ref.x[: args.timing_images]
    net = load_inception(resize=RESIZE_CONVENTIONS[0])
    timing = {f"{t} thread{'s' if t > 1 else ''}": seconds_per_image(net, timing_x, t) for t in (1, 2)}
    result = {
        "dataset": args.dataset, "split": "test", "n_real": ref.n, "halves": [int(ia.numel()), int(ib.numel())],
        "seed": args.seed, "network_sha1": WEIGHTS_SHA1, "conventions": list(RESIZE_CONVENTIONS),
        "feature_relative_difference": {
            "whole set (Frobenius)": ((real_pt - real_nv).norm() / real_pt.norm()).item(),
            "per image (median)": per_img},
        "fid": fid,
        "fid_relative_difference": {row: relative(fid["pytorch-fid"][row], fid["fid-helper"][row])
                                    for row in fid["pytorch-fid"]},
        "fid_mixed": {"A pytorch-fid vs B fid-helper": fid_from_features(pt["A"], nv["B"]),
                      "A fid-helper vs B pytorch-fid": fid_from_features(nv["A"], pt["B"])},
        "seconds_per_image": {f"{r} ({args.threads} thread{'s' if args.threads > 1 else ''}, batches of 50)": s
                              for r, s in per_image.items()},
        "seconds_per_image_timing": {f"{k}, {args.timing_images} images": v for k, v in timing.items()},
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "torch": torch.__version__,
                    "load_average_1_5_15_min_at_end": list(os.getloadavg())},
        "command": f"PYTHONPATH=src python benchmarks/inception_resize.py --n {args.n} --threads {args.threads}",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print()
    print(markdown(result))


def markdown(r: dict) -> str:
    a, b = r["halves"]
    lines = [f"{r['dataset']} test images, halves A and B of {a} and {b} (seed {r['seed']}); B blurred: sigma 1 px.",
             "", "| | pytorch-fid | fid-helper | relative difference |", "|---|---:|---:|---:|"]
    for row, d in r["fid_relative_difference"].items():
        lines.append(f"| FID, {row} | {r['fid']['pytorch-fid'][row]:.3f} | {r['fid']['fid-helper'][row]:.3f} "
                     f"| {d:.1%} |")
    f = r["feature_relative_difference"]
    lines += ["", f"Features of the same {r['n_real']} images, fid-helper against pytorch-fid: "
              f"{f['whole set (Frobenius)']:.1%} of the norm over the set, {f['per image (median)']:.1%} per image "
              f"(median).", "FID with the two halves embedded by different conventions: "
              + "; ".join(f"{k} {v:.3f}" for k, v in r["fid_mixed"].items()) + ".",
              "Seconds per image: " + "; ".join(f"{k}: {v:.3f}" for k, v in
                                                {**r["seconds_per_image"], **r["seconds_per_image_timing"]}.items())
              + "."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
