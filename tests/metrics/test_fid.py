import pytest
import torch
from torch import nn

from aeot.metrics import FID, feature_statistics, fid_from_features, frechet_distance


def test_fid_of_a_set_with_itself_is_zero(rng):
    f = torch.randn(500, 16, generator=rng, dtype=torch.float64)
    assert fid_from_features(f, f) == pytest.approx(0.0, abs=1e-8)


def test_fid_grows_with_a_shift(rng):
    a = torch.randn(2000, 8, generator=rng, dtype=torch.float64)
    b = torch.randn(2000, 8, generator=rng, dtype=torch.float64)
    values = [fid_from_features(a, b + s) for s in (0.0, 0.5, 1.0, 2.0)]
    assert values == sorted(values) and values[-1] > 10 * values[0]


def test_frechet_distance_known_answer_for_gaussians():
    # diagonal covariances: |mu1 - mu2|^2 + sum (sqrt(s1) - sqrt(s2))^2
    mu1, mu2 = torch.tensor([0.0, 1.0]), torch.tensor([3.0, 1.0])
    s1, s2 = torch.diag(torch.tensor([4.0, 1.0])), torch.diag(torch.tensor([1.0, 9.0]))
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(9 + 1 + 4, rel=1e-10)


def test_frechet_distance_with_non_commuting_covariances_matches_scipy(rng):
    scipy_linalg = pytest.importorskip("scipy.linalg")
    a = torch.randn(5, 5, generator=rng, dtype=torch.float64)
    b = torch.randn(5, 5, generator=rng, dtype=torch.float64)
    s1, s2 = a @ a.T, b @ b.T
    covmean = scipy_linalg.sqrtm(s1.numpy() @ s2.numpy()).real
    expected = float(torch.trace(s1) + torch.trace(s2) - 2 * covmean.trace())
    assert frechet_distance(torch.zeros(5), s1, torch.zeros(5), s2) == pytest.approx(expected, rel=1e-8)


class Flatten(nn.Module):
    def forward(self, x):
        return x.flatten(1)


def test_fid_metric_update_compute_reset(rng):
    x = torch.rand(64, 1, 4, 4, generator=rng)
    fid = FID(Flatten(), batch_size=10)
    fid.update(x, real=True)
    fid.update(x[:32], real=False)
    fid.update(x[32:], real=False)  # accumulated over batches: the same set
    assert fid.compute() == pytest.approx(0.0, abs=1e-8)
    fid.update((x * 0.5).clamp(0, 1), real=False)
    assert fid.compute() > 0
    fid.reset()
    with pytest.raises(ValueError, match="no real images"):
        fid.compute()


@pytest.mark.parametrize("bad, match", [
    (torch.rand(4, 16), "shape"),
    (torch.rand(4, 2, 8, 8), "shape"),
    (torch.rand(4, 1, 8, 8) * 2 - 1, r"\[0, 1\]"),
    (torch.full((4, 1, 8, 8), float("nan")), r"\[0, 1\]"),
    (torch.randint(0, 255, (4, 1, 8, 8)), "floating point"),
])
def test_bad_images_give_a_clear_value_error(bad, match):
    with pytest.raises(ValueError, match=match):
        FID(Flatten()).update(bad, real=True)


def test_statistics_need_two_rows_and_matching_sizes():
    with pytest.raises(ValueError, match="at least 2 rows"):
        feature_statistics(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="feature sizes differ"):
        fid_from_features(torch.randn(5, 3), torch.randn(5, 4))


@pytest.mark.parametrize(("n", "m"), [(20, 30), (2, 5), (40, 23)])
def test_fewer_points_than_dimensions_give_the_eigen_decomposition_value(rng, n, m):
    """n + m < d takes the nuclear-norm form: the same FID as the d x d eigen-decomposition."""
    d = 80
    real = torch.randn(n, d, generator=rng, dtype=torch.float64)
    fake = torch.randn(m, d, generator=rng, dtype=torch.float64) @ torch.randn(d, d, generator=rng, dtype=torch.float64) * 0.3 + 0.5
    want = frechet_distance(*feature_statistics(real), *feature_statistics(fake))
    # the eigen path adds sqrt of rounding-level eigenvalues (~1e-8 each) for the d - n - m null directions
    assert fid_from_features(real, fake) == pytest.approx(want, rel=1e-7)
    assert fid_from_features(real, real) == pytest.approx(0.0, abs=1e-8)
