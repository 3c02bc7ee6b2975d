"""Images per second of each training stage with 1, 2, ... processes (issue 23).

    python benchmarks/distributed_throughput.py --nproc 1 2 --stages ae refine classifier

For each number of processes P the script launches itself under
``torchrun --standalone --nproc_per_node P`` (gloo on CPU, NCCL with ``--device cuda``); each
worker trains every stage for one timed epoch on random images of the chosen size (the
throughput does not depend on the pixels) after a short warm-up epoch, with the global batch
``--batch-size`` split over the P processes (aeot.distributed). Rank 0 prints one JSON line per
stage; the parent prints them again with a Markdown table (speed-up against the first P).

Stages: ``ae`` (autoencoder training, images = training images), ``refine`` (AE-OT-GAN, images
= fake-batch images of the generator steps, gaussian sampler), ``classifier`` (the domain
classifier, 1 x 28 x 28 images only). ``--threads`` sets torch's intra-op threads per process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

STAGES = ("ae", "refine", "classifier")
WORKER_ARGS = "AEOT_BENCHMARK_WORKER_ARGS"  # the parent's arguments, handed to the torchrun workers


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nproc", type=int, nargs="+", default=[1, 2], help="numbers of processes to compare")
    p.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    p.add_argument("--arch", default="infogan", help="autoencoder architecture (default infogan, the MNIST one)")
    p.add_argument("--image-size", type=int, default=28)
    p.add_argument("--n", type=int, default=1024, help="training images of the timed epoch")
    p.add_argument("--batch-size", type=int, default=64, help="the global batch")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    return p.parse_args(argv)


def _data(n: int, size: int, seed: int = 0):
    import torch

    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, size, size, generator=g), torch.randint(0, 10, (n,), generator=g)


def _time(fn) -> float:
    from aeot import distributed

    distributed.barrier()
    t0 = time.perf_counter()
    fn()
    distributed.barrier()
    return time.perf_counter() - t0


def stage_ae(args, device, n: int) -> tuple[float, int]:
    import torch

    from aeot.nets import make_autoencoder
    from aeot.train.autoencoder import AETrainConfig, train_autoencoder

    x, _ = _data(n, args.image_size)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = make_autoencoder(args.arch, image_shape=(1, args.image_size, args.image_size)).to(device)
    cfg = AETrainConfig(epochs=1, batch_size=args.batch_size)
    return _time(lambda: train_autoencoder(model, x, config=cfg)), n


def stage_refine(args, device, n: int) -> tuple[float, int]:
    import math

    import torch

    from aeot.nets import make_autoencoder
    from aeot.samplers import make_sampler
    from aeot.train.refine import RefineConfig, batch_composition, refine_generator

    x, _ = _data(n, args.image_size)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        ae = make_autoencoder(args.arch, image_shape=(1, args.image_size, args.image_size)).to(device).eval()
    with torch.no_grad():
        z = torch.cat([ae.encode(x[i : i + 256].to(device)) for i in range(0, n, 256)])
    sampler = make_sampler("gaussian", seed=1).fit(z)
    cfg = RefineConfig(epochs=1, batch_size=args.batch_size, g_steps=3, lr=1e-4, n_panel=2, n_eval=8)
    n_rec, _ = batch_composition(cfg.batch_size, cfg.ratio)
    steps = math.ceil(n / n_rec)  # generator steps of the epoch, each on a fake batch of batch_size images
    return _time(lambda: refine_generator(ae, sampler, x, z, config=cfg)), steps * cfg.batch_size


def stage_classifier(args, device, n: int) -> tuple[float, int]:
    from aeot.metrics.classifier import ClassifierConfig, train_classifier

    x, y = _data(n, 28)
    cfg = ClassifierConfig(epochs=1, batch_size=args.batch_size)
    return _time(lambda: train_classifier(x, y, n_classes=10, config=cfg, device=device)), n


def worker(args: argparse.Namespace) -> None:
    import torch

    from aeot import distributed

    torch.set_num_threads(args.threads)
    device = distributed.init_from_env(args.device)
    for name in args.stages:
        fn = globals()[f"stage_{name}"]
        fn(args, device, max(4 * args.batch_size, 256))  # warm-up: allocator, lazy initialisation
        seconds, images = fn(args, device, args.n)
        if distributed.rank() == 0:
            print(json.dumps({"stage": name, "processes": distributed.world_size(), "threads": args.threads,
                              "device": args.device, "arch": args.arch, "image_size": args.image_size,
                              "batch_size": args.batch_size, "images": images, "seconds": round(seconds, 3),
                              "images_per_second": round(images / seconds, 1)}), flush=True)
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def table(rows: list[dict]) -> str:
    base = {r["stage"]: r["images_per_second"] for r in rows if r["processes"] == rows[0]["processes"]}
    lines = ["| stage | processes | threads each | images/s | speed-up |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['stage']} | {r['processes']} | {r['threads']} | {r['images_per_second']:.1f} | "
                     f"{r['images_per_second'] / base[r['stage']]:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    if os.environ.get(WORKER_ARGS):  # a worker started by torchrun below
        worker(parse(json.loads(os.environ[WORKER_ARGS])))
        return 0
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), WORKER_ARGS: json.dumps(argv),
           "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    rows = []
    for p in args.nproc:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(p), __file__]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return proc.returncode
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                print(line, flush=True)
                rows.append(json.loads(line))
    rows.sort(key=lambda r: (STAGES.index(r["stage"]), r["processes"]))
    print()
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
