"""aeot: generative modelling with optimal transport in the latent space of an autoencoder.

The systems of AE-OT / AE-OT-GAN (latent semi-discrete OT, then a GAN refiner) and
AE-OTtrans / AE-OTgen (a mapping network trained from exact OT matchings).
Data flows one way: data -> autoencoder -> latent codes -> sampler -> decoder -> metrics.
"""

from __future__ import annotations

__version__ = "0.1.0"

from aeot.errors import (  # noqa: E402
    AeotError,
    CheckpointError,
    ConfigError,
    DatasetError,
    NotFittedError,
)

__all__ = [
    "__version__",
    "AeotError",
    "CheckpointError",
    "ConfigError",
    "DatasetError",
    "NotFittedError",
]
