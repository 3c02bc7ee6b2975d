import json
import math

import pytest
import torch
from torch import nn

from aeot.cli import main
from aeot.errors import CheckpointError, ConfigError
from aeot.run.config import DataConfig, ModelConfig, RunConfig, read_run_config
from aeot.train.baseline_losses import (
    clip_weights_,
    gaussian_kl,
    gradient_penalty,
    mmd_imq,
    reconstruction_nll,
    wasserstein_critic_loss,
    wgan_critic_loss,
)
from aeot.train.baseline_training import (
    BASELINES,
    HISTORY_KEYS,
    BaselineConfig,
    build_networks,
    make_optimizers,
    train_epochs,
)
from aeot.run.baseline import load_baseline, train_baseline

MODEL = {"arch": "mlp", "image_shape": [1, 8, 8], "latent_dim": 3, "hidden": [32]}


def run_config(n_train: int = 64) -> RunConfig:
    return RunConfig(data=DataConfig(name="digits", image_size=8, n_train=n_train),
                     model=ModelConfig(arch="mlp", latent_dim=3, params={"hidden": [32]}))


def small(name: str, **kw) -> BaselineConfig:
    return BaselineConfig(name=name, **{"epochs": 1, "batch_size": 16, **kw})


# ----------------------------------------------------------------------------- losses: known answers
def test_mmd_is_near_zero_for_one_distribution_and_grows_with_a_shift():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(500, 4, generator=g), torch.randn(500, 4, generator=g)
    same = mmd_imq(a, b).item()
    shifted = [mmd_imq(a + s, b).item() for s in (0.5, 1.0, 2.0)]
    assert abs(same) < 1e-2  # the estimate is unbiased: 0 in expectation, O(1/n) noise
    assert shifted[0] > 10 * abs(same) and shifted[0] < shifted[1] < shifted[2]


def test_mmd_of_point_masses_is_the_kernel_formula():
    d, r2 = 2, 3.0  # all codes at 0, all prior samples at distance sqrt(3)
    z, p = torch.zeros(6, d, dtype=torch.float64), torch.full((5, d), (r2 / d) ** 0.5, dtype=torch.float64)
    cs = [2 * d * 1.0 * s for s in (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)]
    expected = 7 + 7 - 2 * sum(c / (c + r2) for c in cs)  # k(x, x) = 7 scales of 1
    assert mmd_imq(z, p).item() == pytest.approx(expected, rel=1e-12)
    assert mmd_imq(z, z[:5]).item() == pytest.approx(0.0, abs=1e-12)


def test_gradient_penalty_is_zero_for_a_unit_norm_linear_critic():
    w = torch.randn(1, 2, 3, 3)
    w = w / w.norm()  # ||grad_x <w, x>|| = 1 everywhere
    critic = lambda x: (x * w).flatten(1).sum(1)
    real, fake, eps = torch.rand(5, 2, 3, 3), torch.rand(5, 2, 3, 3), torch.rand(5)
    assert gradient_penalty(critic, real, fake, eps).item() == pytest.approx(0.0, abs=1e-10)
    gp2 = gradient_penalty(lambda x: 2 * critic(x), real, fake, eps)  # ||grad|| = 2: (2 - 1)^2
    assert gp2.item() == pytest.approx(1.0, rel=1e-5)
    loss = wgan_critic_loss(torch.tensor([3.0, 1.0]), torch.tensor([0.0]), gp2, gp_lambda=10.0)
    assert loss.item() == pytest.approx(0.0 - 2.0 + 10.0, rel=1e-5)


def test_vae_kl_and_gaussian_likelihood_known_answers():
    assert gaussian_kl(torch.zeros(4, 3), torch.zeros(4, 3)).item() == 0.0
    mu = torch.tensor([[1.0, 0.0]])
    assert gaussian_kl(mu, torch.zeros(1, 2)).item() == pytest.approx(0.5)
    x = torch.rand(2, 1, 2, 2)
    nll = reconstruction_nll(x, x, likelihood="gaussian", sigma=1.0).item()
    assert nll == pytest.approx(0.5 * 4 * math.log(2 * math.pi), rel=1e-6)  # only the normaliser left
    with pytest.raises(ValueError, match="likelihood"):
        reconstruction_nll(x, x, likelihood="laplace")


