"""Registries of autoencoders and discriminators by name; the CLI choices come from here.

Each entry maps a name to a builder taking keyword-only arguments (``image_shape`` required,
``latent_dim`` for autoencoders, plus the architecture's own, e.g. ``width``).  The built
module's ``config`` holds every resolved argument, so ``make_autoencoder(**ae.config)`` and
``make_discriminator(**d.config)`` rebuild the same architecture.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

from aeot.errors import ConfigError
from aeot.nets.base import Autoencoder, Discriminator, check_image_shape
from aeot.nets.conv64 import build_conv64_autoencoder, build_conv64_discriminator
from aeot.nets.conv256 import (
    build_conv128_autoencoder,
    build_conv128_discriminator,
    build_conv256_autoencoder,
    build_conv256_discriminator,
)
from aeot.nets.dcgan import build_dcgan_autoencoder, build_dcgan_discriminator
from aeot.nets.infogan import build_infogan_autoencoder, build_infogan_discriminator
from aeot.nets.mlp import build_mlp_autoencoder, build_mlp_discriminator
from aeot.nets.resnet import build_resnet_autoencoder, build_resnet_discriminator
from aeot.nets.resnet64 import build_resnet64_autoencoder, build_resnet64_discriminator

__all__ = [
    "AUTOENCODERS",
    "DISCRIMINATORS",
    "default_architecture",
    "list_autoencoders",
    "list_discriminators",
    "make_autoencoder",
    "make_discriminator",
]

AUTOENCODERS: dict[str, Callable[..., Autoencoder]] = {
    "mlp": build_mlp_autoencoder,
    "infogan": build_infogan_autoencoder,
    "dcgan": build_dcgan_autoencoder,
    "resnet": build_resnet_autoencoder,
    "conv64": build_conv64_autoencoder,
    "resnet64": build_resnet64_autoencoder,
    "conv128": build_conv128_autoencoder,
    "conv256": build_conv256_autoencoder,
}

DISCRIMINATORS: dict[str, Callable[..., Discriminator]] = {
    "mlp": build_mlp_discriminator,
    "infogan": build_infogan_discriminator,
    "dcgan": build_dcgan_discriminator,
    "resnet": build_resnet_discriminator,
    "conv64": build_conv64_discriminator,
    "resnet64": build_resnet64_discriminator,
    "conv128": build_conv128_discriminator,
    "conv256": build_conv256_discriminator,
}

# (H, W) -> the architecture the papers use at that size; any other size gets "mlp".
_BY_SIZE: dict[tuple[int, int], str] = {(28, 28): "infogan", (32, 32): "dcgan", (64, 64): "conv64",
                                        (128, 128): "conv128", (256, 256): "conv256"}


def list_autoencoders() -> list[str]:
    return sorted(AUTOENCODERS)


def list_discriminators() -> list[str]:
    return sorted(DISCRIMINATORS)


def default_architecture(image_shape: Sequence[int]) -> str:
    """The default architecture for ``(C, H, W)`` images.

    28x28 -> ``"infogan"`` (MNIST), 32x32 -> ``"dcgan"`` (CIFAR-10), 64x64 -> ``"conv64"``
    (CelebA), 128x128 -> ``"conv128"``, 256x256 -> ``"conv256"`` (CelebA-HQ), anything else -> ``"mlp"``.
    """
    _, h, w = check_image_shape(image_shape)
    return _BY_SIZE.get((h, w), "mlp")


def _build(kind: str, registry: dict[str, Callable[..., nn.Module]], arch: Any, params: dict[str, Any]):
    if not isinstance(arch, str) or arch not in registry:
        raise ConfigError(f"unknown {kind} architecture {arch!r}; choose one of {', '.join(sorted(registry))}")
    builder = registry[arch]
    sig = inspect.signature(builder).parameters
    unknown = sorted(set(params) - set(sig))
    if unknown:
        raise ConfigError(
            f"{kind} {arch!r} takes no parameter(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(sig)}"
        )
    missing = [n for n, p in sig.items() if p.default is inspect.Parameter.empty and n not in params]
    if missing:
        raise ConfigError(f"{kind} {arch!r} needs {', '.join(missing)} (e.g. image_shape=(1, 28, 28))")
    return builder(**params)


def make_autoencoder(arch: str, **params: Any) -> Autoencoder:
    """Build the autoencoder registered as ``arch``.

    ``params``: ``image_shape`` (``(C, H, W)``, required), ``latent_dim`` (positive int; the
    architecture's paper default if omitted) and the architecture's own arguments (``width``
    for the convolutional ones, ``hidden`` for ``"mlp"``).  Raises :class:`ConfigError` on an
    unknown name, unknown parameter or unsupported value.
    """
    return _build("autoencoder", AUTOENCODERS, arch, params)


def make_discriminator(arch: str, **params: Any) -> Discriminator:
    """Build the discriminator registered as ``arch``; ``d(x)`` gives logits of shape ``(N,)``.

    ``params``: ``image_shape`` (required) and the architecture's own arguments (``width``,
    ``spectral_norm`` for the convolutional ones: on by default for the SNGAN-style
    ``"dcgan"``/``"resnet"``/``"conv64"``, off for ``"resnet64"``/``"conv128"``/``"conv256"``, ``hidden`` for ``"mlp"``).
    """
    return _build("discriminator", DISCRIMINATORS, arch, params)
