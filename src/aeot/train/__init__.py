"""Training loops: the autoencoder and the AE-OT-GAN refiner (baselines in later modules)."""

from aeot.train.autoencoder import (
    AETrainConfig,
    encode,
    load_autoencoder,
    reconstruction_mse,
    save_autoencoder,
    train_autoencoder,
)
from aeot.train.refine import RefineConfig, refine_generator

__all__ = [
    "AETrainConfig",
    "RefineConfig",
    "encode",
    "load_autoencoder",
    "reconstruction_mse",
    "refine_generator",
    "save_autoencoder",
    "train_autoencoder",
]