# ----------------------------------------------------------------------------- networks and training
def test_wgan_critic_has_no_batch_norm_and_vae_encoder_has_two_heads():
    model = {"arch": "infogan", "image_shape": [1, 28, 28], "latent_dim": 5, "width": 0.125}
    nets = build_networks("wgan-gp", model, seed=0)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in nets["discriminator"].modules())
    assert any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in build_networks("gan", model, seed=0).modules())
    vae = build_networks("vae", model, seed=0)
    assert vae["encoder"](torch.rand(2, 1, 28, 28)).shape == (2, 10) and vae["decoder"].latent_dim == 5


@pytest.mark.parametrize("name", BASELINES)
def test_each_baseline_trains_one_epoch_with_finite_losses(name):
    x = torch.rand(80, 1, 8, 8, generator=torch.Generator().manual_seed(0))  # 5 batches: one wgan-gp G step
    cfg = small(name).resolved()
    nets = build_networks(name, MODEL, seed=0)
    hist = train_epochs(nets, make_optimizers(name, nets, cfg), x, cfg, model=MODEL)
    assert hist["epoch"] == [1]
    for k in HISTORY_KEYS[name]:
        assert math.isfinite(hist[k][0]), k


@pytest.mark.parametrize("name", ["vae", "wae-mmd"])
def test_a_few_steps_lower_the_reconstruction_loss(name):
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(1)).round()  # one fixed binary batch
    cfg = small(name, epochs=30, batch_size=4, lr=1e-2).resolved()  # 30 steps
    nets = build_networks(name, MODEL, seed=0)
    hist = train_epochs(nets, make_optimizers(name, nets, cfg), x, cfg, model=MODEL)
    assert hist["reconstruction"][-1] < 0.6 * hist["reconstruction"][0]


def test_bad_settings_name_the_value():
    with pytest.raises(ConfigError, match="unknown baseline 'vea'"):
        BaselineConfig(name="vea").validate()
    with pytest.raises(ConfigError, match="n_critic must be an int >= 1, got 0"):
        BaselineConfig(name="wgan-gp", n_critic=0).validate()
    with pytest.raises(ConfigError, match="lr"):
        BaselineConfig(name="gan", lr=-1.0).validate()
    assert BaselineConfig(name="wgan-gp").resolved().adam_betas == [0.0, 0.9]


# ----------------------------------------------------------------------------- run directories
def test_resume_ends_equal_to_an_uninterrupted_run(tmp_path):
    rc = run_config()
    full = train_baseline(tmp_path / "full", small("wgan-gp", epochs=2, n_critic=2, n_samples=4), rc)
    train_baseline(tmp_path / "cut", small("wgan-gp", epochs=1, n_critic=2, n_samples=4), rc)
    resumed = train_baseline(tmp_path / "cut", small("wgan-gp", epochs=2, n_critic=2, n_samples=4), rc, resume=True)
    a, b = load_baseline(tmp_path / "full"), load_baseline(tmp_path / "cut")
    for (k, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), k
    assert resumed["final"] == full["final"] and resumed["epochs_done"] == 2
    hist = json.loads((tmp_path / "cut" / "history.json").read_text())
    assert resumed["train_seconds"] == pytest.approx(sum(hist["seconds"]))
    again = train_baseline(tmp_path / "cut", small("wgan-gp", epochs=2, n_critic=2, n_samples=4), rc, resume=True)
    assert again["train_seconds_this_call"] == 0.0  # finished: returns at once
    with pytest.raises(ConfigError, match="--resume"):
        train_baseline(tmp_path / "cut", small("wgan-gp", epochs=2, n_critic=2), rc)
    with pytest.raises(CheckpointError, match="seed"):
        train_baseline(tmp_path / "cut", small("wgan-gp", epochs=3, n_critic=2, seed=5), rc, resume=True)


