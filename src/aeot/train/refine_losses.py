"""The losses of AE-OT-GAN (An et al. (ECCV 2020) §3.3, Eq. 1 and 2).

Pure functions on tensors; the training loop is :mod:`aeot.train.refine`.

    L(xi, eta) = L_adv + L_feat + beta * L_img                                   (Eq. 1)

* ``L_adv``: the vanilla GAN loss of Goodfellow et al. on logits ``d(x)``:
  ``E_x[log d(x)] + E_z[log(1 - d(g(z)))]``, maximised by the discriminator and (its
  second term) minimised by the generator (:func:`discriminator_loss`,
  :func:`generator_adversarial_loss`). ``"minimax"`` is the paper's form; ``"non_saturating"``
  is Goodfellow's practical variant ``-E_z[log d(g(z))]``, same fixed point, stronger gradient
  when the discriminator wins.
* ``L_img`` (Eq. 2): ``1/n sum_i ||g(z_i) - x_i||^2`` over the reconstructed triples
  ``(x_i, z_i, g(z_i))`` (:func:`content_loss`).
* ``L_feat``: ``1/n sum_i sum_l alpha_l ||f^(l)(x_i) - f^(l)(g(z_i))||^2`` over the layers of
  the (frozen) encoder ``f`` of the autoencoder, the last layer ``L`` being the latent code
  (:func:`feature_loss`). The paper takes ``alpha_l = 0.06`` for ``l < L`` and
  ``alpha_L = 2.0 / ||Z||_2`` (:func:`latent_norm` gives ``||Z||_2``).

Reduction. The paper writes squared Euclidean norms summed over pixels (features) and
averaged over the ``n`` triples, and weights them with ``beta = 2000`` and ``alpha = 0.06``.
Summed over the 784 pixels of an MNIST image, ``2000 * L_img`` would be ~10^4 times the
adversarial term and the GAN would not move; the weights are on the scale of a per-element
mean (PyTorch's ``MSELoss``, which the feature loss of SRGAN [7] that the paper adopts also
uses). ``reduction="mean"`` (default) therefore averages over elements as well;
``reduction="sum"`` is the literal formula (sum over elements, mean over the batch).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = [
    "ADV_MODES",
    "REDUCTIONS",
    "content_loss",
    "discriminator_loss",
    "feature_loss",
    "generator_adversarial_loss",
    "latent_norm",
    "layer_weights",
]

ADV_MODES = ("minimax", "non_saturating")
REDUCTIONS = ("mean", "sum")


def _sq_error(a: torch.Tensor, b: torch.Tensor, reduction: str) -> torch.Tensor:
    """Squared error of (n, ...) tensors: per-element mean, or per-sample sum averaged over n."""
    d = (a - b).pow(2)
    if reduction == "mean":
        return d.mean()
    return d.reshape(d.shape[0], -1).sum(dim=1).mean()


def content_loss(generated: torch.Tensor, real: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    """Eq. 2: ``||g(z_i) - x_i||^2`` over reconstructed triples; both (n, C, H, W)."""
    if generated.shape != real.shape:
        raise ValueError(f"content_loss needs matching shapes, got {tuple(generated.shape)} and {tuple(real.shape)}")
    return _sq_error(generated, real, reduction)


def feature_loss(feats_real: Sequence[torch.Tensor], feats_fake: Sequence[torch.Tensor],
                 weights: Sequence[float], *, reduction: str = "mean") -> torch.Tensor:
    """``sum_l alpha_l ||f^(l)(x_i) - f^(l)(g(z_i))||^2`` averaged over the n triples.

    ``feats_real[l]``, ``feats_fake[l]``: (n, ...) outputs of encoder layer ``l`` (inner
    blocks first, the latent code last) for the real images and their reconstructions;
    ``weights[l]`` = ``alpha_l``. The real features are targets (pass them detached).
    """
    if not (len(feats_real) == len(feats_fake) == len(weights)) or len(weights) == 0:
        raise ValueError(f"feature_loss needs one weight per layer: got {len(feats_real)} real, "
                         f"{len(feats_fake)} fake feature maps and {len(weights)} weights")
    total = feats_fake[0].new_zeros(())
    for fr, ff, a in zip(feats_real, feats_fake, weights):
        if a != 0:
            total = total + float(a) * _sq_error(ff, fr, reduction)
    return total


def layer_weights(n_inner: int, *, alpha_inner: float, alpha_latent: float) -> list[float]:
    """``[alpha_inner] * n_inner + [alpha_latent]``: the paper's alpha^(l), l = 1..L."""
    return [float(alpha_inner)] * int(n_inner) + [float(alpha_latent)]


def latent_norm(z: torch.Tensor) -> float:
    """``||Z||_2`` of the paper's ``alpha_L = 2.0 / ||Z||_2``: the mean Euclidean norm of the codes.

    The paper does not define ``||Z||_2`` further; we read it as the typical length of a
    latent code, so that ``alpha_L * ||f(x) - f(g(z))||^2`` does not depend on the scale of
    the latent space. ``z``: (N, d).
    """
    return float(z.detach().double().norm(dim=1).mean())


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``-(E[log d(x)] + E[log(1 - d(g(z)))])`` on logits (N,), (M,): the D step minimises it."""
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_adversarial_loss(fake_logits: torch.Tensor, *, mode: str = "minimax") -> torch.Tensor:
    """The generator's part of ``L_adv`` on fake logits (M,).

    ``"minimax"`` (paper): ``E[log(1 - d(g(z)))]`` = ``-softplus(logit)`` averaged; it is
    negative and decreases as the fakes fool ``d``. ``"non_saturating"``: ``-E[log d(g(z))]``
    = ``softplus(-logit)`` averaged.
    """
    if mode == "minimax":
        return -F.softplus(fake_logits).mean()  # log(1 - sigmoid(l)) = -softplus(l)
    if mode == "non_saturating":
        return F.softplus(-fake_logits).mean()  # -log sigmoid(l) = softplus(-l)
    raise ValueError(f"adversarial mode must be one of {', '.join(ADV_MODES)}, got {mode!r}")
