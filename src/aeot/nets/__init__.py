"""Autoencoders and discriminators, registered by name.

    from aeot.nets import make_autoencoder, make_discriminator

    ae = make_autoencoder("infogan", image_shape=(1, 28, 28), latent_dim=64)
    z = ae.encode(x)                                   # (N, 64)
    z, feats = ae.encoder(x, return_features=True)     # inner-block outputs, input to output
    x_hat = ae.decode(z)                               # (N, 1, 28, 28) in [0, 1]
    d = make_discriminator("infogan", image_shape=(1, 28, 28))
    logits = d(x)                                      # (N,)
    make_autoencoder(**ae.config)                      # same architecture, fresh weights

Architectures (one file each): ``mlp`` (any shape; AE-OTtrans/AE-OTgen), ``infogan`` (28x28;
AE-OT-GAN MNIST), ``dcgan`` and ``resnet`` (32x32; SNGAN standard / ResNet), ``conv64``
(64x64; DCGAN / WGAN-div CelebA), ``resnet64`` (64x64; WGAN-GP / WGAN-div ResNet CelebA),
``conv128`` and ``conv256`` (128x128, 256x256; CelebA-HQ, DCGAN-style).
"""

from __future__ import annotations

from aeot.nets.base import Autoencoder, Decoder, Discriminator, Encoder, decode_in_chunks
from aeot.nets.mapping import MAPPING_PRESETS, make_mapping_network
from aeot.nets.registry import (
    AUTOENCODERS,
    DISCRIMINATORS,
    default_architecture,
    list_autoencoders,
    list_discriminators,
    make_autoencoder,
    make_discriminator,
)

__all__ = [
    "AUTOENCODERS",
    "DISCRIMINATORS",
    "MAPPING_PRESETS",
    "Autoencoder",
    "Decoder",
    "Discriminator",
    "Encoder",
    "decode_in_chunks",
    "default_architecture",
    "list_autoencoders",
    "list_discriminators",
    "make_autoencoder",
    "make_discriminator",
    "make_mapping_network",
]
