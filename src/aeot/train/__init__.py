"""Training loops: the autoencoder (and, in later modules, the GAN refiner and baselines)."""

from aeot.train.autoencoder import (
    AETrainConfig,
    encode,
    load_autoencoder,
    reconstruction_mse,
    save_autoencoder,
    train_autoencoder,
)

__all__ = [
    "AETrainConfig",
    "encode",
    "load_autoencoder",
    "reconstruction_mse",
    "save_autoencoder",
    "train_autoencoder",
]
