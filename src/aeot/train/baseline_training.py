"""Networks, losses per step and the training loop of the baselines: VAE, WAE-MMD, GAN, WGAN, WGAN-GP.

The comparison of Zhang et al. (2019) §5: each baseline uses the networks
of the run's architecture (``aeot.nets``), a prior ``N(0, I)`` on the ``latent_dim`` codes, and
images in [0, 1]; the losses are in :mod:`aeot.train.baseline_losses`.

* ``vae`` (Kingma & Welling 2014): the encoder is the architecture's encoder built with
  ``2 * latent_dim`` outputs, read as ``(mu, log sigma^2)``; the decoder is the architecture's
  decoder at ``latent_dim``. Only the last linear layer of the encoder differs from the
  autoencoder's, so the networks stay the same for every architecture. Adam(1e-3), batch 100
  (the paper used Adagrad; Adam is the usual replacement). Bernoulli likelihood by default.
* ``wae-mmd`` (Tolstikhin et al. 2018): the deterministic autoencoder of the architecture,
  ``||x - G(Q(x))||^2 + lambda * MMD(Q(x), N(0, sigma_z^2 I))`` with the IMQ kernel,
  ``sigma_z^2 = 1``, Adam(1e-3, (0.5, 0.999)). Two named settings (``preset``,
  :data:`PRESETS`): ``"tolstikhin2018"`` (the default), lambda = 10 and batch 100, WAE's own
  MNIST setting; ``"zhang2019"``, lambda = 0.1 and batch 128, what Zhang et al. (2019) §5.1
  state for their MNIST / Fashion-MNIST table ("Both lambdas in WAE-MMD and AE-OT are set to
  0.1 ... Batch size is set to 128") and the setting of that table's WAE-MMD row.
* ``gan`` (Goodfellow et al. 2014, DCGAN's optimiser): generator = the architecture's decoder,
  discriminator = ``make_discriminator(arch)`` with its registry defaults (spectral norm on for
  ``dcgan``/``resnet``/``conv64``), non-saturating loss, Adam(2e-4, (0.5, 0.999)), batch 64,
  one D step per G step.
* ``wgan-gp`` (Gulrajani et al. 2017): the same generator; the critic is
  ``make_discriminator(arch, spectral_norm=False)`` where that flag exists, with every batch
  norm replaced by layer norm (``BatchNorm1d`` -> ``LayerNorm``, ``BatchNorm2d`` ->
  ``GroupNorm(1, C)``) as the paper recommends, because the gradient penalty is per sample
  (``infogan``'s and ``conv64``'s critics have batch norm; ``mlp``, ``dcgan``, ``resnet`` do not).
  ``gp_lambda = 10``, ``n_critic = 5``, Adam(1e-4, (0, 0.9)), batch 64.
* ``wgan`` (Arjovsky et al. 2017, Algorithm 1; Zhang et al. (2019) §5.1's "WGAN" row): the
  same generator; the critic is ``make_discriminator(arch, spectral_norm=False)`` where that
  flag exists (the clipping is the Lipschitz constraint), batch norm kept as in their DCGAN
  critic; loss ``E[D(G(z))] - E[D(x)]``, every critic parameter clipped to ``[-clip, clip]``
  after each critic step, ``clip = 0.01``, ``n_critic = 5``, RMSProp(5e-5) for both networks,
  batch 64. Not done: their schedule of 100 critic steps per generator step for the first 25
  generator steps and every 500th (a DCGAN-code detail, not Algorithm 1).

An epoch is one pass over the shuffled training images in batches of ``batch_size`` (the last
incomplete batch dropped); for the GANs each batch is one discriminator (critic) step and every
``n_critic``-th step is followed by one generator step.

Determinism: the batch order and every noise draw of epoch ``e`` are pure functions of
``(seed, e)``, drawn on the CPU; the checkpoint written after each epoch holds all networks,
optimizers and the history, so a run resumed with ``resume=True`` ends bitwise equal to an
uninterrupted one (same device and thread count).
"""

from __future__ import annotations

