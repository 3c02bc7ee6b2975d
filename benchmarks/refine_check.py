"""Domain-free checks of an AE-OT-GAN refinement: the decoder (epoch 0) against the generator.

    python benchmarks/refine_check.py RUN_DIR [--n 2000] [--json out.json]

Prints JSON with, for the AE-OT decoder and the refined AE-OT-GAN generator:

* ``test_recon_mse``: per-pixel MSE of ``g(f(x))`` on the held-out test split (the generator
  must stay a decoder of the frozen encoder's codes);
* ``sharpness``: mean absolute Laplacian of ``n`` generated images (AE-OT samples are blurry;
  real test images give the target value, printed as ``real_sharpness``);
* ``class_counts``: classes of the ``n`` generated images under a logistic regression trained
  on the run's training pixels (every class should stay present), with its test accuracy.

This is no substitute for FID (the evaluation work brings it); it needs no feature network.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch
import torch.nn.functional as F

from aeot.io import load_checkpoint
from aeot.run.config import load_data, read_run_config
from aeot.run.generator import load_generator
from aeot.samplers import load_sampler
from aeot.train import load_autoencoder

LAPLACE = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def sharpness(x: torch.Tensor) -> float:
    """Mean |Laplacian| over pixels and channels of images (N, C, H, W)."""
    c = x.shape[1]
    k = LAPLACE.to(x).expand(c, 1, 3, 3)
    return float(F.conv2d(x, k, groups=c).abs().mean())


@torch.no_grad()
def decode(net, z, bs=256):
    return torch.cat([net(z[i : i + bs]) for i in range(0, z.shape[0], bs)])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cfg = read_run_config(args.run_dir)
    train, test = load_data(cfg.data, "train"), load_data(cfg.data, "test")
    ae = load_autoencoder(f"{args.run_dir}/autoencoder.safetensors")
    gen = load_generator(args.run_dir)
    sampler = load_sampler(f"{args.run_dir}/sampler.safetensors")
    z = sampler.sample(args.n, generator=torch.Generator().manual_seed(123))
    with torch.no_grad():
        z_test = torch.cat([ae.encode(test.x[i : i + 256]) for i in range(0, test.x.shape[0], 256)])
    out = {"run_dir": args.run_dir, "n": args.n, "real_sharpness": sharpness(test.x)}
    clf = None
    if train.y is not None:
        from sklearn.linear_model import LogisticRegression

        clf = LogisticRegression(max_iter=300).fit(train.x.flatten(1).numpy(), train.y.numpy())
        out["classifier_test_accuracy"] = float(clf.score(test.x.flatten(1).numpy(), test.y.numpy()))
    for name, net in (("aeot_decoder", ae.decoder.eval()), ("aeotgan_generator", gen)):
        images = decode(net, z)
        row = {"test_recon_mse": float(((decode(net, z_test) - test.x) ** 2).mean()),
               "sharpness": sharpness(images)}
        if clf is not None:
            pred = clf.predict(images.flatten(1).numpy())
            row["class_counts"] = np.bincount(pred, minlength=int(train.y.max()) + 1).tolist()
        out[name] = row
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
