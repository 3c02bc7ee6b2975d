"""The containers every architecture builds: :class:`Encoder`, :class:`Decoder`,
:class:`Autoencoder` and :class:`Discriminator`, plus the argument checks they share.

An architecture file only assembles layers; these classes give every architecture the same
interface:

* ``Encoder(x)`` -> ``z`` of shape ``(N, latent_dim)``; ``Encoder(x, return_features=True)``
  -> ``(z, feats)`` where ``feats`` lists the output of each inner block, input to output
  (the layers of the AE-OT-GAN feature loss, Eq. 1 of An et al. 2020).
* ``Decoder(z)`` -> images ``(N, C, H, W)`` in ``[0, 1]`` (a sigmoid output layer).
* ``Autoencoder`` holds both as separate modules (``ae.encoder``, ``ae.decoder``) so the GAN
  generator can be a deep copy of the decoder, and carries ``config``: a JSON-serialisable
  dict such that ``make_autoencoder(**ae.config)`` rebuilds the same architecture.
* ``Discriminator(x)`` -> logits of shape ``(N,)``.

Weights keep PyTorch's default initialisation (Kaiming-uniform for convolutions and linear
layers, ones/zeros for batch norm), so construction draws from torch's global RNG only and is
deterministic given the caller's seed.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from aeot._validation import check_positive_int
from aeot.errors import ConfigError

__all__ = [
    "Autoencoder",
    "Decoder",
    "Discriminator",
    "Encoder",
    "check_hidden",
    "check_image_shape",
    "check_image_size",
    "check_latent_dim",
    "check_width",
    "decode_in_chunks",
    "scaled",
    "spectral",
]


# ----------------------------------------------------------------------------- checks
def check_image_shape(image_shape: Any) -> tuple[int, int, int]:
    """``image_shape`` as a ``(C, H, W)`` tuple of positive ints, or :class:`ConfigError`."""
    ok = (
        isinstance(image_shape, Sequence)
        and not isinstance(image_shape, str)
        and len(image_shape) == 3
        and all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in image_shape)
    )
    if not ok:
        raise ConfigError(
            f"image_shape must be (channels, height, width) with three positive ints, got {image_shape!r}"
        )
    c, h, w = (int(s) for s in image_shape)
    return c, h, w


def check_image_size(arch: str, image_shape: Any, size: int) -> tuple[int, int, int]:
    """Check ``image_shape`` is ``(C, size, size)`` for architecture ``arch``."""
    c, h, w = check_image_shape(image_shape)
    if (h, w) != (size, size):
        raise ConfigError(
            f"architecture {arch!r} needs {size}x{size} images (image_shape (C, {size}, {size})), "
            f"got image_shape {list(image_shape)!r}; resize the data or use arch 'mlp'"
        )
    return c, h, w


def check_latent_dim(latent_dim: Any) -> int:
    """``latent_dim`` as a positive int, or :class:`ConfigError`."""
    return check_positive_int("latent_dim", latent_dim)


def check_width(width: Any) -> float:
    """``width`` (channel multiplier) as a positive finite float, or :class:`ConfigError`."""
    if (
        not isinstance(width, numbers.Real)
        or isinstance(width, bool)
        or not math.isfinite(width)
        or width <= 0
    ):
        raise ConfigError(f"width must be a positive number (channel multiplier, 1.0 = paper size), got {width!r}")
    return float(width)


def check_hidden(hidden: Any, name: str = "hidden") -> list[int]:
    """A non-empty sequence of positive ints (hidden layer sizes), as a list."""
    ok = (
        isinstance(hidden, Sequence)
        and not isinstance(hidden, str)
        and len(hidden) > 0
        and all(isinstance(h, numbers.Integral) and not isinstance(h, bool) and h > 0 for h in hidden)
    )
    if not ok:
        raise ConfigError(f"{name} must be a non-empty sequence of positive ints (layer sizes), got {hidden!r}")
    return [int(h) for h in hidden]


def scaled(channels: int, width: float) -> int:
    """``channels * width`` rounded, at least 1."""
    return max(1, int(round(channels * width)))


def dcgan_generator_trunk(latent_dim: int, width: float) -> tuple[list[nn.Module], int]:
    """The DCGAN/SNGAN generator body shared by ``dcgan`` and ``conv64``: z -> (N, 64w, 32, 32).

    Linear to a 4x4x512 map, then three 4x4 stride-2 up-convolutions with batch norm and
    ReLU. Returns the modules and the output channel count; each caller adds its last layer.
    """
    c64, c128, c256, c512 = (scaled(n, width) for n in (64, 128, 256, 512))

    def up(cin: int, cout: int) -> list[nn.Module]:
        return [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    layers = [
        nn.Linear(latent_dim, c512 * 16, bias=False), nn.BatchNorm1d(c512 * 16), nn.ReLU(),  # (N, 512*16)
        nn.Unflatten(1, (c512, 4, 4)),  # (N, 512, 4, 4)
        *up(c512, c256),  # (N, 256, 8, 8)
        *up(c256, c128),  # (N, 128, 16, 16)
        *up(c128, c64),  # (N, 64, 32, 32)
    ]
    return layers, c64


def spectral(module: nn.Module, on: bool) -> nn.Module:
    """Wrap ``module`` in spectral normalisation (Miyato et al. 2018) when ``on``."""
    return nn.utils.parametrizations.spectral_norm(module) if on else module


# ----------------------------------------------------------------------------- modules
class Encoder(nn.Module):
    """Image ``(N, C, H, W)`` -> code ``(N, latent_dim)`` through ``blocks`` then ``head``.

    With ``return_features=True`` it returns ``(z, feats)``: ``feats[i]`` is the output of
    ``blocks[i]`` (input to output); ``z`` is the output of ``head``.
    """

    def __init__(self, blocks: Sequence[nn.Module], head: nn.Module, *, image_shape: Sequence[int],
                 latent_dim: int):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.head = head
        self.image_shape = tuple(int(s) for s in image_shape)
        self.latent_dim = int(latent_dim)

    def forward(self, x: torch.Tensor, return_features: bool = False):
        if tuple(x.shape[1:]) != self.image_shape or x.dim() != 4:
            raise ConfigError(
                f"encoder expects images of shape (N, {', '.join(map(str, self.image_shape))}), "
                f"got {tuple(x.shape)}"
            )
        h = x
        feats: list[torch.Tensor] = []
        for block in self.blocks:
            h = block(h)
            feats.append(h)
        z = self.head(h)  # (N, latent_dim)
        return (z, feats) if return_features else z


class Decoder(nn.Module):
    """Code ``(N, latent_dim)`` -> image ``(N, C, H, W)`` in ``[0, 1]`` through ``net``."""

    def __init__(self, net: nn.Module, *, image_shape: Sequence[int], latent_dim: int):
        super().__init__()
        self.net = net
        self.image_shape = tuple(int(s) for s in image_shape)
        self.latent_dim = int(latent_dim)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ConfigError(f"decoder expects codes of shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        return self.net(z)  # (N, C, H, W)


class Autoencoder(nn.Module):
    """An encoder and a decoder with the config that rebuilds them.

    ``encode(x)`` -> ``(N, latent_dim)``, ``decode(z)`` -> ``(N, C, H, W)`` in ``[0, 1]``,
    ``forward(x)`` = ``decode(encode(x))``.  ``config`` holds ``arch``, ``image_shape`` (list),
    ``latent_dim`` and the architecture's own arguments; ``make_autoencoder(**ae.config)``
    rebuilds the same module (with fresh weights).
    """

    def __init__(self, encoder: Encoder, decoder: Decoder, config: dict[str, Any]):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self._config = copy.deepcopy(dict(config))

    @property
    def config(self) -> dict[str, Any]:
        return copy.deepcopy(self._config)

    @property
    def latent_dim(self) -> int:
        return self.encoder.latent_dim

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.encoder.image_shape  # type: ignore[return-value]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)  # (N, latent_dim)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)  # (N, C, H, W)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def extra_repr(self) -> str:
        return f"config={self._config}"


class Discriminator(nn.Module):
    """Image ``(N, C, H, W)`` -> logits ``(N,)``; ``net`` must output ``(N, 1)``."""

    def __init__(self, net: nn.Module, config: dict[str, Any]):
        super().__init__()
        self.net = net
        self._config = copy.deepcopy(dict(config))
        self.image_shape = tuple(config["image_shape"])

    @property
    def config(self) -> dict[str, Any]:
        return copy.deepcopy(self._config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.image_shape or x.dim() != 4:
            raise ConfigError(
                f"discriminator expects images of shape (N, {', '.join(map(str, self.image_shape))}), "
                f"got {tuple(x.shape)}"
            )
        return self.net(x).reshape(x.shape[0])  # (N,)

    def extra_repr(self) -> str:
        return f"config={self._config}"


# ----------------------------------------------------------------------------- batched calls
def decode_in_chunks(decode: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor, *, batch_size: int = 256,
                     device: torch.device | str | None = None) -> torch.Tensor:
    """``decode`` applied to ``z`` (n, d) ``batch_size`` rows at a time, concatenated: (n, ...).

    Parameters
    ----------
    decode : callable
        A decoder or generator (or its ``decode`` method): codes ``(b, d)`` -> images ``(b, C, H, W)``.
    z : torch.Tensor
        Codes ``(n, d)`` on the decoder's device.
    batch_size : int
        Rows per call, to bound memory.
    device : torch.device or str, optional
        Where each chunk's output is moved before concatenation (``"cpu"`` frees GPU memory as
        it goes); ``None`` keeps it where ``decode`` put it.

    Returns
    -------
    torch.Tensor
        The outputs of all chunks, in order. Call it under ``torch.no_grad()`` to decode
        without building a graph.
    """
    move = (lambda x: x) if device is None else (lambda x: x.to(device))
    return torch.cat([move(decode(z[i : i + batch_size])) for i in range(0, z.shape[0], batch_size)])
