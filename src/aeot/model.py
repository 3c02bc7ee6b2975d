"""A latent generative model: a decoder plus a latent sampler (plus, optionally, an encoder).

Composition by wrapping: AE-OT is an autoencoder's decoder with the semi-discrete OT sampler
(An et al., "AE-OT: A new generative model based on extended semi-discrete optimal transport",
ICLR 2020); AE-OT-GAN swaps in the refined generator for the decoder (An et al., "AE-OT-GAN:
Training GANs from data specific latent distribution", ECCV 2020); AE-OTtrans / AE-OTgen swap
the sampler (Zhang et al., "Optimal Transport Based Generative Autoencoders", 2019)::

    model = LatentGenerativeModel(decoder=ae, sampler=make_sampler("sdot").fit(z), encoder=ae)
    images = model.generate(16, generator=torch.Generator().manual_seed(0))   # (16, C, H, W)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from aeot.errors import ConfigError
from aeot.nets.base import decode_in_chunks

__all__ = ["LatentGenerativeModel"]


class LatentGenerativeModel(nn.Module):
    """Images from latent codes: ``decoder(sampler.sample(n))``.

    Parameters
    ----------
    decoder : torch.nn.Module
        Codes ``(n, d)`` -> images ``(n, C, H, W)`` in [0, 1]: an autoencoder (its ``decode``
        method is used), a :class:`~aeot.nets.Decoder` or a refined generator (called).
    sampler : object
        A fitted latent sampler: ``sample(n, *, generator=None) -> (n, d)`` on the decoder's
        device (any :class:`~aeot.samplers.LatentSampler`).
    encoder : torch.nn.Module, optional
        Images -> codes, through its ``encode`` method (an autoencoder, a VAE); ``None`` for a
        model that cannot encode (a GAN).
    """

    def __init__(self, decoder: nn.Module, sampler: Any, encoder: nn.Module | None = None):
        super().__init__()
        self.decoder = decoder
        self.encoder = encoder
        self.sampler = sampler

    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` latent codes ``(n, d)`` drawn by the sampler (on ``generator``, when given)."""
        return self.sampler.sample(n, generator=generator)

    @torch.no_grad()
    def decode(self, z: torch.Tensor, *, batch_size: int = 256,
               device: torch.device | str | None = None) -> torch.Tensor:
        """Images ``(n, C, H, W)`` of codes ``z`` (n, d), decoded ``batch_size`` at a time.

        ``device``: where each chunk of images goes (``"cpu"`` keeps GPU memory bounded);
        ``None`` leaves them on the decoder's device.
        """
        decode = getattr(self.decoder, "decode", self.decoder)
        return decode_in_chunks(decode, z, batch_size=batch_size, device=device)

    def generate(self, n: int, generator: torch.Generator | None = None, *, batch_size: int = 256) -> torch.Tensor:
        """``n`` new images ``(n, C, H, W)``: sampled codes, decoded in chunks of ``batch_size``."""
        return self.decode(self.sample_latents(n, generator=generator), batch_size=batch_size)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes ``(n, d)`` of images ``x`` (n, C, H, W), through the encoder."""
        if self.encoder is None:
            raise ConfigError("this model has no encoder (a GAN generator); it cannot encode images")
        return self.encoder.encode(x)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder on codes ``z`` (n, d), as one batch."""
        return getattr(self.decoder, "decode", self.decoder)(z)
