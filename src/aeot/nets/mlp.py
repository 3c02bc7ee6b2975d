"""Fully connected autoencoder and discriminator, for any image shape.

Autoencoder: the one of AE-OTtrans / AE-OTgen (Zhang et al., "Optimal Transport Based
Generative Autoencoders", §5.1, MNIST and Fashion-MNIST): "we did not use convolutional
autoencoders but rather chose to only use fully connected layers", latent dimension 8.

    encoder: flatten (C*H*W) -> 512 -> ReLU -> 512 -> ReLU -> latent_dim
    decoder: latent_dim -> 512 -> ReLU -> 512 -> ReLU -> C*H*W -> sigmoid -> (C, H, W)

The hidden sizes are ``hidden`` (decoder uses them reversed).  ``return_features`` gives the
output of each hidden layer after its ReLU: ``len(hidden)`` tensors ``(N, hidden[i])``.

Discriminator: flatten -> 512 -> LeakyReLU(0.2) -> 256 -> LeakyReLU(0.2) -> 1 logit
(sizes ``hidden=(512, 256)``), the usual small MLP critic of GAN tutorials.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from aeot.nets.base import (
    Autoencoder,
    Decoder,
    Discriminator,
    Encoder,
    check_hidden,
    check_image_shape,
    check_latent_dim,
)

__all__ = ["build_mlp_autoencoder", "build_mlp_discriminator"]


def build_mlp_autoencoder(
    *, image_shape: Sequence[int], latent_dim: int = 8, hidden: Sequence[int] = (512, 512)
) -> Autoencoder:
    """Fully connected autoencoder of AE-OTtrans/AE-OTgen (Zhang et al., §5.1)."""
    c, h, w = check_image_shape(image_shape)
    d = check_latent_dim(latent_dim)
    sizes = check_hidden(hidden)
    in_dim = c * h * w

    blocks: list[nn.Module] = []
    prev = in_dim
    for i, n in enumerate(sizes):
        layers: list[nn.Module] = [nn.Flatten()] if i == 0 else []  # (N, C, H, W) -> (N, C*H*W)
        layers += [nn.Linear(prev, n), nn.ReLU()]  # (N, n)
        blocks.append(nn.Sequential(*layers))
        prev = n
    encoder = Encoder(blocks, nn.Linear(prev, d), image_shape=(c, h, w), latent_dim=d)

    dec: list[nn.Module] = []
    prev = d
    for n in reversed(sizes):
        dec += [nn.Linear(prev, n), nn.ReLU()]  # (N, n)
        prev = n
    dec += [nn.Linear(prev, in_dim), nn.Sigmoid(), nn.Unflatten(1, (c, h, w))]  # (N, C, H, W)
    decoder = Decoder(nn.Sequential(*dec), image_shape=(c, h, w), latent_dim=d)

    config = {"arch": "mlp", "image_shape": [c, h, w], "latent_dim": d, "hidden": sizes}
    return Autoencoder(encoder, decoder, config)


def build_mlp_discriminator(
    *, image_shape: Sequence[int], hidden: Sequence[int] = (512, 256)
) -> Discriminator:
    """Small fully connected discriminator: flatten -> 512 -> 256 -> 1, LeakyReLU(0.2)."""
    c, h, w = check_image_shape(image_shape)
    sizes = check_hidden(hidden)
    layers: list[nn.Module] = [nn.Flatten()]  # (N, C*H*W)
    prev = c * h * w
    for n in sizes:
        layers += [nn.Linear(prev, n), nn.LeakyReLU(0.2)]  # (N, n)
        prev = n
    layers.append(nn.Linear(prev, 1))  # (N, 1)
    config = {"arch": "mlp", "image_shape": [c, h, w], "hidden": sizes}
    return Discriminator(nn.Sequential(*layers), config)
