"""Data-parallel runs on ``torch.distributed``: the process group, who writes, and batch shards.

Launch any training command under torchrun (docs/distributed.md)::

    torchrun --standalone --nproc_per_node 2 -m aeot run --data digits --out runs/d2

The ``aeot`` command calls :func:`init_from_env` first: under torchrun (``WORLD_SIZE`` > 1) it
joins the process group, gloo on CPU and NCCL on CUDA (one GPU per process, ``cuda:LOCAL_RANK``).
The library then follows four rules, so that N processes compute what one process computes:

* **One global batch.** Every rank builds the same global batch of a step (the batch order
  and every random draw of the step come from the run's one seed, on every rank) and keeps
  its contiguous share :func:`shard`. ``--batch-size`` is the global batch; it must be a
  multiple of the number of processes (:func:`check_batch`). Losses are means over the whole
  global batch (:func:`global_mean`), so DistributedDataParallel's average of the ranks'
  gradients is the gradient one process computes on the whole batch: N processes x b/N equal
  1 process x b up to float summation order.
* **Rank 0 writes.** Run directories, checkpoints, reports, plots and caches are written by
  rank 0 alone (:func:`on_main`); the other ranks compute and wait. Every rank reads the same
  files (a resumed run loads the same checkpoint on every rank).
* **Inside** :func:`on_main` **a process is alone**: :func:`active` is False there, so a
  function called on rank 0 only (the evaluation, a classifier trained into the cache) runs as
  a single process and never waits for the others.
* **BatchNorm.** On CUDA, :func:`wrap_ddp` converts batch norms to ``SyncBatchNorm`` (statistics
  over the global batch). On CPU it cannot: torch's ``SyncBatchNorm`` runs on CUDA/XPU/HPU
  only, so with gloo each process normalises its own share and the networks with batch norm
  (infogan, dcgan, conv64, resnet) train slightly differently from one process; mlp has none.
  Resuming with another number of processes is therefore refused when the networks have batch
  norm with per-process statistics (:func:`check_resume`).

Without a process group (or with one process) every function here is the identity.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from aeot.errors import AeotError, ConfigError

__all__ = ["BACKENDS", "Launch", "active", "all_gather", "all_sum", "alone", "barrier", "check_batch", "check_resume",
           "choose_backend", "global_mean", "has_batch_norm", "init_from_env", "is_main", "launch_from_env",
           "launch_record", "main_only", "on_main", "rank", "shard", "shard_range", "world_size", "wrap_ddp"]

BACKENDS = ("auto", "gloo", "nccl")
_ALONE: contextvars.ContextVar[bool] = contextvars.ContextVar("aeot_distributed_alone", default=False)


# ----------------------------------------------------------------------------- the launch
@dataclass(frozen=True)
class Launch:
    """Where torchrun placed this process: ``rank`` of ``world_size``, ``local_rank`` on its node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0


