"""DCGAN-style networks for 64x64 images (CelebA), any channel count.

AE-OT-GAN (An et al. 2020, §4) trains CelebA with "the architectures of WGAN-div" (Wu et al.
2018), whose 64x64 models are the DCGAN ones (Radford et al. 2016): 4x4 stride-2
(transposed) convolutions doubling/halving the resolution, batch norm on inner layers.
Channel counts below are at ``width=1.0``; the output is a sigmoid so images lie in ``[0, 1]``.

Decoder (DCGAN-64 generator):
    z (N, d) -> linear 4*4*512, BN, ReLU -> reshape       (N, 512, 4, 4)
             -> deconv 256, 4x4 s2, BN, ReLU              (N, 256, 8, 8)
             -> deconv 128, 4x4 s2, BN, ReLU              (N, 128, 16, 16)
             -> deconv 64, 4x4 s2, BN, ReLU               (N, 64, 32, 32)
             -> deconv C, 4x4 s2 -> sigmoid               (N, C, 64, 64)

Encoder (mirror; DCGAN-64 discriminator trunk), LeakyReLU(0.2):
    feats[0]: conv 64, 4x4 s2, LReLU                      (N, 64, 32, 32)
    feats[1]: conv 128, 4x4 s2, BN, LReLU                 (N, 128, 16, 16)
    feats[2]: conv 256, 4x4 s2, BN, LReLU                 (N, 256, 8, 8)
    feats[3]: conv 512, 4x4 s2, BN, LReLU                 (N, 512, 4, 4)
    z:        flatten, linear d                           (N, d)

Discriminator: the DCGAN-64 D trunk and a linear 1 logit.  With ``spectral_norm=True``
(default) every layer is spectrally normalised and batch norm is dropped (SN replaces it, as
in SNGAN); with ``spectral_norm=False`` it is the plain DCGAN D with batch norm. WGAN-div's
networks have no spectral norm, so ``aeot reproduce celeba`` passes ``spectral_norm=False``
explicitly (:mod:`aeot.experiments.presets_000`); the default stays as it was for other runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from aeot._validation import check_flag
from aeot.nets.base import (
    dcgan_generator_trunk,
    Autoencoder,
    Decoder,
    Discriminator,
    Encoder,
    check_image_size,
    check_latent_dim,
    check_width,
    scaled,
    spectral,
)

__all__ = ["build_conv64_autoencoder", "build_conv64_discriminator"]

SLOPE = 0.2  # DCGAN's LeakyReLU slope


def _trunk(c: int, width: float, *, bn: bool, sn: bool) -> tuple[list[nn.Module], int]:
    """Four stride-2 conv groups 64 -> 4 pixels; returns them and the flat output size."""
    chans = [c] + [scaled(n, width) for n in (64, 128, 256, 512)]
    blocks: list[nn.Module] = []
    for i in range(4):
        norm = bn and i > 0
        layers: list[nn.Module] = [spectral(nn.Conv2d(chans[i], chans[i + 1], 4, 2, 1, bias=not norm), sn)]
        if norm:
            layers.append(nn.BatchNorm2d(chans[i + 1]))
        layers.append(nn.LeakyReLU(SLOPE))
        blocks.append(nn.Sequential(*layers))  # (N, chans[i+1], 32 / 2**i, 32 / 2**i)
    return blocks, chans[-1] * 4 * 4


def build_conv64_autoencoder(
    *, image_shape: Sequence[int], latent_dim: int = 128, width: float = 1.0
) -> Autoencoder:
    """DCGAN-64 generator as decoder, its mirror as encoder (64x64 images)."""
    c, h, w = check_image_size("conv64", image_shape, 64)
    d = check_latent_dim(latent_dim)
    width = check_width(width)

    blocks, flat = _trunk(c, width, bn=True, sn=False)
    head = nn.Sequential(nn.Flatten(), nn.Linear(flat, d))  # (N, d)
    encoder = Encoder(blocks, head, image_shape=(c, h, w), latent_dim=d)

    trunk, c64 = dcgan_generator_trunk(d, width)  # (N, 64, 32, 32)
    net = nn.Sequential(*trunk, nn.ConvTranspose2d(c64, c, 4, 2, 1), nn.Sigmoid())  # (N, C, 64, 64)
    decoder = Decoder(net, image_shape=(c, h, w), latent_dim=d)

    config = {"arch": "conv64", "image_shape": [c, h, w], "latent_dim": d, "width": width}
    return Autoencoder(encoder, decoder, config)


def build_conv64_discriminator(
    *, image_shape: Sequence[int], width: float = 1.0, spectral_norm: bool = True
) -> Discriminator:
    """DCGAN-64 discriminator (spectral norm by default, else batch norm), logit out."""
    c, h, w = check_image_size("conv64", image_shape, 64)
    width = check_width(width)
    sn = check_flag("spectral_norm", spectral_norm)
    blocks, flat = _trunk(c, width, bn=not sn, sn=sn)
    net = nn.Sequential(*blocks, nn.Flatten(), spectral(nn.Linear(flat, 1), sn))  # (N, 1)
    config = {"arch": "conv64", "image_shape": [c, h, w], "width": width, "spectral_norm": sn}
    return Discriminator(net, config)
