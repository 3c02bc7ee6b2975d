import math

import pytest
import torch

from aeot.metrics import inception_score, kid, latent_metrics, mode_coverage, precision_recall, w2_distance


@pytest.mark.parametrize("k", [2, 5, 10])
def test_inception_score_of_confident_balanced_predictions_is_k(k):
    labels = torch.arange(k).repeat(20)  # 20 per class, every split balanced
    logits = torch.full((labels.numel(), k), -50.0)
    logits[torch.arange(labels.numel()), labels] = 50.0
    mean, std = inception_score(logits, n_splits=10 if k in (2, 10) else 4)
    assert mean == pytest.approx(k, rel=1e-6) and std == pytest.approx(0, abs=1e-6)


def test_inception_score_of_uniform_predictions_is_one():
    mean, _ = inception_score(torch.zeros(100, 10))
    assert mean == pytest.approx(1.0)


def test_inception_score_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(n, k\)"):
        inception_score(torch.zeros(10))
    with pytest.raises(ValueError, match="n_splits"):
        inception_score(torch.zeros(5, 3), n_splits=10)


def test_coverage_of_a_one_class_set_is_one_class():
    real = torch.arange(10).repeat(10)
    cov = mode_coverage(torch.full((100,), 3), real, 10)
    assert cov["classes_covered"] == 1
    assert cov["kl_to_real"] == pytest.approx(math.log(10))
    full = mode_coverage(real.flip(0), real, 10)
    assert full["classes_covered"] == 10 and full["kl_to_real"] == pytest.approx(0, abs=1e-12)


def test_coverage_ignores_stray_samples_below_the_threshold():
    fake = torch.cat([torch.zeros(999, dtype=torch.long), torch.ones(1, dtype=torch.long)])
    assert mode_coverage(fake, torch.arange(10), 10)["classes_covered"] == 1
    assert mode_coverage(fake, torch.arange(10), 10, min_fraction=0)["classes_covered"] == 2


def test_coverage_rejects_labels_out_of_range():
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        mode_coverage(torch.tensor([0, 10]), torch.arange(10), 10)


def test_precision_recall_of_a_set_with_itself_is_one_and_of_far_sets_zero(rng):
    a = torch.randn(200, 4, generator=rng)
    assert precision_recall(a, a) == (1.0, 1.0)
    assert precision_recall(a, a + 100) == (0.0, 0.0)


def test_precision_drops_when_fakes_leave_the_manifold_but_recall_stays(rng):
    real = torch.randn(400, 2, generator=rng)
    fake = torch.cat([real[:200] + 0.01, real[:200] + 50])  # half on the manifold, half far away
    p, r = precision_recall(real, fake)
    assert p == pytest.approx(0.5, abs=0.02) and r < 1.0


def test_kid_near_zero_for_one_distribution_and_positive_for_a_shift(rng):
    a, b = torch.randn(600, 8, generator=rng), torch.randn(600, 8, generator=rng)
    same, _ = kid(a, b, subset_size=300, n_subsets=20)
    shifted, _ = kid(a, b + 1, subset_size=300, n_subsets=20)
    assert abs(same) < 0.1 * shifted and shifted > 0


def test_latent_metrics_zero_on_identical_codes_and_w2_of_a_translation(rng):
    z = torch.randn(100, 3, generator=rng)
    m = latent_metrics(z, z.clone())
    assert m["ot_divergence"] == pytest.approx(0, abs=1e-12) and m["w2"] == pytest.approx(0, abs=1e-12)
    shift = torch.tensor([3.0, 4.0, 0.0])
    assert w2_distance(z, z + shift) == pytest.approx(5.0, rel=1e-6)  # a translation is optimal
