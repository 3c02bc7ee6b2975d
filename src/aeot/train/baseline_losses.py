"""The losses of the baseline generative models; pure functions on tensors.

The training loop is :mod:`aeot.train.baselines`. Images are in [0, 1]; per-image costs are
summed over pixels (and latent dimensions) and averaged over the batch, as the papers write
them.

* VAE (Kingma & Welling 2014): the negative ELBO ``E_q[-log p(x|z)] + KL(q(z|x) || N(0, I))``
  with a diagonal Gaussian ``q`` and a Bernoulli or fixed-variance Gaussian ``p(x|z)``
  (:func:`vae_loss`, :func:`gaussian_kl`, :func:`reconstruction_nll`).
* WAE-MMD (Tolstikhin et al., "Wasserstein Auto-Encoders", ICLR 2018, Algorithm 2):
  ``||x - G(z)||^2 + lambda * MMD_k(Q_Z, P_Z)`` with the unbiased U-statistic of the MMD and
  the inverse multiquadratics kernel ``k(x, y) = C / (C + ||x - y||^2)`` summed over
  ``C = 2 d sigma_z^2 s`` for ``s`` in ``WAE_SCALES`` (:func:`mmd_imq`); the paper uses
  ``lambda = 10`` and ``sigma_z^2 = 1`` on MNIST.
* GAN (Goodfellow et al. 2014): the discriminator's binary cross-entropy and the
  generator's non-saturating ``-E[log D(G(z))]`` on logits (:func:`gan_discriminator_loss`,
  :func:`gan_generator_loss`).
* WGAN-GP (Gulrajani et al., "Improved Training of Wasserstein GANs", 2017, Algorithm 1):
  critic loss ``E[D(G(z))] - E[D(x)] + lambda * E[(||grad D(x_hat)||_2 - 1)^2]`` on random
  interpolates ``x_hat`` (:func:`gradient_penalty`, :func:`wgan_critic_loss`), generator loss
  ``-E[D(G(z))]`` (:func:`wgan_generator_loss`).
* WGAN (Arjovsky et al., "Wasserstein Generative Adversarial Networks", ICML 2017,
  Algorithm 1): critic loss ``E[D(G(z))] - E[D(x)]`` (:func:`wasserstein_critic_loss`), after
  each critic step every critic weight clipped to ``[-c, c]`` (:func:`clip_weights_`), the same
  generator loss. Zhang et al. (2019) §5.1's "WGAN" row.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

__all__ = [
    "LIKELIHOODS",
    "WAE_SCALES",
    "gan_discriminator_loss",
    "gan_generator_loss",
    "gaussian_kl",
    "gradient_penalty",
    "imq_kernel",
    "mmd_imq",
    "reconstruction_nll",
    "vae_loss",
    "wae_reconstruction",
    "wasserstein_critic_loss",
    "clip_weights_",
    "wgan_critic_loss",
    "wgan_generator_loss",
]

LIKELIHOODS = ("bernoulli", "gaussian")
WAE_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)  # Tolstikhin et al. 2018, the IMQ kernel's scales


def _per_sample_sum(t: torch.Tensor) -> torch.Tensor:
    """(n, ...) -> (n,): sum over everything but the batch dimension."""
    return t.reshape(t.shape[0], -1).sum(dim=1)


# ----------------------------------------------------------------------------- VAE
def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu, diag exp(logvar)) || N(0, I))`` summed over dimensions, averaged over n; (n, d) inputs."""
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)  # (n, d)
    return kl.sum(dim=1).mean()


def reconstruction_nll(x_hat: torch.Tensor, x: torch.Tensor, *, likelihood: str = "bernoulli",
                       sigma: float = 1.0) -> torch.Tensor:
    """``-log p(x | z)`` summed over pixels, averaged over the batch; ``x_hat`` is the decoder's mean in [0, 1].

    ``"bernoulli"``: binary cross-entropy (the decoder's sigmoid output is the pixel
    probability; log clamped at -100 as in PyTorch); ``"gaussian"``: ``N(x_hat, sigma^2 I)``,
    i.e. ``||x - x_hat||^2 / (2 sigma^2) + D/2 log(2 pi sigma^2)``.
    """
    if x_hat.shape != x.shape:
        raise ValueError(f"reconstruction needs matching shapes, got {tuple(x_hat.shape)} and {tuple(x.shape)}")
    if likelihood == "bernoulli":
        return _per_sample_sum(F.binary_cross_entropy(x_hat, x, reduction="none")).mean()
    if likelihood == "gaussian":
        dim = x[0].numel()
        sq = _per_sample_sum((x - x_hat).pow(2))  # (n,)
        return (sq / (2.0 * sigma**2)).mean() + 0.5 * dim * math.log(2.0 * math.pi * sigma**2)
    raise ValueError(f"likelihood must be one of {', '.join(LIKELIHOODS)}, got {likelihood!r}")


