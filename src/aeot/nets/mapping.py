"""The mapping MLP ``f_w`` of AE-OTtrans / AE-OTgen: prior noise ``(N, prior_dim)`` -> codes ``(N, latent_dim)``.

Zhang et al., "Optimal Transport Based Generative Autoencoders":

* §4 (2-D toys): "4 fully-connected layers of 512 neurons and a final layer of 2 neurons.
  Leaky ReLU is used in between each layer" -> preset ``"2d"``: hidden ``(512,) * 4``.
* §5.1 (MNIST, Fashion-MNIST; §5.2 CelebA uses "the same" net): "The OTgen mapping network
  consists of seven layers" -> preset ``"image"``: our reading is seven linear layers, i.e.
  six hidden layers of 512 plus the output layer (the width is not given; 512 as in §4).

    prior_dim -> [Linear(., h_i) -> LeakyReLU] for h_i in hidden -> Linear(., latent_dim)

The LeakyReLU slope is not given by the paper; we use 0.2 (``negative_slope``). Weights are
drawn from an explicit ``torch.Generator`` when one is passed (PyTorch's default
``nn.Linear`` law, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases), so building a
network never touches torch's global RNG.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from aeot._validation import check_positive_int
from aeot.errors import ConfigError
from aeot.nets.base import check_hidden

__all__ = ["MAPPING_PRESETS", "make_mapping_network", "resolve_mapping_hidden"]

MAPPING_PRESETS: dict[str, tuple[int, ...]] = {
    "2d": (512,) * 4,  # §4: 4 hidden layers of 512 + output = 5 linear layers
    "image": (512,) * 6,  # §5.1: "seven layers" = 6 hidden + output
}


def resolve_mapping_hidden(hidden: str | Sequence[int]) -> list[int]:
    """Hidden widths from a preset name (``"2d"``, ``"image"``) or an explicit sequence."""
    if isinstance(hidden, str):
        if hidden not in MAPPING_PRESETS:
            raise ConfigError(
                f"hidden preset {hidden!r} is unknown; choose one of {', '.join(MAPPING_PRESETS)} "
                "or pass a sequence of layer widths"
            )
        return list(MAPPING_PRESETS[hidden])
    return check_hidden(hidden)


def make_mapping_network(
    prior_dim: int,
    latent_dim: int,
    *,
    hidden: str | Sequence[int] = "2d",
    negative_slope: float = 0.2,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> nn.Sequential:
    """The LeakyReLU MLP ``f_w`` of AE-OTtrans/AE-OTgen (Zhang et al., §4 and §5.1).

    ``generator`` (on ``device``) draws the initial weights; without one the global RNG is used.
    """
    check_positive_int("prior_dim", prior_dim)
    check_positive_int("latent_dim", latent_dim)
    if not isinstance(negative_slope, (int, float)) or not math.isfinite(negative_slope) or negative_slope < 0:
        raise ConfigError(f"negative_slope must be a non-negative number, got {negative_slope!r}")
    sizes = resolve_mapping_hidden(hidden)
    kw: dict[str, Any] = {"device": torch.device("cpu") if device is None else torch.device(device), "dtype": dtype}
    layers: list[nn.Module] = []
    prev = prior_dim
    for h in [*sizes, latent_dim]:
        lin = torch.nn.utils.skip_init(nn.Linear, prev, h, **kw)  # no global-RNG draw
        bound = 1.0 / math.sqrt(prev)
        with torch.no_grad():
            lin.weight.uniform_(-bound, bound, generator=generator)  # (h, prev)
            lin.bias.uniform_(-bound, bound, generator=generator)  # (h,)
        layers += [lin, nn.LeakyReLU(negative_slope)]  # (N, h)
        prev = h
    return nn.Sequential(*layers[:-1])  # no activation after the output layer