import inspect
import math
import numbers
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from aeot import distributed
from aeot._validation import check_int
from aeot.errors import CheckpointError, ConfigError
from aeot.io import load_checkpoint, load_module_state, save_checkpoint
from aeot.nets import DISCRIMINATORS, make_autoencoder, make_discriminator
from aeot.progress import Progress
from aeot.train.autoencoder import epoch_permutation
from aeot.train.baseline_losses import (
    LIKELIHOODS,
    WAE_SCALES,
    clip_weights_,
    gan_discriminator_loss,
    gan_generator_loss,
    gradient_penalty,
    mmd_imq,
    vae_loss,
    wae_reconstruction,
    wasserstein_critic_loss,
    wgan_critic_loss,
    wgan_generator_loss,
)

__all__ = ["BASELINES", "HISTORY_KEYS", "METHOD_DEFAULTS", "PRESETS", "BaselineConfig", "build_networks", "make_optimizers",
           "train_epochs"]

BASELINES = ("vae", "wae-mmd", "gan", "wgan", "wgan-gp")

# The papers' optimiser settings; BaselineConfig fields left as None take these (after the preset's).
# wgan trains with RMSProp, which has no betas (adam_betas stays None).
METHOD_DEFAULTS: dict[str, dict[str, Any]] = {
    "vae": {"batch_size": 100, "lr": 1e-3, "adam_betas": (0.9, 0.999), "n_critic": 1},
    "wae-mmd": {"batch_size": 100, "lr": 1e-3, "adam_betas": (0.5, 0.999), "n_critic": 1},
    "gan": {"batch_size": 64, "lr": 2e-4, "adam_betas": (0.5, 0.999), "n_critic": 1},
    "wgan": {"batch_size": 64, "lr": 5e-5, "n_critic": 5},
    "wgan-gp": {"batch_size": 64, "lr": 1e-4, "adam_betas": (0.0, 0.9), "n_critic": 5},
}
# Named settings of a method, each from a paper; ``preset=None`` takes the first one listed.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "wae-mmd": {
        "tolstikhin2018": {"wae_lambda": 10.0, "batch_size": 100},  # WAE (Tolstikhin et al. 2018), MNIST
        "zhang2019": {"wae_lambda": 0.1, "batch_size": 128},  # Zhang et al. (2019) §5.1, their IS table
    },
}
WAE_LAMBDA = 10.0  # wae_lambda of the methods without a WAE term (unused; kept so their configs read as before)
ADAMLESS = ("wgan",)  # trained with RMSProp
HISTORY_KEYS = {"vae": ("loss", "reconstruction", "kl"), "wae-mmd": ("loss", "reconstruction", "mmd"),
                "gan": ("d_loss", "g_loss", "d_real", "d_fake"), "wgan": ("d_loss", "g_loss", "wasserstein"),
                "wgan-gp": ("d_loss", "g_loss", "wasserstein", "gp")}


