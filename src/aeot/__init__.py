"""aeot: generative modelling with optimal transport in the latent space of an autoencoder.

The systems of AE-OT (An et al., "AE-OT: A new generative model based on extended
semi-discrete optimal transport", ICLR 2020) and AE-OT-GAN (An et al., "AE-OT-GAN: Training
GANs from data specific latent distribution", ECCV 2020): latent semi-discrete OT, then a GAN
refiner; and AE-OTtrans / AE-OTgen (Zhang et al., "Optimal Transport Based Generative
Autoencoders", 2019): a mapping network trained from exact OT matchings.
Data flows one way: data -> autoencoder -> latent codes -> sampler -> decoder -> metrics::

    import aeot
    train = aeot.load_dataset("digits", split="train")
    ae = aeot.make_autoencoder("mlp", image_shape=train.image_shape, latent_dim=8)
    aeot.train_autoencoder(ae, train.x, config=aeot.AETrainConfig(epochs=3))
    sampler = aeot.make_sampler("sdot", seed=0).fit(aeot.encode(ae, train.x))
    model = aeot.LatentGenerativeModel(decoder=ae, sampler=sampler, encoder=ae)
    images = model.generate(16)
    result = aeot.Evaluator("digits", features="classifier", n=1000).prepare().evaluate(model)
    print(result.fid, result.precision, result.recall)

The names below load on first use (PEP 562), so ``import aeot`` and the ``aeot`` command stay
fast; ``from aeot import *`` and static type checkers see them all.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from aeot._version import __version__
from aeot.errors import (
    AeotError,
    CheckpointError,
    ConfigError,
    DatasetError,
    NotFittedError,
    OptionalDependencyError,
)

# name -> the module that defines it (imported when the name is first used).
_LAZY = {
    # data
    "Dataset": "aeot.data",
    "list_datasets": "aeot.data",
    "load_dataset": "aeot.data",
    # networks
    "list_autoencoders": "aeot.nets",
    "make_autoencoder": "aeot.nets",
    "make_discriminator": "aeot.nets",
    # OT maths
    "SemiDiscreteResult": "aeot.ot",
    "assignment": "aeot.ot",
    "ot_divergence": "aeot.ot",
    "solve_semidiscrete": "aeot.ot",
    # samplers
    "GMMSampler": "aeot.samplers",
    "GaussianSampler": "aeot.samplers",
    "KMeansSampler": "aeot.samplers",
    "LatentSampler": "aeot.samplers",
    "OTGenSampler": "aeot.samplers",
    "OTTransSampler": "aeot.samplers",
    "SDOTSampler": "aeot.samplers",
    "list_samplers": "aeot.samplers",
    "load_sampler": "aeot.samplers",
    "make_sampler": "aeot.samplers",
    "save_sampler": "aeot.samplers",
    # training
    "AETrainConfig": "aeot.train",
    "BaselineConfig": "aeot.train",
    "RefineConfig": "aeot.train",
    "encode": "aeot.train",
    "load_autoencoder": "aeot.train",
    "load_baseline": "aeot.run.baseline",
    "refine_generator": "aeot.train",
    "save_autoencoder": "aeot.train",
    "train_autoencoder": "aeot.train",
    "train_baseline": "aeot.run.baseline",
    # the model
    "LatentGenerativeModel": "aeot.model",
    # evaluation
    "Evaluation": "aeot.evaluation",
    "Evaluator": "aeot.evaluation",
    "ReferenceSet": "aeot.evaluation",
    # run directories
    "RunConfig": "aeot.run.config",
    "RunDir": "aeot.run.rundir",
    "StageContext": "aeot.run.stage",
    "run_pipeline": "aeot.run.pipeline",
    # metrics
    "FID": "aeot.metrics",
    "inception_score": "aeot.metrics",
    "kid": "aeot.metrics",
    "mode_coverage": "aeot.metrics",
    "precision_recall": "aeot.metrics",
}

__all__ = [
    "__version__",
    "AeotError",
    "CheckpointError",
    "ConfigError",
    "DatasetError",
    "NotFittedError",
    "OptionalDependencyError",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aeot' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # what a type checker (and an IDE) resolves the lazy names to
    from aeot.data import Dataset, list_datasets, load_dataset
    from aeot.evaluation import Evaluation, Evaluator, ReferenceSet
    from aeot.metrics import FID, inception_score, kid, mode_coverage, precision_recall
    from aeot.model import LatentGenerativeModel
    from aeot.nets import list_autoencoders, make_autoencoder, make_discriminator
    from aeot.ot import SemiDiscreteResult, assignment, ot_divergence, solve_semidiscrete
    from aeot.samplers import (
        GaussianSampler,
        GMMSampler,
        KMeansSampler,
        LatentSampler,
        OTGenSampler,
        OTTransSampler,
        SDOTSampler,
        list_samplers,
        load_sampler,
        make_sampler,
        save_sampler,
    )
    from aeot.train import (
        AETrainConfig,
        BaselineConfig,
        RefineConfig,
        encode,
        load_autoencoder,
        refine_generator,
        save_autoencoder,
        train_autoencoder,
    )
    from aeot.run.baseline import load_baseline, train_baseline
    from aeot.run.config import RunConfig
    from aeot.run.pipeline import run_pipeline
    from aeot.run.rundir import RunDir
    from aeot.run.stage import StageContext
