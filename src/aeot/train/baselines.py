"""Baseline generative models: VAE, WAE-MMD, GAN, WGAN and WGAN-GP, as one model type.

The baselines of Zhang et al. (2019) §5, on the networks of an autoencoder architecture with a
prior ``N(0, I)``; methods, losses and paper defaults are described in
:mod:`aeot.train.baseline_training` and :mod:`aeot.train.baseline_losses`. Training one into a
run directory and loading it back: :mod:`aeot.run.baseline`.

Seconds for one epoch on 10,000 Fashion-MNIST images (``--data fashion-mnist --n-train 10000``),
default batch sizes (100 vae / wae-mmd, 64 GANs), measured with ``train_epochs`` on this
project's 2-core CPU, ``OMP_NUM_THREADS=1``, one measurement each while another job shared the
machine (expect +-30%; a pass over 2,000 images extrapolated gave 17 s for infogan wae-mmd):

    =========  =======================  ==================
    baseline   ``infogan`` (latent 64)  ``mlp`` (latent 8)
    =========  =======================  ==================
    vae        21                       1.4
    wae-mmd    27                       1.4
    gan        54                       2.4
    wgan-gp    47                       2.3
    =========  =======================  ==================

The GANs cost about twice the autoencoders: every batch is a discriminator step on real and
generated images (wgan-gp adds the gradient penalty's double backward) besides the generator
steps (gan: every batch; wgan-gp: every fifth). ``wgan`` (weight clipping, RMSProp) was added
after these measurements; its step is wgan-gp's without the double backward.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from aeot.errors import ConfigError
from aeot.nets.base import decode_in_chunks
from aeot.train.baseline_training import BASELINES, BaselineConfig

__all__ = ["BASELINES", "BASELINE_KIND", "BaselineConfig", "BaselineModel"]

BASELINE_KIND = "Baseline"


class BaselineModel(nn.Module):
    """A trained baseline: the decoder (generator) and, for vae / wae-mmd, the encoder.

    ``decode(z)`` (n, d) -> images (n, C, H, W) in [0, 1]; ``encode(x)`` -> codes (n, d)
    (vae: the posterior mean; wae-mmd: the code); ``sample_latents(n, generator=...)`` draws
    from the prior ``N(0, I)``; ``generate(n, generator=...)`` decodes them.
    """

    def __init__(self, name: str, nets: nn.ModuleDict, model: dict[str, Any]):
        super().__init__()
        self.name = name
        self.nets = nets
        self.config = {"name": name, "model": dict(model)}
        self.latent_dim = int(nets["decoder"].latent_dim)
        self.image_shape = tuple(nets["decoder"].image_shape)
        self.has_encoder = "encoder" in nets

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.nets["decoder"](z)  # (n, C, H, W)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        if not self.has_encoder:
            raise ConfigError(f"baseline {self.name!r} has no encoder (a GAN); only vae and wae-mmd encode images")
        return self.nets["encoder"](x)[:, : self.latent_dim]  # (n, d); the vae's mean is the first half

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.decode(z)

    def sample_latents(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` draws of ``N(0, I)``, shape (n, d), on the model's device (drawn on ``generator``'s)."""
        dev = generator.device if generator is not None else torch.device("cpu")
        return torch.randn(n, self.latent_dim, generator=generator, device=dev).to(self.device)

    @torch.no_grad()
    def generate(self, n: int, *, generator: torch.Generator | None = None, batch_size: int = 256) -> torch.Tensor:
        """``n`` generated images (n, C, H, W) in [0, 1] on the model's device."""
        z = self.sample_latents(n, generator=generator)
        return decode_in_chunks(self.decode, z, batch_size=batch_size)