@dataclass(kw_only=True)
class BaselineConfig:
    """Settings of one baseline; ``None`` takes the method's paper default (:data:`METHOD_DEFAULTS`).

    ``preset``: a named paper setting of the method (:data:`PRESETS`; wae-mmd:
    ``"tolstikhin2018"``, the default, or ``"zhang2019"``, the setting of Zhang et al.'s table);
    fields set explicitly win over the preset. ``likelihood``/``gaussian_sigma``: the VAE's
    ``p(x|z)``; ``wae_lambda`` (None: the preset's)/``prior_var`` (sigma_z^2)/``mmd_scales``:
    WAE-MMD; ``gp_lambda``: WGAN-GP; ``clip``: WGAN's weight clipping c; ``n_critic``:
    discriminator steps per generator step (GANs); ``disc_params``: extra
    ``make_discriminator`` arguments; ``n_samples``: images in ``samples.png``.
    """

    name: str
    epochs: int = 100
    batch_size: int | None = None
    lr: float | None = None
    adam_betas: tuple[float, float] | None = None
    seed: int = 0
    likelihood: str = "bernoulli"
    gaussian_sigma: float = 1.0
    preset: str | None = None
    wae_lambda: float | None = None
    prior_var: float = 1.0
    mmd_scales: tuple[float, ...] = WAE_SCALES
    gp_lambda: float = 10.0
    clip: float = 0.01
    n_critic: int | None = None
    disc_params: dict[str, Any] = field(default_factory=dict)
    n_samples: int = 100

    def resolved(self) -> BaselineConfig:
        """A copy with every ``None`` replaced by the preset's value, else the method's default
        (tuples as lists, as in JSON); ``preset`` names the preset used (None for a method without)."""
        self.validate()
        presets = PRESETS.get(self.name, {})
        preset = self.preset if self.preset is not None else next(iter(presets), None)
        defaults = {**METHOD_DEFAULTS[self.name], **presets.get(preset, {})}
        out = replace(self, preset=preset, **{k: v for k, v in defaults.items() if getattr(self, k) is None})
        betas = None if out.adam_betas is None else [float(b) for b in out.adam_betas]
        lam = WAE_LAMBDA if out.wae_lambda is None else out.wae_lambda
        return replace(out, adam_betas=betas, wae_lambda=lam, mmd_scales=[float(s) for s in out.mmd_scales])

    def validate(self) -> None:
        if self.name not in BASELINES:
            raise ConfigError(f"unknown baseline {self.name!r}; choose one of {', '.join(BASELINES)}")
        for key in ("epochs", "batch_size", "n_critic", "n_samples", "seed"):
            v = getattr(self, key)
            low = 0 if key == "seed" else 1
            if v is not None:
                check_int(f"baseline {key}", v, low=low, what=f"an int >= {low}")
        for key in ("lr", "gaussian_sigma", "prior_var", "wae_lambda", "gp_lambda", "clip"):
            v = getattr(self, key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v)
                                  or v < 0 or (v == 0 and key in ("lr", "gaussian_sigma", "prior_var", "clip"))):
                raise ConfigError(f"baseline {key} must be a finite number > 0 (>= 0 for the weights), got {v!r}")
        presets = PRESETS.get(self.name, {})
        if self.preset is not None and self.preset not in presets:
            allowed = ", ".join(presets) if presets else f"none: {self.name} has no presets"
            raise ConfigError(f"baseline preset {self.preset!r} is not one of {self.name}'s ({allowed})")
        b = self.adam_betas
        if b is not None and self.name in ADAMLESS:
            raise ConfigError(f"baseline {self.name} trains with RMSProp (Arjovsky et al. 2017), so adam_betas "
                              f"does not apply; got {b!r}")
        if b is not None and not (len(b) == 2 and all(isinstance(v, numbers.Real) and 0 <= v < 1 for v in b)):
            raise ConfigError(f"baseline adam_betas must be two numbers in [0, 1), got {b!r}")
        if not self.mmd_scales or not all(isinstance(s, numbers.Real) and s > 0 for s in self.mmd_scales):
            raise ConfigError(f"baseline mmd_scales must be positive numbers, got {self.mmd_scales!r}")
        if self.likelihood not in LIKELIHOODS:
            raise ConfigError(f"baseline likelihood must be one of {', '.join(LIKELIHOODS)}, got {self.likelihood!r}")
        if not isinstance(self.disc_params, dict):
            raise ConfigError(f"baseline disc_params must be a mapping, got {self.disc_params!r}")


