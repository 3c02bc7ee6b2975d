"""OTtrans (Algorithm 1) and OTgen (Algorithm 2) of Zhang et al., "Optimal Transport Based
Generative Autoencoders": the matching is an optimal bijection, short training lowers the OT
divergence from the untrained network, the diversity term has its known values."""

import math

import pytest
import torch

from aeot.data import load_dataset
from aeot.errors import ConfigError
from aeot.ot import ot_divergence
from aeot.samplers import make_sampler
from aeot.samplers.otgen import diversity_term

TINY = {"hidden": (64, 64), "batch_size": 64, "lr": 1e-3}


@pytest.fixture(scope="module")
def moons():
    train = load_dataset("moons", n_samples=400, noise=0.05).x  # (400, 2)
    test = load_dataset("moons", split="test", n_samples=512, noise=0.05).x
    return train, test


def divergence(sampler, real, batches=4):
    g = torch.Generator().manual_seed(0)
    return sum(ot_divergence(sampler.sample(128, generator=g), real[i * 128:(i + 1) * 128])
               for i in range(batches)) / batches


@pytest.mark.parametrize("name", ["ottrans", "otgen"])
def test_short_training_lowers_the_divergence_from_the_untrained_start(name, moons):
    z, real = moons
    start = make_sampler(name, steps=1, seed=0, **TINY).fit(z)  # the initial network, one step
    trained = make_sampler(name, steps=300, seed=0, **TINY).fit(z)
    d0, d1 = divergence(start, real), divergence(trained, real)
    assert d1 < 0.5 * d0, (d0, d1)
    hist = trained.loss_history_
    assert len(hist) == math.ceil(300 / 50) and hist[-1] < hist[0]


def test_ottrans_matching_is_an_optimal_permutation(moons):
    z = moons[0][:150].double()
    s = make_sampler("ottrans", steps=1, seed=0, **TINY).fit(z)
    idx, prior = s.pairs_code_index_, s.pairs_prior_.double()
    assert torch.equal(torch.sort(idx).values, torch.arange(150))  # a bijection onto the codes
    # Optimal for the squared cost on the RAW codes (standardising does not change the matching):
    # no exchange of two partners lowers the cost (cyclic monotonicity on 2-cycles).
    c = torch.cdist(prior, z) ** 2  # (m, n)
    own = c[torch.arange(150), idx]  # (m,)
    swapped = c[:, idx]  # swapped[i, j] = c(prior_i, partner of j)
    gain = own[:, None] + own[None, :] - swapped - swapped.T
    assert float(gain.max()) < 1e-4
    # With standardize=False the same seed gives the same matching.
    raw = make_sampler("ottrans", steps=1, seed=0, standardize=False, **TINY).fit(z)
    assert torch.equal(raw.pairs_code_index_, idx)


def test_ottrans_matches_every_code_by_default_as_algorithm_1_reads():
    """No cap: 6,000 codes (above the old default cap of 5,000) are each matched exactly once, by
    the large-n certified path of the exact solver (uniform prior -> clustered codes)."""
    g = torch.Generator().manual_seed(0)
    z = torch.randn(8, 4, generator=g)[torch.randint(0, 8, (6000,), generator=g)] * 3
    z += 0.3 * torch.randn(6000, 4, generator=g)
    s = make_sampler("ottrans", steps=1, seed=0, **TINY).fit(z)
    assert s.n_pairs is None
    assert torch.equal(torch.sort(s.pairs_code_index_).values, torch.arange(6000))


def test_ottrans_subsamples_codes_when_n_pairs_is_smaller(moons):
    s = make_sampler("ottrans", steps=1, n_pairs=50, seed=0, **TINY).fit(moons[0])
    idx = s.pairs_code_index_
    assert idx.shape == (50,) and len(set(idx.tolist())) == 50 and int(idx.max()) < 400
    assert s.pairs_prior_.shape == (50, 2)
    assert float(s.pairs_prior_.abs().max()) <= 1.0  # the uniform(-1, 1) prior


def test_prior_dim_free_for_otgen_fixed_for_ottrans(moons):
    z = moons[0]
    s = make_sampler("otgen", steps=5, prior_dim=5, prior="gaussian", seed=0, **TINY).fit(z)
    assert s.net_[0].in_features == 5 and s.sample(3).shape == (3, 2)
    with pytest.raises(ValueError, match="prior_dim must equal the code dimension 2"):
        make_sampler("ottrans", steps=5, prior_dim=5, **TINY).fit(z)


