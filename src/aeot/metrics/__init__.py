"""Evaluation metrics: FID (Inception or domain-classifier features), Inception Score, k-NN
precision / recall, KID, mode coverage and latent OT metrics, plus the domain classifier.

>>> from aeot.metrics import FID, ClassifierFeatures, load_classifier
>>> clf, _ = load_classifier("fashion.safetensors")
>>> fid = FID(ClassifierFeatures(clf)); fid.update(real, real=True); fid.update(fake, real=False)
>>> fid.compute()

The Inception network (``load_inception``) needs the optional extra ``aeot[inception]``.
"""

from aeot.metrics.classifier import (
    ClassifierConfig,
    ClassifierFeatures,
    DomainClassifier,
    default_classifier_path,
    load_classifier,
    predict,
    save_classifier,
    train_classifier,
    train_dataset_classifier,
)
from aeot.metrics.coverage import label_histogram, mode_coverage
from aeot.metrics.fid import FID, extract_features, feature_statistics, fid_from_features, frechet_distance
from aeot.metrics.inception import InceptionFeatures, load_inception, locate_inception_weights
from aeot.metrics.inception_score import inception_score
from aeot.metrics.latent import latent_metrics, w2_distance
from aeot.metrics.memorization import CopyFraction, copy_fraction, latent_copy_fraction
from aeot.metrics.prdc import kid, precision_recall

__all__ = [
    "FID",
    "ClassifierConfig",
    "ClassifierFeatures",
    "CopyFraction",
    "DomainClassifier",
    "InceptionFeatures",
    "default_classifier_path",
    "copy_fraction",
    "extract_features",
    "feature_statistics",
    "fid_from_features",
    "frechet_distance",
    "inception_score",
    "kid",
    "label_histogram",
    "latent_copy_fraction",
    "latent_metrics",
    "load_classifier",
    "load_inception",
    "locate_inception_weights",
    "mode_coverage",
    "precision_recall",
    "predict",
    "save_classifier",
    "train_classifier",
    "train_dataset_classifier",
    "w2_distance",
]
