"""The AE-OT sampler: semi-discrete OT plus the extended map."""

import pytest
import torch

from aeot.errors import ConfigError
from aeot.samplers import load_sampler, make_sampler, save_sampler

FAST = {"max_iter": 40, "tol": 0.25, "tol_max": 1.0, "max_samples": 1 << 15}  # cheap solver budget, tiny problems


def blobs(sizes=(30, 20, 10), d=2, spread=0.2, gap=6.0, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    parts, labels = [], []
    for c, m in enumerate(sizes):
        centre = torch.zeros(d)
        centre[c % d] = gap * (1 + c // d) * (-1) ** c
        parts.append(centre + spread * torch.randn(m, d, generator=g))
        labels.append(torch.full((m,), c))
    return torch.cat(parts).to(dtype), torch.cat(labels)


def test_samples_lie_in_the_epsilon_complex_and_keep_the_codes_dtype():
    z, _ = blobs()
    s = make_sampler("sdot", **FAST, seed=1).fit(z)
    x = s.sample(800)
    assert x.shape == (800, 2) and x.dtype == torch.float32 and torch.isfinite(x).all()
    assert s.epsilon_ > 0
    dist = torch.cdist(x.double(), z.double()).min(1).values  # to the nearest code
    assert dist.max() <= s.epsilon_ + 1e-5
    assert (dist > 1e-6).float().mean() > 0.2  # new codes, not only copies of the old ones
    # epsilon = 0: the plain OT map, i.e. the samples are codes
    x0 = make_sampler("sdot", **FAST, epsilon=0.0).fit(z).sample(200)
    assert torch.cdist(x0.double(), z.double()).min(1).values.max() == 0


def test_every_mode_gets_its_share_of_samples():
    z, labels = blobs(sizes=(30, 20, 10))
    for mode in ("paper", "pyomt-pairs", "projection", "plain"):
        s = make_sampler("sdot", **FAST, mode=mode).fit(z)
        x = s.sample(3000)
        nearest = labels[torch.cdist(x, z).argmin(1)]
        share = torch.bincount(nearest, minlength=3).double() / 3000
        assert torch.allclose(share, torch.tensor([0.5, 1 / 3, 1 / 6], dtype=torch.float64), atol=0.06), (mode, share)
        # nothing lands in the gaps between the clusters
        exact = torch.cdist(x, z, compute_mode="donot_use_mm_for_euclid_dist")  # no cancellation at 0
        assert exact.min(1).values.max() <= s.epsilon_ + 1e-5 < 1.0
        assert (s.epsilon_ == 0.0) == (mode == "plain")  # the plain map interpolates nothing


def test_duplicate_codes_are_merged_and_keep_their_mass():
    z, labels = blobs(sizes=(30, 20, 10))
    z = torch.cat([z, z[labels == 2]])  # every code of the small cluster twice: 20 of 80 rows
    labels = torch.cat([labels, labels[labels == 2]])
    s = make_sampler("sdot", **FAST).fit(z)
    assert s.n_duplicates_ == 10 and s.codes_.shape == (60, 2)
    x = s.sample(3000)
    share = torch.bincount(labels[torch.cdist(x, z).argmin(1)], minlength=3).double() / 3000
    # Merged mass counts: the small cluster gets 2/7, not the 1/6 of its distinct codes. (The
    # solver's cheap tolerance leaves heavy cells ~20% short, hence the loose bound.)
    assert share[2] > 0.2 and (share - torch.tensor([3 / 7, 2 / 7, 2 / 7], dtype=torch.float64)).abs().max() < 0.08


def test_state_dict_round_trip_gives_identical_samples():
    z, _ = blobs(dtype=torch.float64)
    s = make_sampler("sdot", **FAST, mode="pairs", seed=4).fit(z)
    s.sample(5)
    t = make_sampler("sdot", **FAST, mode="pairs", seed=4).load_state_dict(s.state_dict())
    assert t.epsilon_ == s.epsilon_
    assert torch.equal(s.sample(50), t.sample(50))
    g1, g2 = torch.Generator().manual_seed(2), torch.Generator().manual_seed(2)
    assert torch.equal(s.sample(20, generator=g1), t.sample(20, generator=g2))


def test_save_and_load_through_a_checkpoint(tmp_path):
    z, _ = blobs()
    s = make_sampler("sdot", **FAST, epsilon=50.0, k=2).fit(z)
    save_sampler(tmp_path / "sdot.safetensors", s)
    t = load_sampler(tmp_path / "sdot.safetensors")
    assert t.get_params() == s.get_params() and t.epsilon_ == 50.0
    assert torch.equal(t.codes_, s.codes_) and torch.equal(t.result_.potential, s.result_.potential)
    assert torch.equal(s.sample(30), t.sample(30))


def test_fit_reports_progress_and_bad_parameters_are_named():
    z, _ = blobs()
    seen = []
    make_sampler("sdot", **FAST).fit(z, progress=seen.append)
    assert seen and all(e["event"] == "step" and e["task"] == "sdot" for e in seen)
    for bad, match in [({"mode": "triangles"}, "mode"), ({"epsilon": -1.0}, "epsilon"), ({"k": 0}, "k must"),
                       ({"epsilon_quantile": 1.5}, "epsilon_quantile"), ({"pair_weight": 2.0}, "pair_weight"),
                       ({"max_iter": 0}, "max_iter"), ({"qmc": "yes"}, "qmc"), ({"method": "sgd"}, "method")]:
        with pytest.raises(ConfigError, match=match):
            make_sampler("sdot", **bad).fit(z)


def test_default_is_the_paper_map_and_old_mode_names_still_load():
    from aeot.samplers.sdot import AUTO_SIMPLEX_MAX_DIM

    g = torch.Generator().manual_seed(0)
    assert make_sampler("sdot", **FAST).fit(torch.randn(40, 2, generator=g)).mode_ == "paper"
    # "auto" is the rule of runs made before the paper's map existed: projection, then pairs
    low = make_sampler("sdot", **FAST, mode="auto").fit(torch.randn(40, 2, generator=g))
    high = make_sampler("sdot", **FAST, mode="auto").fit(torch.randn(40, AUTO_SIMPLEX_MAX_DIM + 1, generator=g))
    assert (low.mode_, high.mode_) == ("projection", "pyomt-pairs")
    assert make_sampler("sdot", **FAST, mode="simplex").fit(torch.randn(40, 12, generator=g)).mode_ == "projection"
    assert make_sampler("sdot", **FAST, mode="pairs").fit(torch.randn(40, 12, generator=g)).mode_ == "pyomt-pairs"


def test_map_source_reports_the_simplex_of_each_sample():
    g = torch.Generator().manual_seed(1)
    s = make_sampler("sdot", **FAST, epsilon=float("inf")).fit(torch.randn(60, 2, generator=g))
    w = torch.rand(500, 2, generator=g, dtype=torch.float64)
    out = s.map_source(w)
    assert out.inside.float().mean() > 0.5  # in 2-D most of the box lies in the hull of the centres
    assert torch.equal(out.interpolated, out.inside & out.interpolated)