@pytest.mark.parametrize("name, kw", [
    ("ottrans", {"loss": "l1"}),
    ("otgen", {"loss": "l1"}),
    ("otgen", {"diversity_weight": 0.5}),
])
def test_options_run_and_give_finite_samples(name, kw, moons):
    s = make_sampler(name, steps=20, seed=0, **TINY, **kw).fit(moons[0])
    assert torch.isfinite(s.sample(50)).all() and torch.isfinite(s.loss_history_).all()


def test_progress_every_50_steps_and_the_last(moons):
    events = []
    make_sampler("otgen", steps=120, seed=0, **TINY).fit(moons[0], progress=events.append)
    assert [e["step"] for e in events] == [50, 100, 120]
    assert all(e["task"] == "otgen" and e["total"] == 120 and math.isfinite(e["loss"]) for e in events)


def test_auto_hidden_follows_the_paper():
    z2, z8 = torch.randn(64, 2), torch.randn(64, 8)
    s2 = make_sampler("otgen", steps=1, batch_size=16).fit(z2)
    s8 = make_sampler("otgen", steps=1, batch_size=16).fit(z8)
    assert sum(isinstance(m, torch.nn.Linear) for m in s2.net_) == 5  # §4
    assert sum(isinstance(m, torch.nn.Linear) for m in s8.net_) == 7  # §5.1 "seven layers"


def test_diversity_term_known_values():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(32, 4, generator=g)
    assert float(diversity_term(z, z)) == 0.0
    assert float(diversity_term(z[torch.randperm(32, generator=g)], z)) < 1e-6
    collapsed = z.mean(0, keepdim=True).expand(32, 4).clone().requires_grad_(True)
    d = diversity_term(collapsed, z)
    assert torch.isclose(d, torch.pdist(z).mean())  # a collapsed set has mean distance 0
    d.backward()
    assert torch.isfinite(collapsed.grad).all()
    # Spreading the generated set out by a factor s scales its mean distance by s.
    assert torch.isclose(diversity_term(2 * z, z), torch.pdist(z).mean(), rtol=1e-5)


@pytest.mark.parametrize("name, kw, match", [
    ("otgen", {"prior": "cauchy"}, "prior must be one of"),
    ("otgen", {"loss": "huber"}, "loss must be one of"),
    ("otgen", {"diversity_weight": -1.0}, "diversity_weight"),
    ("ottrans", {"hidden": "huge"}, "hidden preset 'huge'"),
    ("ottrans", {"n_pairs": 0}, "n_pairs"),
    ("ottrans", {"steps": 0}, "steps"),
])
def test_bad_hyperparameters_raise_config_error(name, kw, match):
    with pytest.raises(ConfigError, match=match):
        make_sampler(name, **kw).fit(torch.randn(10, 2))


@pytest.mark.parametrize("name", ["ottrans", "otgen"])
def test_qmc_sample_stratifies_the_prior_and_leaves_training_alone(name, moons):
    plain = make_sampler(name, steps=20, seed=0, **TINY).fit(moons[0])
    qmc = make_sampler(name, steps=20, seed=0, qmc_sample=True, **TINY).fit(moons[0])
    for a, b in zip(plain.net_.parameters(), qmc.net_.parameters()):
        assert torch.equal(a, b)  # the knob changes sampling only
    w = qmc._draw_prior(128, torch.Generator().manual_seed(3), qmc=True)  # (128, 2) in [-1, 1)
    cells = ((w + 1) / 2 * 4).floor().long().clamp(0, 3)
    counts = torch.bincount(cells[:, 0] * 4 + cells[:, 1], minlength=16)
    assert counts.tolist() == [8] * 16  # a Sobol net: every 1/4 x 1/4 cell holds 128/16 points
    iid = plain._draw_prior(128, torch.Generator().manual_seed(3))
    iid_cells = ((iid + 1) / 2 * 4).floor().long().clamp(0, 3)
    assert torch.bincount(iid_cells[:, 0] * 4 + iid_cells[:, 1], minlength=16).tolist() != [8] * 16
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    assert torch.equal(qmc.sample(64, generator=g1), qmc.sample(64, generator=g2))
    assert not torch.equal(qmc.sample(64), qmc.sample(64))


