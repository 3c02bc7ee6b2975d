"""DCGAN-style networks for 128x128 and 256x256 images (CelebA-HQ), any channel count.

AE-OT-GAN (An et al. 2020, §4, Table 2) trains CelebA-HQ at 256x256 with an architecture
"illustrated in the supplementary", which our copy of the paper does not have. These networks
are ours: the 64 px DCGAN/WGAN-div networks of :mod:`aeot.nets.conv64` with one more 4x4
stride-2 layer per doubling of the resolution (channels halved down to 32), so that
``conv128`` and ``conv256`` read like ``conv64``. Channel counts below are at ``width=1.0``;
the output is a sigmoid so images lie in ``[0, 1]``.

Decoder of ``conv256`` (``conv128`` stops one layer earlier):
    z (N, d) -> linear 4*4*512, BN, ReLU -> reshape        (N, 512, 4, 4)
             -> deconv 512, 4x4 s2, BN, ReLU                (N, 512, 8, 8)
             -> deconv 256 / 128 / 64 / 32, each 4x4 s2, BN, ReLU  (N, 32, 128, 128)
             -> deconv C, 4x4 s2 -> sigmoid                  (N, C, 256, 256)

Encoder (mirror), LeakyReLU(0.2), batch norm after every convolution but the first:
    feats[0]: conv 32, 4x4 s2                               (N, 32, 128, 128)
    feats[1..5]: conv 64 / 128 / 256 / 512 / 512, 4x4 s2    ... (N, 512, 4, 4)
    z:        flatten, linear d                             (N, d)

Discriminator: the encoder's trunk and a linear 1 logit, without batch norm; spectral norm
off by default (WGAN-div's networks have none), ``spectral_norm=True`` wraps every layer.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from aeot._validation import check_flag
from aeot.nets.base import (
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

__all__ = ["CHANNELS", "build_conv128_autoencoder", "build_conv128_discriminator", "build_conv256_autoencoder",
           "build_conv256_discriminator"]

SLOPE = 0.2  # DCGAN's LeakyReLU slope
# Channels after each stride-2 layer of the encoder (input to output), by image size; the
# decoder uses them in reverse. Each list ends at 512 channels on a 4x4 map.
CHANNELS = {128: (64, 128, 256, 512, 512), 256: (32, 64, 128, 256, 512, 512)}


def _down_trunk(c: int, chans: Sequence[int], *, bn: bool, sn: bool) -> list[nn.Module]:
    """One 4x4 stride-2 conv group per entry of ``chans``: (N, C, S, S) -> (N, chans[-1], 4, 4)."""
    blocks: list[nn.Module] = []
    for i, (cin, cout) in enumerate(zip((c, *chans[:-1]), chans)):
        norm = bn and i > 0
        layers: list[nn.Module] = [spectral(nn.Conv2d(cin, cout, 4, 2, 1, bias=not norm), sn)]
        if norm:
            layers.append(nn.BatchNorm2d(cout))
        layers.append(nn.LeakyReLU(SLOPE))
        blocks.append(nn.Sequential(*layers))  # (N, cout, S / 2**(i+1), S / 2**(i+1))
    return blocks


def _autoencoder(arch: str, size: int, image_shape: Sequence[int], latent_dim: int, width: float) -> Autoencoder:
    c, h, w = check_image_size(arch, image_shape, size)
    d = check_latent_dim(latent_dim)
    width = check_width(width)
    chans = [scaled(n, width) for n in CHANNELS[size]]

    blocks = _down_trunk(c, chans, bn=True, sn=False)  # ... -> (N, 512, 4, 4)
    head = nn.Sequential(nn.Flatten(), nn.Linear(chans[-1] * 16, d))  # (N, d)
    encoder = Encoder(blocks, head, image_shape=(c, h, w), latent_dim=d)

    up = chans[::-1]  # 512, 512, 256, ... at 4, 8, 16, ... pixels
    layers: list[nn.Module] = [nn.Linear(d, up[0] * 16, bias=False), nn.BatchNorm1d(up[0] * 16), nn.ReLU(),
                               nn.Unflatten(1, (up[0], 4, 4))]  # (N, 512, 4, 4)
    for cin, cout in zip(up[:-1], up[1:]):
        layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
    layers += [nn.ConvTranspose2d(up[-1], c, 4, 2, 1), nn.Sigmoid()]  # (N, C, size, size)
    decoder = Decoder(nn.Sequential(*layers), image_shape=(c, h, w), latent_dim=d)
    config = {"arch": arch, "image_shape": [c, h, w], "latent_dim": d, "width": width}
    return Autoencoder(encoder, decoder, config)


def _discriminator(arch: str, size: int, image_shape: Sequence[int], width: float, spectral_norm: bool) -> Discriminator:
    c, h, w = check_image_size(arch, image_shape, size)
    width = check_width(width)
    sn = check_flag("spectral_norm", spectral_norm)
    chans = [scaled(n, width) for n in CHANNELS[size]]
    net = nn.Sequential(*_down_trunk(c, chans, bn=False, sn=sn), nn.Flatten(),
                        spectral(nn.Linear(chans[-1] * 16, 1), sn))  # (N, 1)
    config = {"arch": arch, "image_shape": [c, h, w], "width": width, "spectral_norm": sn}
    return Discriminator(net, config)


def build_conv128_autoencoder(*, image_shape: Sequence[int], latent_dim: int = 128, width: float = 1.0) -> Autoencoder:
    """DCGAN-style autoencoder for 128x128 images (one layer more than ``conv64``)."""
    return _autoencoder("conv128", 128, image_shape, latent_dim, width)


def build_conv128_discriminator(*, image_shape: Sequence[int], width: float = 1.0,
                                spectral_norm: bool = False) -> Discriminator:
    """DCGAN-style discriminator for 128x128 images, logit out."""
    return _discriminator("conv128", 128, image_shape, width, spectral_norm)


def build_conv256_autoencoder(*, image_shape: Sequence[int], latent_dim: int = 128, width: float = 1.0) -> Autoencoder:
    """DCGAN-style autoencoder for 256x256 images (CelebA-HQ; two layers more than ``conv64``)."""
    return _autoencoder("conv256", 256, image_shape, latent_dim, width)


def build_conv256_discriminator(*, image_shape: Sequence[int], width: float = 1.0,
                                spectral_norm: bool = False) -> Discriminator:
    """DCGAN-style discriminator for 256x256 images, logit out."""
    return _discriminator("conv256", 256, image_shape, width, spectral_norm)
