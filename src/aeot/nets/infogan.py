"""InfoGAN's MNIST networks (Chen et al. 2016, Table 1), 28x28 images with any channel count.

AE-OT-GAN (An et al. 2020, §4) "adopt[s] the InfoGAN architecture ... to train the MNIST
dataset" with a 64-dimensional latent space; "the framework of encoder is set to be the
mirror of the generators/decoders".  Channel counts below are at ``width=1.0``.

Decoder (InfoGAN generator):
    z (N, d) -> FC 1024, BN, ReLU                      (N, 1024)
             -> FC 7*7*128, BN, ReLU -> reshape        (N, 128, 7, 7)
             -> up-conv 64, 4x4 stride 2, BN, ReLU     (N, 64, 14, 14)
             -> up-conv C, 4x4 stride 2 -> sigmoid     (N, C, 28, 28)

Encoder (mirror; also the discriminator trunk of InfoGAN):
    x (N, C, 28, 28) -> conv 64, 4x4 s2, LeakyReLU(0.1)          feats[0]: (N, 64, 14, 14)
                     -> conv 128, 4x4 s2, BN, LeakyReLU(0.1)      feats[1]: (N, 128, 7, 7)
                     -> flatten, FC 1024, BN, LeakyReLU(0.1)      feats[2]: (N, 1024)
                     -> FC d                                      z: (N, d)

Discriminator: the same trunk with a final FC 1 logit (InfoGAN's D; no spectral norm).
Convolutions and linear layers followed by batch norm have no bias.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from aeot.nets.base import (
    Autoencoder,
    Decoder,
    Discriminator,
    Encoder,
    check_image_size,
    check_latent_dim,
    check_width,
    scaled,
)

__all__ = ["build_infogan_autoencoder", "build_infogan_discriminator"]

SLOPE = 0.1  # InfoGAN's leaky rectifier slope


def _trunk(c: int, width: float) -> tuple[list[nn.Module], int]:
    """The three inner blocks shared by the encoder and discriminator, and the output size."""
    c1, c2, fc = scaled(64, width), scaled(128, width), scaled(1024, width)
    blocks = [
        nn.Sequential(nn.Conv2d(c, c1, 4, 2, 1), nn.LeakyReLU(SLOPE)),  # (N, c1, 14, 14)
        nn.Sequential(nn.Conv2d(c1, c2, 4, 2, 1, bias=False), nn.BatchNorm2d(c2), nn.LeakyReLU(SLOPE)),  # (N, c2, 7, 7)
        nn.Sequential(
            nn.Flatten(),  # (N, c2*49)
            nn.Linear(c2 * 7 * 7, fc, bias=False), nn.BatchNorm1d(fc), nn.LeakyReLU(SLOPE),  # (N, fc)
        ),
    ]
    return blocks, fc


def build_infogan_autoencoder(
    *, image_shape: Sequence[int], latent_dim: int = 64, width: float = 1.0
) -> Autoencoder:
    """InfoGAN MNIST generator as decoder, its mirror as encoder (An et al. 2020, §4)."""
    c, h, w = check_image_size("infogan", image_shape, 28)
    d = check_latent_dim(latent_dim)
    width = check_width(width)

    blocks, fc = _trunk(c, width)
    encoder = Encoder(blocks, nn.Linear(fc, d), image_shape=(c, h, w), latent_dim=d)

    c1, c2 = scaled(64, width), scaled(128, width)
    net = nn.Sequential(
        nn.Linear(d, fc, bias=False), nn.BatchNorm1d(fc), nn.ReLU(),  # (N, fc)
        nn.Linear(fc, c2 * 7 * 7, bias=False), nn.BatchNorm1d(c2 * 7 * 7), nn.ReLU(),  # (N, c2*49)
        nn.Unflatten(1, (c2, 7, 7)),  # (N, c2, 7, 7)
        nn.ConvTranspose2d(c2, c1, 4, 2, 1, bias=False), nn.BatchNorm2d(c1), nn.ReLU(),  # (N, c1, 14, 14)
        nn.ConvTranspose2d(c1, c, 4, 2, 1), nn.Sigmoid(),  # (N, C, 28, 28)
    )
    decoder = Decoder(net, image_shape=(c, h, w), latent_dim=d)

    config = {"arch": "infogan", "image_shape": [c, h, w], "latent_dim": d, "width": width}
    return Autoencoder(encoder, decoder, config)


def build_infogan_discriminator(*, image_shape: Sequence[int], width: float = 1.0) -> Discriminator:
    """InfoGAN MNIST discriminator: the encoder trunk and an FC 1 logit."""
    c, h, w = check_image_size("infogan", image_shape, 28)
    width = check_width(width)
    blocks, fc = _trunk(c, width)
    net = nn.Sequential(*blocks, nn.Linear(fc, 1))  # (N, 1)
    config = {"arch": "infogan", "image_shape": [c, h, w], "width": width}
    return Discriminator(net, config)
