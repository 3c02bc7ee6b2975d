"""A ResNet for 64x64 images (CelebA), after the 64 px ResNet of WGAN-GP that WGAN-div reuses.

AE-OT-GAN (An et al. 2020, §4, Table 1 "ResNet" column of CelebA) trains CelebA with "the
architectures of WGAN-div" (Wu et al. 2018), whose 64x64 ResNet is WGAN-GP's (Gulrajani et al.
2017, ``gan_64x64.py``, ``dim = 64``): four residual up blocks 8d -> 8d -> 4d -> 2d -> d from
a 4x4 map, and a critic of four residual down blocks without normalisation or spectral norm.
The blocks are those of :mod:`aeot.nets.resnet` (nearest up-sampling, average pooling).
Channel counts below are at ``width=1.0``; the output is a sigmoid so images lie in ``[0, 1]``.

Decoder (generator):
    z (N, d) -> linear 4*4*512 -> reshape                 (N, 512, 4, 4)
             -> UpBlock 512                                (N, 512, 8, 8)
             -> UpBlock 256                                (N, 256, 16, 16)
             -> UpBlock 128                                (N, 128, 32, 32)
             -> UpBlock 64                                 (N, 64, 64, 64)
             -> BN, ReLU, conv3x3 C -> sigmoid             (N, C, 64, 64)

Encoder (mirror; batch norm as in the 32 px ResNet encoder):
    feats[0]: FirstDownBlock 64                            (N, 64, 32, 32)
    feats[1]: DownBlock 128                                (N, 128, 16, 16)
    feats[2]: DownBlock 256                                (N, 256, 8, 8)
    feats[3]: DownBlock 512                                (N, 512, 4, 4)
    z:        BN, ReLU, flatten, linear d                  (N, d)

Discriminator (WGAN-GP's 64 px ResNet critic, no normalisation; ``spectral_norm=False`` by
default because the paper's networks have none, ``True`` wraps every layer):
    conv3x3 64                                             (N, 64, 64, 64)
    -> DBlock 128 down -> DBlock 256 down -> DBlock 512 down -> DBlock 512 down  (N, 512, 4, 4)
    -> flatten -> linear 1                                 (N, 1)
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
from aeot.nets.resnet import DBlock, DownBlock, FirstDownBlock, UpBlock

__all__ = ["build_resnet64_autoencoder", "build_resnet64_discriminator"]

CHANNELS = (64, 128, 256, 512)  # d, 2d, 4d, 8d of WGAN-GP's dim = 64


def build_resnet64_autoencoder(
    *, image_shape: Sequence[int], latent_dim: int = 128, width: float = 1.0
) -> Autoencoder:
    """WGAN-GP/WGAN-div 64 px ResNet generator as decoder, its down-block mirror as encoder."""
    c, h, w = check_image_size("resnet64", image_shape, 64)
    d = check_latent_dim(latent_dim)
    width = check_width(width)
    c1, c2, c4, c8 = (scaled(n, width) for n in CHANNELS)

    blocks = [FirstDownBlock(c, c1), DownBlock(c1, c2), DownBlock(c2, c4), DownBlock(c4, c8)]  # -> (N, 8d, 4, 4)
    head = nn.Sequential(nn.BatchNorm2d(c8), nn.ReLU(), nn.Flatten(), nn.Linear(c8 * 16, d))  # (N, d)
    encoder = Encoder(blocks, head, image_shape=(c, h, w), latent_dim=d)

    net = nn.Sequential(
        nn.Linear(d, c8 * 16), nn.Unflatten(1, (c8, 4, 4)),  # (N, 8d, 4, 4)
        UpBlock(c8, c8), UpBlock(c8, c4), UpBlock(c4, c2), UpBlock(c2, c1),  # (N, d, 64, 64)
        nn.BatchNorm2d(c1), nn.ReLU(), nn.Conv2d(c1, c, 3, 1, 1), nn.Sigmoid(),  # (N, C, 64, 64)
    )
    decoder = Decoder(net, image_shape=(c, h, w), latent_dim=d)
    config = {"arch": "resnet64", "image_shape": [c, h, w], "latent_dim": d, "width": width}
    return Autoencoder(encoder, decoder, config)


def build_resnet64_discriminator(
    *, image_shape: Sequence[int], width: float = 1.0, spectral_norm: bool = False
) -> Discriminator:
    """WGAN-GP/WGAN-div 64 px ResNet critic (no normalisation), logit out."""
    c, h, w = check_image_size("resnet64", image_shape, 64)
    width = check_width(width)
    sn = check_flag("spectral_norm", spectral_norm)
    c1, c2, c4, c8 = (scaled(n, width) for n in CHANNELS)
    net = nn.Sequential(
        spectral(nn.Conv2d(c, c1, 3, 1, 1), sn),  # (N, d, 64, 64)
        DBlock(c1, c2, down=True, sn=sn),  # (N, 2d, 32, 32)
        DBlock(c2, c4, down=True, sn=sn),  # (N, 4d, 16, 16)
        DBlock(c4, c8, down=True, sn=sn),  # (N, 8d, 8, 8)
        DBlock(c8, c8, down=True, sn=sn),  # (N, 8d, 4, 4)
        nn.Flatten(), spectral(nn.Linear(c8 * 16, 1), sn),  # (N, 1)
    )
    config = {"arch": "resnet64", "image_shape": [c, h, w], "width": width, "spectral_norm": sn}
    return Discriminator(net, config)