@pytest.mark.parametrize("name", ["ottrans", "otgen"])
def test_qmc_train_draws_every_training_prior_from_a_sobol_net(name, moons, monkeypatch):
    """qmc_train: each OTgen step's prior batch (OTtrans: its matched prior set) is one scrambled
    Sobol draw, stratified, so training differs from i.i.d.; the same seed still repeats it."""
    import aeot.samplers._mapping as mapping

    draws = []
    real_sobol = mapping.sobol

    def spy(n, dim, generator, **kw):
        out = real_sobol(n, dim, generator, **kw)
        draws.append(out.clone())  # _draw_prior maps it to [-1, 1) in place
        return out

    monkeypatch.setattr(mapping, "sobol", spy)
    kw = {**TINY, "batch_size": 16}
    plain = make_sampler(name, steps=5, seed=0, **kw).fit(moons[0])
    assert draws == []  # the default trains on i.i.d. prior draws
    qmc = make_sampler(name, steps=5, seed=0, qmc_train=True, **kw).fit(moons[0])
    assert len(draws) == (5 if name == "otgen" else 1)
    first = draws[0]  # (16, 2) for otgen, (400, 2) for ottrans: a net in every 1/4 x 1/4 cell
    cells = (first * 4).floor().long().clamp(0, 3)
    counts = torch.bincount(cells[:, 0] * 4 + cells[:, 1], minlength=16)
    assert counts.tolist() == [1] * 16 if name == "otgen" else counts.min() >= 400 // 16 - 3
    assert any(not torch.equal(a, b) for a, b in zip(plain.net_.parameters(), qmc.net_.parameters()))
    again = make_sampler(name, steps=5, seed=0, qmc_train=True, **kw).fit(moons[0])
    for a, b in zip(qmc.net_.parameters(), again.net_.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(ConfigError, match="qmc_train"):
        make_sampler(name, qmc_train="yes").fit(moons[0])


@pytest.mark.parametrize("name", ["ottrans", "otgen"])
def test_cosine_lr_schedule_decays_to_zero_and_bad_values_are_refused(name, moons, monkeypatch):
    """lr_schedule="cosine": the learning rate follows the cosine from lr to 0 over the steps
    (the last step is taken at a rate near 0); "constant" (the paper's) keeps lr throughout."""
    rates = []
    real_step = torch.optim.Adam.step

    def spy(self, *a, **kw):
        rates.append(self.param_groups[0]["lr"])
        return real_step(self, *a, **kw)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    make_sampler(name, steps=20, seed=0, lr_schedule="cosine", **TINY).fit(moons[0])
    lr = TINY["lr"]
    expected = [lr * (1 + math.cos(math.pi * k / 20)) / 2 for k in range(20)]
    assert rates == pytest.approx(expected, rel=1e-6)
    rates.clear()
    make_sampler(name, steps=5, seed=0, **TINY).fit(moons[0])
    assert rates == [lr] * 5
    with pytest.raises(ConfigError, match="lr_schedule"):
        make_sampler(name, lr_schedule="linear").fit(moons[0])


@pytest.mark.parametrize("name", ["ottrans", "otgen"])
def test_ema_samples_with_the_moving_average_of_the_trained_weights(name, moons, monkeypatch):
    """ema=beta: training is unchanged, and the fitted network holds the exponential moving
    average a_s = beta * a_(s-1) + (1 - beta) * w_s of the weights after each step (a_0 the
    initial weights); its state round-trips; ema=0 (the paper's) keeps the last weights."""
    trajectory, initial = [], []
    real_step = torch.optim.Adam.step

    def spy(self, *a, **kw):
        if not initial:
            initial.extend(p.detach().clone() for g in self.param_groups for p in g["params"])
        out = real_step(self, *a, **kw)
        trajectory.append([p.detach().clone() for g in self.param_groups for p in g["params"]])
        return out

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    plain = make_sampler(name, steps=12, seed=0, **TINY).fit(moons[0])
    last = trajectory[-1]
    trajectory.clear()
    initial.clear()
    beta = 0.7
    averaged = make_sampler(name, steps=12, seed=0, ema=beta, **TINY).fit(moons[0])
    expected = initial
    for weights in trajectory:
        expected = [beta * a + (1 - beta) * w for a, w in zip(expected, weights)]
    got = list(averaged.net_.parameters())
    assert all(torch.allclose(g, e, atol=1e-6) for g, e in zip(got, expected))
    assert not all(torch.allclose(g, w, atol=1e-4) for g, w in zip(got, last))
    assert all(torch.equal(p, w) for p, w in zip(plain.net_.parameters(), last))
    again = make_sampler(name, steps=12, seed=0, ema=beta, **TINY)
    again.load_state_dict(averaged.state_dict())
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(again.sample(16, generator=g1), averaged.sample(16, generator=g2))
    for bad in (1.0, -0.1, "0.9", True):
        with pytest.raises(ConfigError, match="ema"):
            make_sampler(name, ema=bad).fit(moons[0])