def launch_from_env(env: Mapping[str, str] | None = None) -> Launch:
    """The :class:`Launch` that torchrun's ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` describe.

    Parameters
    ----------
    env : mapping, optional
        The environment (default ``os.environ``). Without ``WORLD_SIZE`` the process is alone.

    Returns
    -------
    Launch
    """
    env = os.environ if env is None else env
    if "WORLD_SIZE" not in env:
        return Launch()
    try:
        values = {k: int(env.get(k, "0")) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    except ValueError:
        raise AeotError(f"RANK={env.get('RANK')!r}, WORLD_SIZE={env.get('WORLD_SIZE')!r}, LOCAL_RANK="
                        f"{env.get('LOCAL_RANK')!r} are not integers; launch aeot with torchrun") from None
    launch = Launch(values["RANK"], values["WORLD_SIZE"], values["LOCAL_RANK"])
    if launch.world_size < 1 or not 0 <= launch.rank < launch.world_size or launch.local_rank < 0:
        raise AeotError(f"RANK={launch.rank}, WORLD_SIZE={launch.world_size}, LOCAL_RANK={launch.local_rank} do not "
                        "describe a process of the group; launch aeot with torchrun")
    return launch


def choose_backend(requested: str, device: str, *, cuda_available: bool) -> str:
    """The process-group backend: ``"auto"`` is NCCL on CUDA and gloo on CPU.

    Parameters
    ----------
    requested : {"auto", "gloo", "nccl"}
    device : str
        The resolved device type, ``"cpu"`` or ``"cuda"``.
    cuda_available : bool

    Returns
    -------
    str
        ``"gloo"`` or ``"nccl"``; NCCL without CUDA is an :class:`AeotError`.
    """
    if requested not in BACKENDS:
        raise ConfigError(f"--dist-backend must be one of {', '.join(BACKENDS)}, got {requested!r}")
    if requested == "nccl" and not (cuda_available and device == "cuda"):
        why = "no CUDA device is available" if not cuda_available else "--device is cpu"
        raise AeotError(f"--dist-backend nccl needs CUDA GPUs, but {why}; use --dist-backend gloo (CPU) or "
                        "--device cuda on a GPU machine")
    if requested == "auto":
        return "nccl" if device == "cuda" else "gloo"
    return requested


def init_from_env(device: str = "auto", backend: str = "auto", *, env: Mapping[str, str] | None = None) -> str:
    """Join torchrun's process group when launched with ``WORLD_SIZE`` > 1; returns this process's device.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}
        ``"auto"``: CUDA when available. Under torchrun on CUDA the process takes
        ``cuda:LOCAL_RANK``.
    backend : {"auto", "gloo", "nccl"}
        See :func:`choose_backend`.
    env : mapping, optional
        The environment (default ``os.environ``).

    Returns
    -------
    str
        ``"cpu"``, ``"cuda"`` (one process) or ``"cuda:LOCAL_RANK"``.
    """
    launch = launch_from_env(env)
    cuda = torch.cuda.is_available()
    kind = ("cuda" if cuda else "cpu") if device == "auto" else device
    if kind == "cuda" and not cuda:
        raise AeotError("--device cuda: no CUDA device is available; use --device cpu")
    chosen = choose_backend(backend, kind, cuda_available=cuda)
    if launch.world_size == 1:
        return kind
    if kind == "cuda":
        if launch.local_rank >= torch.cuda.device_count():
            raise AeotError(f"LOCAL_RANK {launch.local_rank} but this node has {torch.cuda.device_count()} GPUs; "
                            "use --nproc_per_node at most the number of GPUs per node")
        torch.cuda.set_device(launch.local_rank)
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(chosen)
    return f"cuda:{launch.local_rank}" if kind == "cuda" else kind


# ----------------------------------------------------------------------------- who am I
def active() -> bool:
    """Whether a process group of more than one process is in use here (False inside :func:`on_main`)."""
    if _ALONE.get():
        return False
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 when :func:`active` is False)."""
    import torch.distributed as dist

    return dist.get_rank() if active() else 0


def world_size() -> int:
    """The number of processes sharing the work (1 when :func:`active` is False)."""
    import torch.distributed as dist

    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """Whether this process writes files: rank 0, or a process that is alone."""
    return rank() == 0


def barrier() -> None:
    """Wait for every rank (nothing when :func:`active` is False)."""
    if active():
        import torch.distributed as dist

        dist.barrier()


@contextlib.contextmanager
def alone() -> Iterator[None]:
    """A block in which this process acts as a single process (:func:`active` is False)."""
    token = _ALONE.set(True)
    try:
        yield
    finally:
        _ALONE.reset(token)


def on_main(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` on rank 0 alone; every rank returns its result or raises its error.

    Rank 0 runs ``fn`` inside :func:`alone`; its result (a picklable value: a summary dict, a
    path) is broadcast, so all ranks continue with the same value. When ``fn`` raises on
    rank 0 the error is raised again there and an :class:`AeotError` naming it on the other
    ranks, so no rank waits for a partner that has stopped.
    """
    return _on_rank0(fn, args, kwargs, share=True)