def vae_loss(x_hat: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, *,
             likelihood: str = "bernoulli", sigma: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The negative ELBO and its two parts: ``(loss, reconstruction, kl)``, each a scalar.

    ``x_hat`` (n, C, H, W): the decoder's output at ``z = mu + exp(logvar / 2) * eps``;
    ``mu``, ``logvar`` (n, d): the encoder's Gaussian.
    """
    rec = reconstruction_nll(x_hat, x, likelihood=likelihood, sigma=sigma)
    kl = gaussian_kl(mu, logvar)
    return rec + kl, rec, kl


# ----------------------------------------------------------------------------- WAE-MMD
def wae_reconstruction(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The WAE cost ``c(x, G(z)) = ||x - G(z)||_2^2`` summed over pixels, averaged over the batch."""
    if x_hat.shape != x.shape:
        raise ValueError(f"reconstruction needs matching shapes, got {tuple(x_hat.shape)} and {tuple(x.shape)}")
    return _per_sample_sum((x - x_hat).pow(2)).mean()


def imq_kernel(a: torch.Tensor, b: torch.Tensor, *, prior_var: float = 1.0,
               scales: Sequence[float] = WAE_SCALES) -> torch.Tensor:
    """``sum_s C_s / (C_s + ||a_i - b_j||^2)`` with ``C_s = 2 d prior_var s``; (n, d), (m, d) -> (n, m)."""
    d = a.shape[1]
    sq = torch.cdist(a, b).pow(2)  # (n, m)
    out = torch.zeros_like(sq)
    for s in scales:
        c = 2.0 * d * prior_var * float(s)
        out = out + c / (c + sq)
    return out


def mmd_imq(z: torch.Tensor, z_prior: torch.Tensor, *, prior_var: float = 1.0,
            scales: Sequence[float] = WAE_SCALES) -> torch.Tensor:
    """Unbiased MMD^2 estimate between codes ``z`` (n, d) and prior samples ``z_prior`` (m, d).

    WAE Algorithm 2: ``1/(n(n-1)) sum_{i != j} k(z_i, z_j) + 1/(m(m-1)) sum_{i != j}
    k(p_i, p_j) - 2/(nm) sum_{i, j} k(z_i, p_j)``. Its expectation is 0 when both samples come
    from the same distribution (single estimates can be slightly negative).
    """
    if z.ndim != 2 or z_prior.ndim != 2 or z.shape[1] != z_prior.shape[1]:
        raise ValueError(f"mmd needs (n, d) and (m, d) codes, got {tuple(z.shape)} and {tuple(z_prior.shape)}")
    n, m = z.shape[0], z_prior.shape[0]
    if n < 2 or m < 2:
        raise ValueError(f"mmd needs at least 2 samples on each side, got {n} and {m}")
    kzz = imq_kernel(z, z, prior_var=prior_var, scales=scales)
    kpp = imq_kernel(z_prior, z_prior, prior_var=prior_var, scales=scales)
    kzp = imq_kernel(z, z_prior, prior_var=prior_var, scales=scales)
    within_z = (kzz.sum() - kzz.diagonal().sum()) / (n * (n - 1))
    within_p = (kpp.sum() - kpp.diagonal().sum()) / (m * (m - 1))
    return within_z + within_p - 2.0 * kzp.mean()


# ----------------------------------------------------------------------------- GAN
def gan_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``-(E[log D(x)] + E[log(1 - D(G(z)))])`` on logits (n,), (m,)."""
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def gan_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss ``-E[log D(G(z))]`` = ``softplus(-logit)`` averaged."""
    return F.softplus(-fake_logits).mean()


# ----------------------------------------------------------------------------- WGAN-GP
def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                     eps: torch.Tensor) -> torch.Tensor:
    """``E[(||grad_x D(x_hat)||_2 - 1)^2]`` at ``x_hat = eps x + (1 - eps) x_fake`` (unweighted).

    ``real``, ``fake`` (n, ...); ``eps`` (n,) uniform in [0, 1] (the caller draws it, so the
    penalty is reproducible). Differentiable in the critic's parameters (``create_graph``).
    """
    if real.shape != fake.shape or eps.shape != real.shape[:1]:
        raise ValueError(f"gradient_penalty needs real, fake of one shape and eps (n,), got {tuple(real.shape)}, "
                         f"{tuple(fake.shape)}, {tuple(eps.shape)}")
    e = eps.reshape(-1, *([1] * (real.ndim - 1))).to(real.dtype)
    x_hat = (e * real.detach() + (1.0 - e) * fake.detach()).requires_grad_(True)
    scores = critic(x_hat)  # (n,)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    norms = grad.reshape(grad.shape[0], -1).norm(dim=1)  # (n,)
    return (norms - 1.0).pow(2).mean()


def wgan_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor, penalty: torch.Tensor, *,
                     gp_lambda: float = 10.0) -> torch.Tensor:
    """``E[D(G(z))] - E[D(x)] + gp_lambda * penalty`` (Gulrajani et al. 2017, Algorithm 1)."""
    return fake_scores.mean() - real_scores.mean() + gp_lambda * penalty


def wgan_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """``-E[D(G(z))]``."""
    return -fake_scores.mean()


# ----------------------------------------------------------------------------- WGAN (weight clipping)
def wasserstein_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """``E[D(G(z))] - E[D(x)]``: the critic maximises the Kantorovich-Rubinstein estimate
    ``E[D(x)] - E[D(G(z))]`` (Arjovsky et al. 2017, Algorithm 1); no penalty term."""
    return fake_scores.mean() - real_scores.mean()


@torch.no_grad()
def clip_weights_(module: torch.nn.Module, clip: float) -> None:
    """Clamp every parameter of ``module`` in place to ``[-clip, clip]`` (Arjovsky et al. 2017,
    Algorithm 1, line 7: after each critic update; all parameters, biases and norm scales included)."""
    if not (isinstance(clip, (int, float)) and not isinstance(clip, bool) and math.isfinite(clip) and clip > 0):
        raise ValueError(f"clip must be a positive number, got {clip!r}")
    for p in module.parameters():
        p.clamp_(-clip, clip)
