"""Training loops: the autoencoder, the AE-OT-GAN refiner and the baselines (VAE, WAE-MMD, GAN, WGAN-GP)."""

from aeot.train.autoencoder import (
    AETrainConfig,
    encode,
    load_autoencoder,
    reconstruction_mse,
    save_autoencoder,
    train_autoencoder,
)
from aeot.train.baselines import BASELINES, BaselineConfig
from aeot.train.refine import RefineConfig, refine_generator

__all__ = [
    "BASELINES",
    "AETrainConfig",
    "BaselineConfig",
    "RefineConfig",
    "encode",
    "load_autoencoder",
    "reconstruction_mse",
    "refine_generator",
    "save_autoencoder",
    "train_autoencoder",
]