def main_only(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """:func:`on_main` for a result that cannot travel (a callback, a network): the other ranks get None."""
    return _on_rank0(fn, args, kwargs, share=False)


def _on_rank0(fn: Callable[..., Any], args: tuple, kwargs: dict, *, share: bool) -> Any:
    if not active():
        return fn(*args, **kwargs)
    import torch.distributed as dist

    result, error, box = None, None, [None]
    if dist.get_rank() == 0:
        try:
            with alone():
                result = fn(*args, **kwargs)
            box[0] = ("ok", result if share else None)
        except Exception as e:  # noqa: BLE001 - handed to every rank, raised again below
            error = e
            box[0] = ("error", f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    dist.broadcast_object_list(box, src=0)
    if error is not None:
        raise error
    status, value = box[0]
    if status == "error":
        raise AeotError(f"rank 0 stopped ({value})")
    return result if dist.get_rank() == 0 else value


# ----------------------------------------------------------------------------- batches and losses
def shard_range(m: int, rank: int, world_size: int) -> tuple[int, int]:
    """The half-open range ``[floor(r m / W), floor((r + 1) m / W))`` of ``m`` items kept by rank ``r``."""
    return (rank * m) // world_size, ((rank + 1) * m) // world_size


def shard(m: int) -> slice:
    """This rank's contiguous share of the ``m`` items of a global batch (all of them when alone)."""
    lo, hi = shard_range(m, rank(), world_size())
    return slice(lo, hi)


def global_mean(local_mean: torch.Tensor, n_local: int, n_global: int) -> torch.Tensor:
    """Scale a mean over this rank's ``n_local`` samples so that the ranks' average is the global mean.

    DistributedDataParallel averages the gradients of the ``W`` ranks; a rank whose loss is
    ``mean_local * n_local * W / n_global`` contributes ``sum_local / n_global * W``, so the
    average is the gradient of the mean over all ``n_global`` samples, also when the shares
    differ in size (the last, incomplete batch of an epoch). An empty share gives a zero loss
    that is still part of the graph (its mean is NaN): its backward pass takes part in the
    all-reduce of the gradients like every other rank's.
    """
    if n_local == 0:
        return local_mean.nan_to_num(0.0) * 0.0
    return local_mean * (n_local * world_size() / n_global)


def all_sum(values: list[float]) -> list[float]:
    """The sums over the ranks of ``values`` (one all-reduce of a float64 vector)."""
    if not active():
        return [float(v) for v in values]
    import torch.distributed as dist

    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


class _AllGather(torch.autograd.Function):
    """Concatenate equal-sized tensors of all ranks; the backward pass sums the ranks' gradients."""

    @staticmethod
    def forward(ctx, t: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist

        parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, t.contiguous())
        ctx.rank, ctx.n = dist.get_rank(), t.shape[0]
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist

        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n]


def all_gather(t: torch.Tensor) -> torch.Tensor:
    """The global batch of a per-sample tensor ``t`` (n_local, ...): every rank's share, in rank order.

    For a loss that is not a mean over samples (the MMD of WAE): each rank computes it on the
    gathered tensor; the backward pass sums the ranks' gradients of their share, so after
    DDP's average the gradient is that of the loss on the global batch. The shares must have
    equal sizes (a global batch that is a multiple of the processes, :func:`check_batch`).
    """
    return _AllGather.apply(t) if active() else t


def check_batch(name: str, batch_size: int) -> None:
    """Refuse a global batch that the processes cannot share evenly (one-line :class:`ConfigError`)."""
    w = world_size()
    if w > 1 and batch_size % w:
        raise ConfigError(f"{name} {batch_size} is the global batch and must be a multiple of the {w} processes; "
                          f"use {batch_size - batch_size % w or w} or {batch_size + w - batch_size % w}")


# ----------------------------------------------------------------------------- networks
def has_batch_norm(module: nn.Module) -> bool:
    """Whether ``module`` holds a batch norm layer (its statistics depend on the batch a process sees)."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def _backend() -> str | None:
    import torch.distributed as dist

    return dist.get_backend() if active() else None


def wrap_ddp(module: nn.Module) -> nn.Module:
    """``module`` inside DistributedDataParallel when :func:`active` (else ``module`` itself).

    Train through the returned wrapper and evaluate, save and load the module itself. On
    NCCL the batch norms of ``module`` are first replaced by ``SyncBatchNorm`` (in place; the
    state dict keys stay the same); on gloo they keep per-process statistics (module docstring).
    """
    if not active():
        return module
    if _backend() == "nccl":
        for name, child in list(module.named_children()):
            setattr(module, name, nn.SyncBatchNorm.convert_sync_batchnorm(child))
    device = next(module.parameters()).device
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


# ----------------------------------------------------------------------------- the record and resume
def launch_record(model: nn.Module | None = None) -> dict[str, Any]:
    """What a run config records about the launch: ``world_size``, ``backend``, the batch rule and
    whether batch norm statistics were per process (``model``: the networks trained)."""
    w, backend = world_size(), _backend()
    bn = model is not None and has_batch_norm(model)
    stats = "none" if not bn else ("global" if w == 1 or backend == "nccl" else "per-process")
    return {"world_size": w, "backend": backend or "none", "batch_size": "global, split evenly over the processes",
            "batch_norm_statistics": stats}


def check_resume(saved: Mapping[str, Any] | None, model: nn.Module | None, *, where: str) -> None:
    """Refuse to resume a run with another number of processes where the result would depend on it.

    Parameters
    ----------
    saved : mapping or None
        The ``launch_record`` saved by the run (None: a run from before issue 23, one process).
    model : nn.Module or None
        The networks to be trained now.
    where : str
        The run directory, for the message.

    Notes
    -----
    The batches, draws and losses do not depend on the number of processes, so a run may be
    resumed with any number of processes, except when a batch norm keeps per-process
    statistics (gloo), before or now: then the same global batch gives other updates.
    """
    before = int((saved or {}).get("world_size", 1))
    now = launch_record(model)
    if before == now["world_size"]:
        return
    per_process = (saved or {}).get("batch_norm_statistics") == "per-process" or (
        now["batch_norm_statistics"] == "per-process")
    if not per_process:
        return
    fix = f"resume with torchrun --nproc_per_node {before}" if before > 1 else "resume it without torchrun"
    raise ConfigError(f"{where} was trained with {before} process(es), now {now['world_size']}, and its networks have "
                      f"batch norm with per-process statistics (gloo), so the result would depend on the number of "
                      f"processes; {fix}")
