import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from aeot.errors import CheckpointError, ConfigError
from aeot.nets import make_autoencoder
from aeot.train import AETrainConfig, load_autoencoder, save_autoencoder, train_autoencoder


def tiny_data(n=96):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 1, 8, 8, generator=g)


def tiny_model(seed=0):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return make_autoencoder("mlp", image_shape=(1, 8, 8), latent_dim=4, hidden=(32, 32))


def weights_equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_training_lowers_the_loss_and_is_deterministic():
    x = tiny_data()
    cfg = AETrainConfig(epochs=5, batch_size=16, lr=3e-3, seed=1)
    m1, m2 = tiny_model(), tiny_model()
    h1 = train_autoencoder(m1, x, config=cfg, x_val=x[:16])
    h2 = train_autoencoder(m2, x, config=cfg, x_val=x[:16])
    assert h1["train_mse"][-1] < h1["train_mse"][0]
    assert h1["train_mse"] == h2["train_mse"] and weights_equal(m1, m2)


class Interrupt(Exception):
    pass


def test_interrupted_then_resumed_equals_uninterrupted(tmp_path):
    x = tiny_data()
    cfg = AETrainConfig(epochs=4, batch_size=16, lr=3e-3, seed=2)
    ref = tiny_model()
    ref_hist = train_autoencoder(ref, x, config=cfg)

    ckpt = tmp_path / "checkpoint.safetensors"

    def stop_mid_epoch_3(ev):
        if ev["event"] == "batch" and ev["epoch"] == 3 and ev["batch"] == 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        train_autoencoder(tiny_model(), x, config=cfg, checkpoint=ckpt, progress=stop_mid_epoch_3)
    resumed = tiny_model(seed=99)  # different init: everything must come from the checkpoint
    hist = train_autoencoder(resumed, x, config=cfg, checkpoint=ckpt, resume=True)
    assert hist["epoch"] == [1, 2, 3, 4]
    assert hist["train_mse"] == ref_hist["train_mse"]
    assert weights_equal(resumed, ref)


def test_resume_with_other_settings_or_missing_checkpoint_is_refused(tmp_path):
    x = tiny_data(32)
    ckpt = tmp_path / "c.safetensors"
    train_autoencoder(tiny_model(), x, config=AETrainConfig(epochs=1, batch_size=16), checkpoint=ckpt)
    with pytest.raises(CheckpointError, match="lr="):
        train_autoencoder(tiny_model(), x, config=AETrainConfig(epochs=2, batch_size=16, lr=0.5),
                          checkpoint=ckpt, resume=True)
    other = make_autoencoder("mlp", image_shape=(1, 8, 8), latent_dim=5, hidden=(32, 32))
    with pytest.raises(CheckpointError, match="same architecture"):
        train_autoencoder(other, x, config=AETrainConfig(epochs=2, batch_size=16), checkpoint=ckpt, resume=True)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        train_autoencoder(tiny_model(), x, config=AETrainConfig(), checkpoint=tmp_path / "none", resume=True)


@pytest.mark.parametrize("field, value", [("epochs", 0), ("batch_size", -3), ("lr", float("nan")), ("lr", 0.0)])
def test_bad_settings(field, value):
    with pytest.raises(ConfigError, match=field):
        train_autoencoder(tiny_model(), tiny_data(8), config=AETrainConfig(**{field: value}))


def test_nan_data_is_refused():
    x = tiny_data(8)
    x[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        train_autoencoder(tiny_model(), x, config=AETrainConfig(epochs=1))


def test_autoencoder_file_roundtrip_and_wrong_kind(tmp_path):
    m = tiny_model()
    save_autoencoder(tmp_path / "ae.safetensors", m)
    back = load_autoencoder(tmp_path / "ae.safetensors")
    assert weights_equal(m, back) and back.config == m.config
    ckpt = tmp_path / "c.safetensors"
    train_autoencoder(tiny_model(), tiny_data(16), config=AETrainConfig(epochs=1), checkpoint=ckpt)
    with pytest.raises(CheckpointError, match="expected a 'Autoencoder'"):
        load_autoencoder(ckpt)


def _train_cmd(out):
    return [sys.executable, "-m", "aeot.cli", "train-ae", "--data", "digits", "--image-size", "8",
            "--arch", "mlp", "--latent-dim", "4", "--epochs", "20", "--batch-size", "32",
            "--n-train", "1000", "--n-test", "50", "--seed", "3", "--out", str(out)]


def test_killed_process_resumes_to_the_same_weights(tmp_path):
    """SIGKILL a real `aeot train-ae` after its first checkpoint, resume it, compare weights."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    ref = tmp_path / "ref"
    subprocess.run(_train_cmd(ref), check=True, env=env, capture_output=True)

    run = tmp_path / "run"
    proc = subprocess.Popen(_train_cmd(run) + ["--device", "cpu"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = run / "checkpoint.safetensors"
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "autoencoder.safetensors").exists(), "process finished before it was killed"
    done = subprocess.run(_train_cmd(run) + ["--resume"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    a = load_autoencoder(ref / "autoencoder.safetensors")
    b = load_autoencoder(run / "autoencoder.safetensors")
    assert weights_equal(a, b)