def test_load_baseline_round_trips_and_refuses_other_directories(tmp_path):
    rc = run_config()
    train_baseline(tmp_path / "wae", small("wae-mmd", n_samples=4), rc)
    m = load_baseline(tmp_path / "wae")
    assert (m.name, m.latent_dim, m.image_shape, m.has_encoder, m.training) == ("wae-mmd", 3, (1, 8, 8), True, False)
    x1 = m.generate(5, generator=torch.Generator().manual_seed(3))
    x2 = load_baseline(tmp_path / "wae").generate(5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(x1, x2) and x1.shape == (5, 1, 8, 8) and 0 <= x1.min() and x1.max() <= 1
    assert m.encode(x1).shape == (5, 3)
    assert read_run_config(tmp_path / "wae").data.name == "digits"
    for f in ("config.json", "baseline.json", "baseline.safetensors", "history.json", "training_curve.png",
              "samples.png"):
        assert (tmp_path / "wae" / f).is_file(), f
    with pytest.raises(CheckpointError, match="not a baseline run"):
        load_baseline(tmp_path)
    (tmp_path / "wae" / "checkpoint.safetensors").replace(tmp_path / "wae" / "baseline.safetensors")
    with pytest.raises(CheckpointError, match="expected a 'Baseline'"):
        load_baseline(tmp_path / "wae")


def test_gan_baseline_has_no_encoder(tmp_path):
    train_baseline(tmp_path / "gan", small("gan", n_samples=4), run_config())
    m = load_baseline(tmp_path / "gan")
    assert not m.has_encoder and m.sample_latents(7).shape == (7, 3)
    with pytest.raises(ConfigError, match="no encoder"):
        m.encode(torch.rand(2, 1, 8, 8))


# ----------------------------------------------------------------------------- CLI
CLI = ["--data", "digits", "--image-size", "8", "--arch", "mlp", "--latent-dim", "3", "--n-train", "64",
       "--batch-size", "16", "--device", "cpu"]


def test_cli_trains_a_vae_and_rejects_bad_epochs(tmp_path, capsys):
    out = tmp_path / "vae"
    assert main(["baseline", "train", "vae", *CLI, "--epochs", "1", "--out", str(out)]) == 0
    assert json.loads((out / "baseline.json").read_text())["baseline"]["name"] == "vae"
    assert (out / "samples.png").is_file() and "vae: 1 epochs" in capsys.readouterr().out
    assert main(["baseline", "train", "vae", *CLI, "--epochs", "0", "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "aeot: error: baseline epochs must be an int >= 1, got 0"
    assert not (tmp_path / "bad").exists()


def test_aeot_evaluate_understands_a_baseline_run(tmp_path, capsys):
    out = tmp_path / "gan"
    assert main(["baseline", "train", "gan", *CLI, "--epochs", "1", "--out", str(out)]) == 0
    assert main(["evaluate", str(out), "--n", "40", "--device", "cpu"]) == 0
    ev = json.loads((out / "metrics.json").read_text())["evaluation"]
    assert ev["source"] == "baseline 'gan'" and ev["spaces"]["classifier"]["rows"][0]["fid"] > 0
    report = (out / "report.md").read_text()
    assert "## Metrics: classifier features" in report and report.startswith("# aeot baseline gan: digits")
    assert "reconstruction MSE" not in report and "(samples.png)" in report
    assert main(["evaluate", str(out), "--generator", "refined", "--device", "cpu"]) == 2  # no refinement here


# ----------------------------------------------------------------------------- WGAN (weight clipping) and presets
def test_clip_weights_and_the_wasserstein_critic_loss_have_their_known_values():
    lin = nn.Linear(3, 1)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[-1.0, 0.005, 2.0]]))
        lin.bias.fill_(-0.003)
    clip_weights_(lin, 0.01)
    assert torch.equal(lin.weight, torch.tensor([[-0.01, 0.005, 0.01]])) and lin.bias.item() == pytest.approx(-0.003)
    with pytest.raises(ValueError, match="clip must be a positive number, got 0"):
        clip_weights_(lin, 0)
    assert wasserstein_critic_loss(torch.tensor([3.0, 1.0]), torch.tensor([0.5])).item() == pytest.approx(-1.5)