# ----------------------------------------------------------------------------- networks
def _layer_norm_for(module: nn.Module) -> nn.Module:
    """Replace each batch norm below ``module`` by a per-sample layer norm (WGAN-GP critic)."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, name, nn.GroupNorm(1, child.num_features))  # over (C, H, W)
        elif isinstance(child, nn.BatchNorm1d):
            setattr(module, name, nn.LayerNorm(child.num_features))
        else:
            _layer_norm_for(child)
    return module


def build_networks(name: str, model: dict[str, Any], *, seed: int, critic: bool = True,
                   disc_params: dict[str, Any] | None = None) -> nn.ModuleDict:
    """The networks of baseline ``name`` for ``make_autoencoder`` arguments ``model``.

    Keys: ``encoder`` (vae: ``2 * latent_dim`` outputs; wae-mmd), ``decoder`` (all; the
    GANs' generator) and, with ``critic``, ``discriminator`` (gan, wgan, wgan-gp). Weights are
    initialised from ``seed`` without touching the caller's global RNG.
    """

    nets = nn.ModuleDict()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        ae = make_autoencoder(**model)
        if name == "vae":
            nets["encoder"] = make_autoencoder(**{**model, "latent_dim": 2 * ae.latent_dim}).encoder
        elif name == "wae-mmd":
            nets["encoder"] = ae.encoder
        nets["decoder"] = ae.decoder
        if critic and name in ("gan", "wgan", "wgan-gp"):
            arch = model["arch"]
            takes = inspect.signature(DISCRIMINATORS[arch]).parameters
            params = {k: v for k, v in model.items() if k == "width" and k in takes}
            if name in ("wgan", "wgan-gp") and "spectral_norm" in takes:
                params["spectral_norm"] = False
            d = make_discriminator(arch, image_shape=list(model["image_shape"]), **{**params, **(disc_params or {})})
            nets["discriminator"] = _layer_norm_for(d) if name == "wgan-gp" else d
    return nets


def make_optimizers(name: str, nets: nn.ModuleDict, cfg: BaselineConfig) -> dict[str, torch.optim.Optimizer]:
    """One Adam over encoder + decoder (vae, wae-mmd), or ``g`` and ``d`` (GANs; RMSProp for wgan)."""
    def adam(params):
        if name in ADAMLESS:
            return torch.optim.RMSprop(params, lr=cfg.lr)
        return torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.adam_betas))

    if name in ("gan", "wgan", "wgan-gp"):
        return {"g": adam(nets["decoder"].parameters()), "d": adam(nets["discriminator"].parameters())}
    return {"ae": adam(list(nets["encoder"].parameters()) + list(nets["decoder"].parameters()))}


# ----------------------------------------------------------------------------- one step of each
def _step(opt: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def _noise(g: torch.Generator, *shape: int, device: torch.device) -> torch.Tensor:
    return torch.randn(*shape, generator=g).to(device)


# Each step gets the global batch ``x`` and draws the noise of the whole global batch, so that one
# process and N processes see the same numbers; each rank keeps its share ``mine`` of both and
# trains through the DDP wrappers ``par`` (the modules themselves: ``nets``). Losses are means over
# the global batch (aeot.distributed.global_mean); WAE's MMD is computed on the gathered codes.
def _vae_step(nets, par, opts, cfg, x, step, g):
    n, d = x.shape[0], nets["decoder"].latent_dim
    mine = distributed.shard(n)
    eps = _noise(g, n, d, device=x.device)[mine]  # (m, d)
    x = x[mine]
    h = par["encoder"](x)  # (m, 2d)
    mu, logvar = h[:, :d], h[:, d:]
    z = mu + (0.5 * logvar).exp() * eps  # (m, d)
    losses = vae_loss(par["decoder"](z), x, mu, logvar, likelihood=cfg.likelihood, sigma=cfg.gaussian_sigma)
    loss, rec, kl = (distributed.global_mean(t, x.shape[0], n) for t in losses)
    _check_finite(loss, cfg)
    _step(opts["ae"], loss)
    return {"loss": loss, "reconstruction": rec, "kl": kl}


def _wae_step(nets, par, opts, cfg, x, step, g):
    n, d = x.shape[0], nets["decoder"].latent_dim
    z_prior = _noise(g, n, d, device=x.device) * math.sqrt(cfg.prior_var)  # (n, d): the global batch's
    x = x[distributed.shard(n)]
    z = par["encoder"](x)  # (m, d)
    rec = distributed.global_mean(wae_reconstruction(par["decoder"](z), x), x.shape[0], n)
    mmd = mmd_imq(distributed.all_gather(z), z_prior, prior_var=cfg.prior_var, scales=cfg.mmd_scales)
    loss = rec + cfg.wae_lambda * mmd
    _check_finite(loss, cfg)
    _step(opts["ae"], loss)
    return {"loss": loss, "reconstruction": rec, "mmd": mmd}


def _gan_step(nets, par, opts, cfg, x, step, g):
    gen, disc, n, d = nets["decoder"], nets["discriminator"], x.shape[0], nets["decoder"].latent_dim
    mine = distributed.shard(n)
    noise = _noise(g, n, d, device=x.device)[mine]
    x = x[mine]
    m = x.shape[0]
    with torch.no_grad():
        fake = gen(noise)  # (m, C, H, W)
    real_logits, fake_logits = par["discriminator"](x), par["discriminator"](fake)
    d_loss = distributed.global_mean(gan_discriminator_loss(real_logits, fake_logits), m, n)
    _check_finite(d_loss, cfg)
    _step(opts["d"], d_loss)
    out = {"d_loss": d_loss, "d_real": distributed.global_mean(torch.sigmoid(real_logits).mean(), m, n),
           "d_fake": distributed.global_mean(torch.sigmoid(fake_logits).mean(), m, n)}
    if (step + 1) % cfg.n_critic == 0:
        noise = _noise(g, n, d, device=x.device)[mine]
        out["g_loss"] = distributed.global_mean(gan_generator_loss(disc(par["decoder"](noise))), m, n)
        _step(opts["g"], out["g_loss"])
    return out


def _wgan_step(nets, par, opts, cfg, x, step, g):
    gen, critic, n, d = nets["decoder"], nets["discriminator"], x.shape[0], nets["decoder"].latent_dim
    mine = distributed.shard(n)
    noise = _noise(g, n, d, device=x.device)[mine]
    eps = torch.rand(n, generator=g).to(x.device)[mine]  # (m,) interpolation weights
    x = x[mine]
    m = x.shape[0]
    with torch.no_grad():
        fake = gen(noise)  # (m, C, H, W)
    real_scores, fake_scores = par["discriminator"](x), par["discriminator"](fake)
    gp = gradient_penalty(critic, x, fake, eps)  # the module itself: DDP does not take autograd.grad
    d_loss = distributed.global_mean(wgan_critic_loss(real_scores, fake_scores, gp, gp_lambda=cfg.gp_lambda), m, n)
    _check_finite(d_loss, cfg)
    _step(opts["d"], d_loss)
    out = {"d_loss": d_loss, "wasserstein": distributed.global_mean(real_scores.mean() - fake_scores.mean(), m, n),
           "gp": distributed.global_mean(gp, m, n)}
    if (step + 1) % cfg.n_critic == 0:
        noise = _noise(g, n, d, device=x.device)[mine]
        out["g_loss"] = distributed.global_mean(wgan_generator_loss(critic(par["decoder"](noise))), m, n)
        _step(opts["g"], out["g_loss"])
    return out


def _wgan_clip_step(nets, par, opts, cfg, x, step, g):
    gen, critic, n, d = nets["decoder"], nets["discriminator"], x.shape[0], nets["decoder"].latent_dim
    mine = distributed.shard(n)
    noise = _noise(g, n, d, device=x.device)[mine]
    x = x[mine]
    m = x.shape[0]
    with torch.no_grad():
        fake = gen(noise)  # (m, C, H, W)
    real_scores, fake_scores = par["discriminator"](x), par["discriminator"](fake)
    d_loss = distributed.global_mean(wasserstein_critic_loss(real_scores, fake_scores), m, n)
    _check_finite(d_loss, cfg)
    _step(opts["d"], d_loss)
    clip_weights_(critic, cfg.clip)
    out = {"d_loss": d_loss, "wasserstein": distributed.global_mean(real_scores.mean() - fake_scores.mean(), m, n)}
    if (step + 1) % cfg.n_critic == 0:
        noise = _noise(g, n, d, device=x.device)[mine]
        out["g_loss"] = distributed.global_mean(wgan_generator_loss(critic(par["decoder"](noise))), m, n)
        _step(opts["g"], out["g_loss"])
    return out


STEPS = {"vae": _vae_step, "wae-mmd": _wae_step, "gan": _gan_step, "wgan": _wgan_clip_step, "wgan-gp": _wgan_step}


def _check_finite(loss: torch.Tensor, cfg: BaselineConfig) -> None:
    v = distributed.all_sum([loss.item()])[0]  # every rank stops alike (a global mean summed over the ranks)
    if not math.isfinite(v):
        raise FloatingPointError(f"{cfg.name} loss became {v}; lower lr (now {cfg.lr})")


def noise_generator(seed: int, epoch: int) -> torch.Generator:
    """The CPU generator of every noise draw of epoch ``epoch``."""
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch) * 7 + 1)


# ----------------------------------------------------------------------------- the loop
CHECKPOINT_KIND = "BaselineTraining"
_RESUME_KEYS = ("name", "preset", "batch_size", "lr", "adam_betas", "seed", "likelihood", "gaussian_sigma",
                "wae_lambda", "prior_var", "mmd_scales", "gp_lambda", "clip", "n_critic", "disc_params")


def train_epochs(nets: nn.ModuleDict, opts: dict[str, torch.optim.Optimizer], x: torch.Tensor,
                 cfg: BaselineConfig, *, model: dict[str, Any], checkpoint: str | Path | None = None,
                 resume: bool = False, progress: Progress | None = None) -> dict[str, list]:
    """Train ``nets`` on images ``x`` (N, C, H, W) in [0, 1] up to ``cfg.epochs``; returns the history.

    ``cfg`` must be resolved (:meth:`BaselineConfig.resolved`). With ``checkpoint``, the
    networks, optimizers, epoch and history are written atomically after every epoch;
    ``resume=True`` continues from that file. ``progress`` receives ``{"event": "step",
    "task": name, ...}`` per batch and ``{"event": "baseline_epoch", ...}`` per epoch.

    Under a process group (:mod:`aeot.distributed`) each rank trains on its share of every
    global batch of ``cfg.batch_size`` images (and of its noise) through DDP; rank 0 writes
    the checkpoint; the history holds the losses of the global batches.
    """
    if x.shape[0] < 2:
        raise ValueError(f"a baseline needs at least 2 training images, got {x.shape[0]}")
    keys = HISTORY_KEYS[cfg.name]
    history: dict[str, list] = {"epoch": [], **{k: [] for k in keys}, "seconds": []}
    start = 0
    if resume:
        start, history = _load_state(checkpoint, cfg, model, nets, opts)
    device = x.device
    n = x.shape[0]
    bs = min(cfg.batch_size, n)
    distributed.check_batch("baseline batch_size", bs)
    n_batches = n // bs  # the last incomplete batch is dropped (batch norm and the MMD need > 1 sample)
    step_fn = STEPS[cfg.name]
    nets.train()
    par = {k: distributed.wrap_ddp(m) for k, m in nets.items()}  # the training forwards
    for epoch in range(start + 1, cfg.epochs + 1):
        t0 = time.perf_counter()
        perm = epoch_permutation(n, cfg.seed, epoch, device)
        g = noise_generator(cfg.seed, epoch)
        sums, counts = dict.fromkeys(keys, 0.0), dict.fromkeys(keys, 0)
        for b in range(n_batches):
            step = (epoch - 1) * n_batches + b
            out = step_fn(nets, par, opts, cfg, x[perm[b * bs : (b + 1) * bs]], step, g)
            values = dict(zip(out, (v / distributed.world_size()
                                    for v in distributed.all_sum([v.item() for v in out.values()]))))
            for k, v in values.items():
                sums[k] += v
                counts[k] += 1
            if progress:
                progress({"event": "step", "task": cfg.name, "step": step + 1, "total": cfg.epochs * n_batches,
                          "epoch": f"{epoch}/{cfg.epochs}", **values})
        history["epoch"].append(epoch)
        for k in keys:
            history[k].append(sums[k] / counts[k] if counts[k] else None)
        history["seconds"].append(time.perf_counter() - t0)
        if checkpoint is not None and distributed.is_main():
            save_checkpoint(checkpoint, kind=CHECKPOINT_KIND,
                            state={"nets": {k: m.state_dict() for k, m in nets.items()},
                                   "opts": {k: o.state_dict() for k, o in opts.items()},
                                   "epoch": epoch, "history": history},
                            config={"baseline": asdict(cfg), "model": model})
        if progress:
            progress({"event": "baseline_epoch", "name": cfg.name, "epoch": epoch, "epochs": cfg.epochs,
                      **{k: history[k][-1] for k in history if k != "epoch"}})
    nets.eval()
    return history


def checkpoint_epoch(path: str | Path) -> int:
    """The last finished epoch stored in a training checkpoint."""
    return int(load_checkpoint(path, kind=CHECKPOINT_KIND)[0]["epoch"])


def _load_state(path, cfg, model, nets, opts) -> tuple[int, dict[str, list]]:
    if path is None or not Path(path).is_file():
        raise CheckpointError(f"--resume: no baseline checkpoint at {path}; run without --resume to start fresh")
    state, meta = load_checkpoint(path, kind=CHECKPOINT_KIND)
    saved, own = meta["config"].get("baseline", {}), asdict(cfg)
    for key in _RESUME_KEYS:
        if key in saved and saved[key] != own[key]:
            raise CheckpointError(f"{path}: the baseline was trained with {key}={saved[key]!r}, now {own[key]!r}; "
                                  "resume with the same settings")
    if meta["config"].get("model") != model:
        raise CheckpointError(f"{path}: the checkpoint is of networks {meta['config'].get('model')}, not {model}; "
                              "resume with the same --arch, --latent-dim and data")
    for k, m in nets.items():
        load_module_state(m, state["nets"][k], path=path, what=k)
    for k, o in opts.items():
        o.load_state_dict(state["opts"][k])
    return int(state["epoch"]), {k: list(v) for k, v in state["history"].items()}
