"""gmm and kmeans ("Cluster (k)" of AE-OTtrans/AE-OTgen §4.1): known clusters are recovered and
sampled in proportion to their sizes."""

import pytest
import torch

from aeot.errors import ConfigError
from aeot.samplers import make_sampler

CENTRES = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]], dtype=torch.float64)
SIZES = (100, 200, 300)


def three_clusters(std=0.5, seed=0):
    g = torch.Generator().manual_seed(seed)
    parts = [c + std * torch.randn(n, 2, generator=g, dtype=torch.float64) for c, n in zip(CENTRES, SIZES)]
    return torch.cat(parts)  # (600, 2)


def nearest_centre(x):
    return torch.cdist(x.double(), CENTRES).min(1)


@pytest.mark.parametrize("name, kw", [("kmeans", {"n_clusters": 3}), ("gmm", {"n_components": 3})])
def test_samples_fall_near_their_clusters_in_proportion_to_cluster_size(name, kw):
    z = three_clusters()
    s = make_sampler(name, seed=0, **kw).fit(z)
    x = s.sample(6000)
    assert x.shape == (6000, 2) and x.dtype == z.dtype
    dist, which = nearest_centre(x)
    assert float(dist.max()) < 3.0  # std 0.5: every draw stays in its cluster
    frac = torch.bincount(which, minlength=3).double() / len(x)
    expected = torch.tensor(SIZES, dtype=torch.float64) / sum(SIZES)
    assert torch.allclose(frac, expected, atol=0.03), frac
    # The fitted weights are the cluster sizes (exactly, for k-means).
    order = torch.cdist(s.means_, CENTRES).argmin(1)
    assert sorted(order.tolist()) == [0, 1, 2]
    atol = 1e-12 if name == "kmeans" else 1e-3
    assert torch.allclose(s.weights_[order.argsort()], expected, atol=atol)


def test_gmm_recovers_well_separated_means_and_covariances():
    z = three_clusters(std=0.5)
    s = make_sampler("gmm", n_components=3, seed=0).fit(z)
    order = torch.cdist(s.means_, CENTRES).argmin(1).argsort()
    assert torch.allclose(s.means_[order], CENTRES, atol=0.15)
    cov = 0.25 * torch.eye(2, dtype=torch.float64).expand(3, 2, 2)
    assert torch.allclose(s.covs_[order], cov, atol=0.1)


def test_kmeans_cluster_gaussians_are_the_clusters_mean_and_covariance():
    z = three_clusters()
    s = make_sampler("kmeans", n_clusters=3, seed=0).fit(z)
    _, label = nearest_centre(z)
    ridge = 1e-6 * float(z.var(0, unbiased=False).mean()) * torch.eye(2, dtype=torch.float64)
    for j, c in enumerate(torch.cdist(s.means_, CENTRES).argmin(1).tolist()):
        members = z[label == c]
        assert torch.allclose(s.means_[j], members.mean(0), atol=1e-12)
        assert torch.allclose(s.covs_[j], torch.cov(members.T) + ridge, atol=1e-12)


def test_kmeans_singleton_cluster_still_factorises():
    z = torch.cat([three_clusters()[:100], torch.tensor([[50.0, 50.0]], dtype=torch.float64)])
    s = make_sampler("kmeans", n_clusters=2, seed=0).fit(z)
    assert torch.allclose(torch.sort(s.weights_).values, torch.tensor([1 / 101, 100 / 101], dtype=torch.float64))
    x = s.sample(2000)
    assert torch.isfinite(x).all()
    near_outlier = (x - torch.tensor([50.0, 50.0], dtype=torch.float64)).norm(dim=1) < 1e-2
    assert 0 < int(near_outlier.sum()) < 100  # ~ 2000/101 draws, all on the singleton


@pytest.mark.parametrize("name, kw, match", [
    ("kmeans", {"n_clusters": 0}, "n_clusters"),
    ("kmeans", {"ridge": -1.0}, "ridge"),
    ("gmm", {"n_components": 2.5}, "n_components"),
    ("gmm", {"reg_covar": 0.0}, "reg_covar"),
])
def test_bad_hyperparameters_raise_config_error(name, kw, match):
    with pytest.raises(ConfigError, match=match):
        make_sampler(name, **kw).fit(three_clusters())


@pytest.mark.parametrize("name, key", [("kmeans", "n_clusters"), ("gmm", "n_components")])
def test_more_clusters_than_codes_is_refused(name, key):
    with pytest.raises(ValueError, match=f"{key}=8 exceeds the number of codes n=5"):
        make_sampler(name, **{key: 8}).fit(torch.randn(5, 2))


def test_kmeans_qmc_sample_is_stratified_and_seeded():
    z = torch.randn(500, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    s = make_sampler("kmeans", n_clusters=1, qmc_sample=True).fit(z)
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    a, b = s.sample(256, generator=g1), s.sample(256, generator=g2)
    assert torch.equal(a, b) and not torch.equal(s.sample(8), s.sample(8))
    # one cluster: samples = mean + L eps, eps from a Sobol net; its sample mean is far closer
    # to the fitted mean than i.i.d. noise (sd 1/sqrt(256) per axis) would typically put it
    err_qmc = (a.mean(0) - s.means_[0]).abs().max()
    assert err_qmc < 0.02
    with pytest.raises(ConfigError, match="qmc_sample"):
        make_sampler("kmeans", qmc_sample="yes").fit(z)
