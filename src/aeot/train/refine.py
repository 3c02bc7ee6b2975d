"""AE-OT-GAN: refine the decoder of an AE-OT model as the generator of a GAN.

An et al., "AE-OT-GAN: Training GANs from data specific latent distribution" (2020;
An et al. (ECCV 2020) §3.3 and §4). The generator starts as an exact copy of the
autoencoder's decoder; its latents come from the fitted AE-OT sampler (any fitted
:class:`~aeot.samplers.LatentSampler`). Each epoch passes once over the training pairs
``(x_i, z_i = f(x_i))``:

* batch composition (§4 (i)): the fake batch holds ``n_rec`` reconstructions ``g(z_i)`` and
  ``n_gen = ratio * n_rec`` generated images ``g(T~(w))``; the real batch holds the ``x_i``
  paired with those ``z_i`` plus ``n_gen`` randomly selected real images;
* two time scales (§4 (ii), (iii)): ``lr_D = lr_G / R``, and ``T`` generator updates for each
  discriminator update;
* loss (Eq. 1): ``L_adv + L_feat + beta * L_img`` (:mod:`aeot.train.refine_losses`), with the
  feature loss over the layers of the autoencoder's encoder, frozen (the paper optimises
  only the generator ``xi`` and the discriminator ``eta``).

Determinism: the batch order, the generated latents and the randomly selected real images
of epoch ``e`` are pure functions of ``(seed, e)``; the checkpoint written after each epoch
holds both networks, both optimizers, the history and the evolution panels, so a killed
run resumed with ``resume=True`` ends bitwise equal to an uninterrupted one.
"""

from __future__ import annotations

import copy
import math
import numbers
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from aeot import distributed
from aeot._validation import check_positive_int
from aeot.errors import CheckpointError, ConfigError, NotFittedError
from aeot.io import load_checkpoint, load_module_state, save_checkpoint
from aeot.nets import make_discriminator
from aeot.nets.base import decode_in_chunks
from aeot.progress import Progress
from aeot.train.refine_losses import (
    ADV_MODES,
    REDUCTIONS,
    content_loss,
    discriminator_loss,
    feature_loss,
    generator_adversarial_loss,
    latent_norm,
    layer_weights,
)

__all__ = ["REFINE_PRESETS", "EpochView", "RefineConfig", "RefineResult", "batch_composition",
           "make_generator", "refine_generator"]

CHECKPOINT_KIND = "RefineTraining"

# R (lr_D = lr_G / R) and T (generator updates per discriminator update) of §4, by dataset
# name. mnist, cifar10, celeba: the paper's values. fashion-mnist: MNIST's (same size, same
# InfoGAN networks; the paper has no Fashion-MNIST run). celeba-hq: CelebA's (§4 gives none for
# CelebA-HQ, whose settings are in a supplementary we lack). digits: MNIST's R and T; only 6
# epochs and lr_G = 1e-4 so that `aeot run --data digits --refine` fits in 10 CPU minutes
# (the paper trains 500 epochs at 2e-5; 6 epochs of 90 updates here).
REFINE_PRESETS: dict[str, dict[str, Any]] = {
    "mnist": {"lr_ratio": 15.0, "g_steps": 3},
    "mnist-5k": {"lr_ratio": 15.0, "g_steps": 3},
    "cifar10": {"lr_ratio": 25.0, "g_steps": 10},
    "celeba": {"lr_ratio": 15.0, "g_steps": 5},
    "celeba-hq": {"lr_ratio": 15.0, "g_steps": 5},
    "fashion-mnist": {"lr_ratio": 15.0, "g_steps": 3, "epochs": 10},
    "digits": {"lr_ratio": 15.0, "g_steps": 3, "epochs": 6, "lr": 1e-4},
}


