"""How much the per-epoch FID of `aeot refine` moves with the latents alone.

Decodes ``--n`` latents of the run's sampler for each of ``--seeds`` with the AE-OT decoder
(epoch 0) and, when the run was refined, with the refined generator, and prints FID, classes
covered and KL to the real labels for each (the callback of the refine stage). A change of
FID between epochs smaller than the spread over seeds is noise.

    PYTHONPATH=src python benchmarks/refine_fid_noise.py RUN_DIR [--n 1000] [--seeds 0 1 2 3 4]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

from aeot.run.generator import load_generator
from aeot.run.refine_metrics import DEFAULT_FID_N, fid_callback_for_run
from aeot.samplers import load_sampler
from aeot.train.autoencoder import load_autoencoder


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path)
    p.add_argument("--n", type=int, default=DEFAULT_FID_N)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = p.parse_args()
    cb, info = fid_callback_for_run(args.run_dir, n=args.n)
    if cb is None:
        raise SystemExit(info["note"])
    sampler = load_sampler(args.run_dir / "sampler.safetensors")
    nets = {"decoder (epoch 0)": load_autoencoder(args.run_dir / "autoencoder.safetensors").decoder.eval()}
    if (args.run_dir / "refine" / "generator.safetensors").is_file():
        nets["refined generator"] = load_generator(args.run_dir)
    for name, net in nets.items():
        rows = []
        for seed in args.seeds:
            z = sampler.sample(args.n, generator=torch.Generator(device=sampler.device_).manual_seed(10_000 + seed))
            with torch.no_grad():
                x = torch.cat([net(z[i : i + 256]) for i in range(0, args.n, 256)])
            rows.append(cb.measure(x))
        fids = [r["fid"] for r in rows]
        print(f"{name}: FID " + " ".join(f"{f:.4g}" for f in fids) + f"; mean {statistics.mean(fids):.4g}, "
              f"sd {statistics.stdev(fids) if len(fids) > 1 else 0:.3g}; classes "
              + " ".join(str(r.get("classes_covered")) for r in rows)
              + "; KL " + " ".join(f"{r.get('kl_to_real', float('nan')):.3g}" for r in rows))
    print(f"n {args.n} generated vs {info['n_real']} real test images, classifier {info['classifier']}")


if __name__ == "__main__":
    main()
