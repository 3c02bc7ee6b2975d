"""A command under torchrun: join the process group before it, leave it after (:mod:`aeot.distributed`).

``torchrun --nproc_per_node N -m aeot COMMAND ...`` starts N copies of the command. Each joins the
group (gloo on CPU, NCCL on CUDA with one GPU per process), rank 0 alone prints, draws progress bars
and writes files; the others compute their share. Commands that do not train
(``evaluate``, ``compare``, ...) are refused under torchrun with a one-line error.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Callable

from aeot import distributed
from aeot.errors import ConfigError

__all__ = ["DISTRIBUTED_COMMANDS", "add_backend_option", "run_launched"]

DISTRIBUTED_COMMANDS = ("run", "train-ae", "sample", "refine", "classifier train", "baseline train", "reproduce")


def add_backend_option(p: argparse.ArgumentParser) -> None:
    """``--dist-backend {auto,gloo,nccl}`` and mark the command as one that runs under torchrun."""
    p.add_argument("--dist-backend", dest="dist_backend", default="auto", choices=list(distributed.BACKENDS),
                   help="process-group backend under torchrun (default auto: nccl with --device cuda, gloo on cpu)")
    p.set_defaults(distributed=True)


def run_launched(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """``func(args)``, inside torchrun's process group when launched by torchrun (``WORLD_SIZE`` > 1)."""
    launch = distributed.launch_from_env()
    if launch.world_size == 1:
        return func(args)
    if not getattr(args, "distributed", False):
        raise ConfigError(f"aeot {args.command} runs in one process; launch it without torchrun (under torchrun: "
                          f"aeot {', '.join(DISTRIBUTED_COMMANDS)})")
    args.device = distributed.init_from_env(args.device, args.dist_backend)
    try:
        with open(os.devnull, "w") as quiet, contextlib.ExitStack() as stack:
            if launch.rank != 0:  # rank 0 prints the results; every rank prints its errors (stderr)
                stack.enter_context(contextlib.redirect_stdout(quiet))
            return func(args)
    finally:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
