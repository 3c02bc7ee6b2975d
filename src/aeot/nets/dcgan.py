"""SNGAN's "standard" CNN for 32x32 images (Miyato et al. 2018, Table 3), any channel count.

AE-OT-GAN (An et al. 2020, §4) trains CIFAR-10 with "the standard and ResNet models ... the
same with those used by SNGAN", the encoder being the mirror of the generator.  Channel
counts below are at ``width=1.0``; SNGAN's tanh output is replaced by a sigmoid so images lie
in ``[0, 1]``.

Decoder (SNGAN standard generator, M_g = 4):
    z (N, d) -> linear 4*4*512, BN, ReLU -> reshape       (N, 512, 4, 4)
             -> deconv 256, 4x4 s2, BN, ReLU              (N, 256, 8, 8)
             -> deconv 128, 4x4 s2, BN, ReLU              (N, 128, 16, 16)
             -> deconv 64, 4x4 s2, BN, ReLU               (N, 64, 32, 32)
             -> conv C, 3x3 s1 -> sigmoid                 (N, C, 32, 32)

Encoder (SNGAN standard discriminator trunk, no spectral norm), LeakyReLU(0.1) after every
convolution, grouped by resolution:
    feats[0]: conv 64 3x3                                 (N, 64, 32, 32)
    feats[1]: conv 64 4x4 s2, conv 128 3x3                (N, 128, 16, 16)
    feats[2]: conv 128 4x4 s2, conv 256 3x3               (N, 256, 8, 8)
    feats[3]: conv 256 4x4 s2, conv 512 3x3               (N, 512, 4, 4)
    z:        flatten, linear d                           (N, d)

Discriminator: the SNGAN standard D, i.e. the same trunk with spectral normalisation on every
layer (``spectral_norm=True``) and a final linear 1 logit.

Initialisation: the trunk's convolutions use Kaiming-normal weights (fan-in, LeakyReLU 0.1)
and zero biases.  With PyTorch's default (variance 1/(3 fan_in)) this deep stack without batch
norm shrinks the signal about 5x per layer, so at width 1.0 the codes of different images
would differ by ~1e-4 at initialisation.  Spectral normalisation rescales the weights anyway,
so the choice only matters for the encoder and ``spectral_norm=False``.  Everything else keeps
PyTorch's defaults.
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

__all__ = ["build_dcgan_autoencoder", "build_dcgan_discriminator"]

SLOPE = 0.1  # SNGAN's LeakyReLU slope


def _trunk(c: int, width: float, sn: bool) -> tuple[list[nn.Module], int]:
    """The four resolution groups of SNGAN's standard D; returns them and the flat size."""
    c64, c128, c256, c512 = (scaled(n, width) for n in (64, 128, 256, 512))

    def conv(cin: int, cout: int, k: int, s: int) -> list[nn.Module]:
        layer = nn.Conv2d(cin, cout, k, s, 1)
        nn.init.kaiming_normal_(layer.weight, a=SLOPE, mode="fan_in", nonlinearity="leaky_relu")
        nn.init.zeros_(layer.bias)
        return [spectral(layer, sn), nn.LeakyReLU(SLOPE)]

    blocks = [
        nn.Sequential(*conv(c, c64, 3, 1)),  # (N, 64, 32, 32)
        nn.Sequential(*conv(c64, c64, 4, 2), *conv(c64, c128, 3, 1)),  # (N, 128, 16, 16)
        nn.Sequential(*conv(c128, c128, 4, 2), *conv(c128, c256, 3, 1)),  # (N, 256, 8, 8)
        nn.Sequential(*conv(c256, c256, 4, 2), *conv(c256, c512, 3, 1)),  # (N, 512, 4, 4)
    ]
    return blocks, c512 * 4 * 4


def build_dcgan_autoencoder(
    *, image_shape: Sequence[int], latent_dim: int = 128, width: float = 1.0
) -> Autoencoder:
    """SNGAN standard generator as decoder, mirrored D trunk as encoder (32x32 images)."""
    c, h, w = check_image_size("dcgan", image_shape, 32)
    d = check_latent_dim(latent_dim)
    width = check_width(width)

    blocks, flat = _trunk(c, width, sn=False)
    head = nn.Sequential(nn.Flatten(), nn.Linear(flat, d))  # (N, d)
    encoder = Encoder(blocks, head, image_shape=(c, h, w), latent_dim=d)

    trunk, c64 = dcgan_generator_trunk(d, width)  # (N, 64, 32, 32)
    net = nn.Sequential(*trunk, nn.Conv2d(c64, c, 3, 1, 1), nn.Sigmoid())  # (N, C, 32, 32)
    decoder = Decoder(net, image_shape=(c, h, w), latent_dim=d)

    config = {"arch": "dcgan", "image_shape": [c, h, w], "latent_dim": d, "width": width}
    return Autoencoder(encoder, decoder, config)


def build_dcgan_discriminator(
    *, image_shape: Sequence[int], width: float = 1.0, spectral_norm: bool = True
) -> Discriminator:
    """SNGAN standard discriminator (Miyato et al. 2018, Table 3), LeakyReLU 0.1, logit out."""
    c, h, w = check_image_size("dcgan", image_shape, 32)
    width = check_width(width)
    sn = check_flag("spectral_norm", spectral_norm)
    blocks, flat = _trunk(c, width, sn=sn)
    net = nn.Sequential(*blocks, nn.Flatten(), spectral(nn.Linear(flat, 1), sn))  # (N, 1)
    config = {"arch": "dcgan", "image_shape": [c, h, w], "width": width, "spectral_norm": sn}
    return Discriminator(net, config)