@dataclass(kw_only=True)
class RefineConfig:
    """Settings of the GAN refinement; the defaults are the paper's (§4).

    ``batch_size``: images in the fake batch (and in the real batch); ``ratio``: generated :
    reconstructed images in the fake batch; ``lr``: lr_G; ``lr_ratio``: R (lr_D = lr / R,
    R > 1); ``g_steps``: T; ``beta``: weight of the content loss; ``alpha_inner``: alpha^(l)
    of the encoder's inner layers; ``alpha_latent``: alpha^L of the latent code, ``None`` =
    ``2.0 / ||Z||_2``; ``adversarial``: ``"minimax"`` (paper) or ``"non_saturating"``;
    ``reduction``: ``"mean"`` or ``"sum"`` (see :mod:`aeot.train.refine_losses`);
    ``disc_arch``/``disc_params``: the discriminator (``None``: the autoencoder's
    architecture, i.e. the one matched to the image size); ``n_panel``: images per row of the
    evolution grids and of the evaluation panel.
    """

    epochs: int = 500
    batch_size: int = 64
    ratio: float = 3.0
    lr: float = 2e-5
    lr_ratio: float = 15.0
    g_steps: int = 3
    beta: float = 2000.0
    alpha_inner: float = 0.06
    alpha_latent: float | None = None
    adversarial: str = "minimax"
    reduction: str = "mean"
    adam_betas: tuple[float, float] = (0.5, 0.999)
    disc_arch: str | None = None
    disc_params: dict[str, Any] = field(default_factory=dict)
    n_panel: int = 8
    n_eval: int = 64
    seed: int = 0

    @classmethod
    def for_dataset(cls, name: str, **overrides: Any) -> "RefineConfig":
        """The paper's defaults with the preset of dataset ``name`` (if any), then ``overrides``."""
        return cls(**{**REFINE_PRESETS.get(name, {}), **overrides})

    def validate(self) -> None:
        for name in ("epochs", "batch_size", "g_steps", "n_panel", "n_eval"):
            check_positive_int(f"refine {name}", getattr(self, name))
        for name in ("lr", "beta", "lr_ratio", "ratio", "alpha_inner"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
                raise ConfigError(f"refine {name} must be a finite number, got {v!r}")
        if self.lr <= 0:
            raise ConfigError(f"refine lr must be > 0, got {self.lr!r}")
        if self.lr_ratio <= 1:
            raise ConfigError(f"refine lr_ratio (R, lr_D = lr_G / R) must be > 1, got {self.lr_ratio!r}; "
                              "the paper uses 15 (MNIST, CelebA) or 25 (CIFAR-10)")
        if self.ratio < 0:
            raise ConfigError(f"refine ratio (generated : reconstructed images) must be >= 0, got {self.ratio!r}; "
                              "the paper uses 3")
        if self.beta < 0 or self.alpha_inner < 0:
            raise ConfigError(f"refine beta and alpha_inner must be >= 0, got beta={self.beta!r}, "
                              f"alpha_inner={self.alpha_inner!r}")
        if self.alpha_latent is not None and not (isinstance(self.alpha_latent, numbers.Real)
                                                  and math.isfinite(self.alpha_latent) and self.alpha_latent >= 0):
            raise ConfigError(f"refine alpha_latent must be >= 0 or null (2 / ||Z||), got {self.alpha_latent!r}")
        if self.adversarial not in ADV_MODES:
            raise ConfigError(f"refine adversarial must be one of {', '.join(ADV_MODES)}, got {self.adversarial!r}")
        if self.reduction not in REDUCTIONS:
            raise ConfigError(f"refine reduction must be one of {', '.join(REDUCTIONS)}, got {self.reduction!r}")
        batch_composition(self.batch_size, self.ratio)


def batch_composition(batch_size: int, ratio: float) -> tuple[int, int]:
    """``(n_rec, n_gen)``: reconstructed and generated images in a fake batch of ``batch_size``.

    ``n_rec = round(batch_size / (1 + ratio))`` (at least 1), ``n_gen = batch_size - n_rec``;
    64 images at the paper's ratio 3 are 16 reconstructions and 48 generated images.
    """
    if ratio < 0:
        raise ConfigError(f"ratio (generated : reconstructed images) must be >= 0, got {ratio!r}")
    n_rec = max(1, int(round(batch_size / (1.0 + ratio))))
    if n_rec > batch_size:
        raise ConfigError(f"batch_size {batch_size} is too small for ratio {ratio}")
    return n_rec, batch_size - n_rec


def make_generator(autoencoder: nn.Module) -> nn.Module:
    """The generator at epoch 0: an exact (deep) copy of the autoencoder's decoder."""
    return copy.deepcopy(autoencoder.decoder)


@dataclass
class EpochView:
    """What a per-epoch metric callback sees (e.g. an FID callback).

    ``generator`` is in eval mode; ``sample_latents(n)`` draws ``n`` latents from the sampler
    with a generator seeded by ``(seed, epoch)``, so a metric is reproducible.
    """

    epoch: int
    generator: nn.Module
    sample_latents: Callable[[int], torch.Tensor]

    @torch.no_grad()
    def generate(self, n: int, *, batch_size: int = 256) -> torch.Tensor:
        """``n`` generated images (n, C, H, W) in [0, 1]."""
        z = self.sample_latents(n)
        return decode_in_chunks(self.generator, z, batch_size=batch_size)


EpochCallback = Callable[[EpochView], dict[str, float]]


@dataclass
class RefineResult:
    generator: nn.Module
    discriminator: nn.Module
    history: dict[str, list]
    evolution_rec: torch.Tensor  # (epochs + 1, n_panel, C, H, W): g(z_i) at each epoch
    evolution_gen: torch.Tensor  # (epochs + 1, n_panel, C, H, W): g(T~(w)) at each epoch
    panel_real: torch.Tensor  # (n_panel, C, H, W): the x_i of evolution_rec
    alpha_latent: float


def _epoch_generator(seed: int, epoch: int, salt: int, device: torch.device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(int(seed) * 1_000_003 + int(epoch) * 7 + salt)


def _features(encoder: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    z, feats = encoder(x, return_features=True)
    return [*feats, z]  # inner layers, then the latent code (layer L)


def _check_sampler(sampler: Any, latent_dim: int) -> None:
    if not hasattr(sampler, "sample") or not hasattr(sampler, "dim_"):
        raise NotFittedError(f"the latent sampler {type(sampler).__name__} is not fitted; fit it on the run's "
                             "codes first (aeot run or aeot sample)")
    if sampler.dim_ != latent_dim:
        raise ConfigError(f"the sampler was fitted on {sampler.dim_}-dimensional codes, the decoder takes "
                          f"{latent_dim}; fit it on this autoencoder's latents")


def refine_generator(
    autoencoder: nn.Module,
    sampler: Any,
    x: torch.Tensor,
    z: torch.Tensor,
    *,
    config: RefineConfig,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: Progress | None = None,
    callbacks: Sequence[EpochCallback] = (),
) -> RefineResult:
    """Train the AE-OT-GAN generator (a copy of ``autoencoder.decoder``) and a discriminator.

    ``x`` (N, C, H, W): training images in [0, 1]; ``z`` (N, d): their codes ``f(x_i)``;
    ``sampler``: a fitted latent sampler (the AE-OT ``sdot`` one in the paper). The
    autoencoder is not modified. ``callbacks`` are called at epoch 0 and after each epoch
    with an :class:`EpochView`; the numbers they return join the history (FID goes here).
    ``progress`` receives ``{"event": "step", "task": "refine", ...}`` per generator update.

    Under a process group (:mod:`aeot.distributed`) every rank draws the same global batch
    (pairs, generated latents, random real images) and trains on its share of each part
    through DistributedDataParallel; losses are means over the global batch, so the updates
    are those of one process. Only rank 0 writes the checkpoint; pass ``callbacks`` on the
    ranks that should run them (the run layer passes its FID callback to rank 0 only).
    """

    config.validate()
    cfg = config
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[0] == 0:
        raise ValueError(f"x must be a non-empty image tensor (N, C, H, W), got {getattr(x, 'shape', type(x))}")
    if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[0] != x.shape[0]:
        raise ValueError(f"z must hold one code per image, shape ({x.shape[0]}, d), got {getattr(z, 'shape', None)}")
    latent_dim = autoencoder.latent_dim
    _check_sampler(sampler, latent_dim)
    device = next(autoencoder.parameters()).device
    x, z = x.to(device), z.to(device)
    n = x.shape[0]
    n_rec, n_gen = batch_composition(cfg.batch_size, cfg.ratio)
    distributed.check_batch("refine batch_size", cfg.batch_size)

    generator = make_generator(autoencoder).to(device)
    encoder = copy.deepcopy(autoencoder.encoder).to(device).eval()
    encoder.requires_grad_(False)
    arch = cfg.disc_arch or autoencoder.config["arch"]
    with torch.random.fork_rng(devices=[]):  # weight init draws from the global RNG
        torch.manual_seed(cfg.seed)
        discriminator = make_discriminator(arch, image_shape=list(autoencoder.image_shape), **cfg.disc_params)
    discriminator = discriminator.to(device)
    opt_g = torch.optim.Adam(generator.parameters(), lr=cfg.lr, betas=tuple(cfg.adam_betas))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=cfg.lr / cfg.lr_ratio, betas=tuple(cfg.adam_betas))

    alpha_latent = cfg.alpha_latent if cfg.alpha_latent is not None else 2.0 / max(latent_norm(z), 1e-12)
    with torch.no_grad():
        n_inner = len(_features(encoder, x[:2])) - 1
    weights = layer_weights(n_inner, alpha_inner=cfg.alpha_inner, alpha_latent=alpha_latent)

    # Fixed panels: the first n_eval pairs of a seeded permutation, and n_panel generated latents.
    panel_idx = torch.randperm(n, generator=_epoch_generator(cfg.seed, 0, 3, torch.device("cpu")))[: cfg.n_eval]
    panel_idx = panel_idx.to(device)
    x_eval, z_eval = x[panel_idx], z[panel_idx]
    sd = sampler.device_
    z_panel_gen = sampler.sample(cfg.n_panel, generator=_epoch_generator(cfg.seed, 0, 4, sd)).to(device)

    def sample_latents_for(epoch: int) -> Callable[[int], torch.Tensor]:
        def draw(m: int) -> torch.Tensor:
            return sampler.sample(m, generator=_epoch_generator(cfg.seed, epoch, 5, sd)).to(device)
        return draw

    @torch.no_grad()
    def evaluate(epoch: int) -> tuple[dict[str, float], torch.Tensor, torch.Tensor]:
        generator.eval()
        rec = generator(z_eval)
        out = {"eval_content_loss": float(content_loss(rec, x_eval, reduction=cfg.reduction)),
               "eval_feature_loss": float(feature_loss(_features(encoder, x_eval), _features(encoder, rec),
                                                       weights, reduction=cfg.reduction))}
        for cb in callbacks:  # as a single process: a callback on rank 0 alone must not wait for the others
            with distributed.alone():
                out.update({k: float(v) for k, v in cb(EpochView(epoch, generator, sample_latents_for(epoch))).items()})
        gen = generator(z_panel_gen)
        generator.train()
        return out, rec[: cfg.n_panel].cpu(), gen.cpu()

    keys = ["content_loss", "feature_loss", "adv_loss", "d_loss", "d_real", "d_fake"]
    history: dict[str, list] = {"epoch": [], **{k: [] for k in keys}, "seconds": []}
    evo_rec: list[torch.Tensor] = []
    evo_gen: list[torch.Tensor] = []
    start = 0
    if resume:
        if checkpoint is None or not Path(checkpoint).is_file():
            raise CheckpointError(f"--resume: no refine checkpoint at {checkpoint}; run without --resume to start fresh")
        start, history, evo_rec, evo_gen = _load_state(checkpoint, cfg, generator, discriminator, opt_g, opt_d)
    else:
        metrics, rec0, gen0 = evaluate(0)
        for k in history:
            history[k].append(0 if k == "epoch" else None)
        _merge(history, metrics, 0)
        evo_rec.append(rec0)
        evo_gen.append(gen0)

    n_iter = math.ceil(n / n_rec)
    generator.train()
    discriminator.train()
    g_net = distributed.wrap_ddp(generator)  # the training forwards; the modules themselves elsewhere
    d_net = distributed.wrap_ddp(discriminator)
    world = distributed.world_size()
    for epoch in range(start + 1, cfg.epochs + 1):
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=_epoch_generator(cfg.seed, epoch, 0, torch.device("cpu"))).to(device)
        g_lat = _epoch_generator(cfg.seed, epoch, 1, sd)
        g_real = _epoch_generator(cfg.seed, epoch, 2, torch.device("cpu"))
        sums = dict.fromkeys(keys, 0.0)
        counts = dict.fromkeys(keys, 0)
        for it in range(n_iter):
            idx = perm[it * n_rec : (it + 1) * n_rec]  # (m,) paired triples of the global batch
            z_gen = (sampler.sample(n_gen, generator=g_lat).to(device=device, dtype=z.dtype) if n_gen
                     else z.new_zeros((0, z.shape[1])))  # (n_gen, d)
            x_rand = x[torch.randint(n, (n_gen,), generator=g_real).to(device)]  # (n_gen, C, H, W)
            m, mine_rec, mine_gen = idx.shape[0], distributed.shard(idx.shape[0]), distributed.shard(n_gen)
            idx, z_gen, x_rand = idx[mine_rec], z_gen[mine_gen], x_rand[mine_gen]  # this rank's shares
            x_pair, z_pair = x[idx], z[idx]
            z_fake = torch.cat([z_pair, z_gen])  # reconstructed first, then generated
            n_all, n_mine = m + n_gen, z_fake.shape[0]  # images of each kind in the global batch, here
            if it % cfg.g_steps == 0:  # one D update per T generator updates
                with torch.no_grad():
                    fake = generator(z_fake)
                real_logits = d_net(torch.cat([x_pair, x_rand]))
                fake_logits = d_net(fake)
                d_loss = distributed.global_mean(discriminator_loss(real_logits, fake_logits), n_mine, n_all)
                d_out = [distributed.global_mean(torch.sigmoid(t).mean().detach(), n_mine, n_all)
                         for t in (real_logits, fake_logits)]
                d_values = [v / world for v in distributed.all_sum([d_loss.item(), *(v.item() for v in d_out)])]
                _check_finite("discriminator loss", d_values[0], epoch, cfg)
                opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                opt_d.step()
                for k, v in zip(("d_loss", "d_real", "d_fake"), d_values):
                    sums[k] += v
                    counts[k] += 1
            fake = g_net(z_fake)
            rec = fake[: idx.shape[0]]
            adv = distributed.global_mean(generator_adversarial_loss(discriminator(fake), mode=cfg.adversarial),
                                          n_mine, n_all)
            img = distributed.global_mean(content_loss(rec, x_pair, reduction=cfg.reduction), idx.shape[0], m)
            with torch.no_grad():
                feats_real = _features(encoder, x_pair)
            feat = distributed.global_mean(feature_loss(feats_real, _features(encoder, rec), weights,
                                                        reduction=cfg.reduction), idx.shape[0], m)
            loss = adv + feat + cfg.beta * img  # Eq. 1
            g_values = [v / world for v in distributed.all_sum([img.item(), feat.item(), adv.item(), loss.item()])]
            _check_finite("generator loss", g_values[3], epoch, cfg)
            opt_g.zero_grad(set_to_none=True)
            loss.backward()
            opt_g.step()
            for k, v in zip(("content_loss", "feature_loss", "adv_loss"), g_values):
                sums[k] += v
                counts[k] += 1
            if progress:
                progress({"event": "step", "task": "refine", "step": (epoch - 1) * n_iter + it + 1,
                          "total": cfg.epochs * n_iter, "epoch": f"{epoch}/{cfg.epochs}",
                          "content": g_values[0], "d_real": sums["d_real"] / max(counts["d_real"], 1),
                          "d_fake": sums["d_fake"] / max(counts["d_fake"], 1)})
        history["epoch"].append(epoch)
        for k in keys:
            history[k].append(sums[k] / max(counts[k], 1))
        history["seconds"].append(time.perf_counter() - t0)
        metrics, rec_e, gen_e = evaluate(epoch)
        _merge(history, metrics, epoch)
        evo_rec.append(rec_e)
        evo_gen.append(gen_e)
        if checkpoint is not None and distributed.is_main():
            save_checkpoint(checkpoint, kind=CHECKPOINT_KIND,
                            state={"generator": generator.state_dict(), "discriminator": discriminator.state_dict(),
                                   "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "epoch": epoch,
                                   "history": history, "evolution_rec": torch.stack(evo_rec),
                                   "evolution_gen": torch.stack(evo_gen)},
                            config={"refine": asdict(cfg), "autoencoder": autoencoder.config,
                                    "discriminator": discriminator.config})
        if progress:
            progress({"event": "refine_epoch", "epoch": epoch, "epochs": cfg.epochs,
                      **{k: history[k][-1] for k in history if k != "epoch"}})
    generator.eval()
    discriminator.eval()
    return RefineResult(generator=generator, discriminator=discriminator, history=history,
                        evolution_rec=torch.stack(evo_rec), evolution_gen=torch.stack(evo_gen),
                        panel_real=x_eval[: cfg.n_panel].cpu(), alpha_latent=float(alpha_latent))


def _merge(history: dict[str, list], metrics: dict[str, float], epoch: int) -> None:
    """Add this epoch's evaluation numbers; a key new this epoch is None-filled before it."""
    n_rows = len(history["epoch"])
    for k, v in metrics.items():
        col = history.setdefault(k, [])
        col.extend([None] * (n_rows - 1 - len(col)))
        col.append(v)


def _check_finite(what: str, v: float, epoch: int, cfg: RefineConfig) -> None:
    if not math.isfinite(v):
        raise FloatingPointError(f"refine {what} became {v} at epoch {epoch}; lower lr (now {cfg.lr}) or beta "
                                 f"(now {cfg.beta})")


_RESUME_KEYS = ("batch_size", "ratio", "lr", "lr_ratio", "g_steps", "beta", "alpha_inner", "alpha_latent",
                "adversarial", "reduction", "adam_betas", "disc_arch", "disc_params", "n_panel", "n_eval", "seed")


def _load_state(path, cfg, generator, discriminator, opt_g, opt_d):
    state, meta = load_checkpoint(path, kind=CHECKPOINT_KIND)
    saved = meta["config"].get("refine", {})
    for key in _RESUME_KEYS:
        own = getattr(cfg, key)
        own = list(own) if isinstance(own, tuple) else own
        if key in saved and saved[key] != own:
            raise CheckpointError(f"{path}: refinement was run with {key}={saved[key]!r}, now {own!r}; "
                                  "resume with the same settings")
    load_module_state(generator, state["generator"], path=path, what="generator")
    load_module_state(discriminator, state["discriminator"], path=path, what="discriminator")
    opt_g.load_state_dict(state["opt_g"])
    opt_d.load_state_dict(state["opt_d"])
    history = {k: list(v) for k, v in state["history"].items()}
    return int(state["epoch"]), history, list(state["evolution_rec"]), list(state["evolution_gen"])