def test_wgan_critic_weights_stay_in_the_clip_range_after_each_step():
    cfg = small("wgan", n_critic=2).resolved()
    assert (cfg.lr, cfg.clip, cfg.adam_betas) == (5e-5, 0.01, None)
    nets = build_networks("wgan", MODEL, seed=0)
    critic = nets["discriminator"]
    assert max(float(p.detach().abs().max()) for p in critic.parameters()) > 0.01  # the initial weights exceed c
    opts = make_optimizers("wgan", nets, cfg)
    assert all(isinstance(o, torch.optim.RMSprop) for o in opts.values())
    x = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(0))  # one batch: one critic step
    g0 = [p.detach().clone() for p in nets["decoder"].parameters()]
    hist = train_epochs(nets, opts, x, cfg, model=MODEL)
    assert all(float(p.detach().abs().max()) <= cfg.clip for p in critic.parameters())
    assert any(float(p.detach().abs().max()) == pytest.approx(cfg.clip) for p in critic.parameters())  # clip was active
    assert all(torch.equal(a, b) for a, b in zip(g0, nets["decoder"].parameters()))  # 1 step < n_critic: no G step
    assert math.isfinite(hist["wasserstein"][0]) and hist["g_loss"] == [None]


def test_wae_mmd_presets_name_whose_setting_they_are():
    default = BaselineConfig(name="wae-mmd").resolved()
    assert (default.preset, default.wae_lambda, default.batch_size) == ("tolstikhin2018", 10.0, 100)
    zhang = BaselineConfig(name="wae-mmd", preset="zhang2019").resolved()
    assert (zhang.preset, zhang.wae_lambda, zhang.batch_size) == ("zhang2019", 0.1, 128)
    mine = BaselineConfig(name="wae-mmd", preset="zhang2019", batch_size=64, wae_lambda=1.0).resolved()
    assert (mine.wae_lambda, mine.batch_size) == (1.0, 64)  # explicit fields win over the preset
    assert BaselineConfig(name="gan").resolved().preset is None
    with pytest.raises(ConfigError, match="preset 'zhang' is not one of wae-mmd's .*zhang2019"):
        BaselineConfig(name="wae-mmd", preset="zhang").validate()
    with pytest.raises(ConfigError, match="preset 'zhang2019' is not one of vae's"):
        BaselineConfig(name="vae", preset="zhang2019").validate()
    with pytest.raises(ConfigError, match=r"wgan trains with RMSProp .*got \(0.5, 0.9\)"):
        BaselineConfig(name="wgan", adam_betas=(0.5, 0.9)).validate()
    with pytest.raises(ConfigError, match="clip must be a finite number > 0"):
        BaselineConfig(name="wgan", clip=0.0).validate()


def test_cli_trains_a_wgan_end_to_end(tmp_path, capsys):
    out = tmp_path / "wgan"
    assert main(["baseline", "train", "wgan", *CLI, "--epochs", "1", "--out", str(out)]) == 0
    saved = json.loads((out / "baseline.json").read_text())
    assert saved["baseline"]["name"] == "wgan" and saved["baseline"]["clip"] == 0.01
    assert set(saved["final"]) == set(HISTORY_KEYS["wgan"]) and "wgan: 1 epochs" in capsys.readouterr().out
    m = load_baseline(out)
    assert not m.has_encoder and m.generate(3, generator=torch.Generator().manual_seed(0)).shape == (3, 1, 8, 8)
