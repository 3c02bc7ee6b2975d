"""Data-parallel training (issue 23): 2 gloo processes on this CPU compute what 1 process computes.

One ``torchrun --nproc_per_node 2`` launch (a few seconds) runs :data:`WORKER`: autoencoder
training, an AE-OT-GAN refinement and an sdot sampler fit, each on tiny data, with networks
without batch norm (mlp: on gloo a batch norm keeps per-process statistics, see
aeot.distributed). Both ranks save what they got; the tests compare the ranks with each other
(bitwise: the same all-reduced gradients) and with one process here (float tolerance: the
gradient sums are added in another order). The CLI launches are in the slow tests at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from aeot import distributed
from aeot.cli import main
from aeot.errors import AeotError, ConfigError
from aeot.nets import make_autoencoder
from aeot.samplers import make_sampler
from aeot.train.autoencoder import AETrainConfig, train_autoencoder
from aeot.train.baseline_training import BASELINES, BaselineConfig, build_networks, make_optimizers, train_epochs
from aeot.train.refine import RefineConfig, refine_generator

SRC = str(Path(__file__).resolve().parents[1] / "src")
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]


# ----------------------------------------------------------------------------- the cases (shared with WORKER)
def ae_case():
    """33 images in global batches of 8: the last batch holds 1 image, so rank 0's share is empty."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(33, 1, 8, 8, generator=g)
    with torch.random.fork_rng():
        torch.manual_seed(1)
        model = make_autoencoder("mlp", image_shape=(1, 8, 8), latent_dim=4, hidden=(16, 16))
    return model, x, AETrainConfig(epochs=2, batch_size=8, lr=1e-2, seed=2)


def refine_case():
    """37 pairs, fake batches of 3 reconstructions + 5 generated images: uneven shares, an empty one last."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(37, 1, 8, 8, generator=g)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        ae = make_autoencoder("mlp", image_shape=(1, 8, 8), latent_dim=4, hidden=(16, 16))
    ae.eval()
    with torch.no_grad():
        z = ae.encode(x)
    sampler = make_sampler("gaussian", seed=1).fit(z)
    cfg = RefineConfig(epochs=2, batch_size=8, ratio=1.5, g_steps=2, lr=1e-3, n_panel=2, n_eval=4, seed=3)
    return ae, sampler, x, z, cfg


def baseline_case(name: str):
    """32 images in global batches of 8, two D steps per G step (the GANs); mlp networks."""
    x = torch.rand(32, 1, 8, 8, generator=torch.Generator().manual_seed(4))
    model = {"arch": "mlp", "image_shape": [1, 8, 8], "latent_dim": 4, "hidden": [16, 16]}
    cfg = BaselineConfig(name=name, epochs=2, batch_size=8, seed=5,
                         n_critic=None if name in ("vae", "wae-mmd") else 2).resolved()
    nets = build_networks(name, model, seed=cfg.seed)
    return nets, make_optimizers(name, nets, cfg), x, cfg, model


def sdot_case():
    g = torch.Generator().manual_seed(3)
    z = torch.randn(150, 4, generator=g) * torch.linspace(0.5, 2.0, 4)
    return z, {"seed": 5, "max_iter": 30}


def run_cases(tmp: Path, rank: int) -> dict:
    """What each case gives in this process (under a group: this rank's view)."""
    out = {}
    model, x, cfg = ae_case()
    out["ae_history"] = train_autoencoder(model, x, config=cfg, checkpoint=tmp / f"ae-rank{rank}.safetensors")
    out["ae"] = model.state_dict()
    ae, sampler, x, z, rcfg = refine_case()
    res = refine_generator(ae, sampler, x, z, config=rcfg, checkpoint=tmp / f"refine-rank{rank}.safetensors")
    out["refine_history"] = res.history
    out["generator"], out["discriminator"] = res.generator.state_dict(), res.discriminator.state_dict()
    for name in BASELINES:
        nets, opts, xb, bcfg, model = baseline_case(name)
        out[f"{name}_history"] = train_epochs(nets, opts, xb, bcfg, model=model)
        out[name] = nets.state_dict()
    z, params = sdot_case()
    fitted = make_sampler("sdot", **params).fit(z)
    out["sdot_potential"], out["sdot_converged"] = fitted.result_.potential, fitted.result_.converged
    try:
        train_autoencoder(ae_case()[0], x, config=AETrainConfig(epochs=1, batch_size=7))
    except ConfigError as e:
        out["odd_batch_error"] = str(e)
    return out


WORKER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import torch
    import torch.distributed as dist
    sys.path.insert(0, sys.argv[2])
    from test_distributed import run_cases
    from aeot import distributed

    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    out = run_cases(Path(sys.argv[1]), rank)
    out["world_size"], out["active"] = distributed.world_size(), distributed.active()
    torch.save(out, Path(sys.argv[1]) / f"rank{rank}.pt")
    dist.destroy_process_group()
    """
)


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """``[rank 0's results, rank 1's results]`` of one 2-process gloo launch of :func:`run_cases`."""
    tmp = tmp_path_factory.mktemp("ddp")
    (tmp / "worker.py").write_text(WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([*TORCHRUN, str(tmp / "worker.py"), str(tmp), str(Path(__file__).parent)],
                          capture_output=True, text=True, timeout=300, check=False, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp, [torch.load(tmp / f"rank{r}.pt", weights_only=False) for r in (0, 1)]


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("one"), 0)


def assert_states_close(a: dict, b: dict, *, atol: float) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=atol, rtol=0), (k, (a[k] - b[k]).abs().max())


def assert_histories_close(a: dict, b: dict, *, rel: float) -> None:
    for k in a:
        if k == "seconds":
            continue
        nan = [float("nan") if v is None else v for v in a[k]], [float("nan") if v is None else v for v in b[k]]
        assert nan[1] == pytest.approx(nan[0], rel=rel, abs=1e-7, nan_ok=True), k  # None: not measured at epoch 0


# ----------------------------------------------------------------------------- 2 processes = 1 process
def test_both_ranks_hold_the_same_networks(two_ranks):
    _, (r0, r1) = two_ranks
    assert r0["world_size"] == r1["world_size"] == 2 and r0["active"]
    for key in ("ae", "generator", "discriminator"):
        assert all(torch.equal(r0[key][k], r1[key][k]) for k in r0[key]), key  # the same all-reduced gradients
    assert r0["ae_history"]["train_mse"] == r1["ae_history"]["train_mse"]


def test_autoencoder_steps_of_two_processes_equal_one_process(two_ranks, one_process):
    _, (r0, _) = two_ranks
    assert_states_close(r0["ae"], one_process["ae"], atol=1e-5)
    assert_histories_close(r0["ae_history"], one_process["ae_history"], rel=1e-5)
    untrained = ae_case()[0].state_dict()
    assert any(not torch.allclose(untrained[k], r0["ae"][k]) for k in untrained)  # it did train


def test_refinement_steps_of_two_processes_equal_one_process(two_ranks, one_process):
    _, (r0, _) = two_ranks
    assert_states_close(r0["generator"], one_process["generator"], atol=1e-5)
    assert_states_close(r0["discriminator"], one_process["discriminator"], atol=1e-5)
    assert_histories_close(r0["refine_history"], one_process["refine_history"], rel=1e-4)


@pytest.mark.parametrize("name", BASELINES)
def test_baseline_steps_of_two_processes_equal_one_process(two_ranks, one_process, name):
    _, (r0, r1) = two_ranks
    assert all(torch.equal(r0[name][k], r1[name][k]) for k in r0[name])
    assert_states_close(r0[name], one_process[name], atol=1e-5)  # wae-mmd: the MMD of the gathered codes
    assert_histories_close(r0[f"{name}_history"], one_process[f"{name}_history"], rel=1e-4)


def test_distributed_sdot_potential_equals_one_process(two_ranks, one_process):
    _, (r0, r1) = two_ranks
    assert r0["sdot_converged"] and one_process["sdot_converged"]
    assert torch.equal(r0["sdot_potential"], one_process["sdot_potential"])  # integer histograms all-reduced
    assert torch.equal(r0["sdot_potential"], r1["sdot_potential"])


def test_only_rank_0_writes_checkpoints(two_ranks):
    tmp, _ = two_ranks
    assert (tmp / "ae-rank0.safetensors").is_file() and (tmp / "refine-rank0.safetensors").is_file()
    assert not (tmp / "ae-rank1.safetensors").exists() and not (tmp / "refine-rank1.safetensors").exists()


def test_a_batch_the_processes_cannot_share_is_refused(two_ranks, one_process):
    _, (r0, r1) = two_ranks
    assert r0["odd_batch_error"] == r1["odd_batch_error"]
    assert "batch_size 7" in r0["odd_batch_error"] and "multiple of the 2 processes" in r0["odd_batch_error"]
    assert "odd_batch_error" not in one_process  # one process takes any batch size


# ----------------------------------------------------------------------------- the pure parts
def test_launch_from_env_reads_torchrun_and_refuses_nonsense():
    assert distributed.launch_from_env({}) == distributed.Launch(0, 1, 0)
    env = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}
    assert distributed.launch_from_env(env) == distributed.Launch(3, 4, 1)
    for env in ({"RANK": "4", "WORLD_SIZE": "4"}, {"RANK": "x", "WORLD_SIZE": "2"}, {"WORLD_SIZE": "0"}):
        with pytest.raises(AeotError, match="torchrun"):
            distributed.launch_from_env(env)


def test_backend_is_nccl_on_cuda_gloo_on_cpu_and_nccl_needs_a_gpu():
    assert distributed.choose_backend("auto", "cpu", cuda_available=False) == "gloo"
    assert distributed.choose_backend("auto", "cuda", cuda_available=True) == "nccl"
    assert distributed.choose_backend("gloo", "cuda", cuda_available=True) == "gloo"
    with pytest.raises(AeotError, match="nccl needs CUDA GPUs, but no CUDA device"):
        distributed.choose_backend("nccl", "cpu", cuda_available=False)
    with pytest.raises(ConfigError, match="dist-backend"):
        distributed.choose_backend("mpi", "cpu", cuda_available=False)


def test_shards_cover_a_batch_once_and_global_means_add_up():
    for m in (0, 1, 5, 8):
        for w in (1, 2, 3):
            ranges = [distributed.shard_range(m, r, w) for r in range(w)]
            assert [i for lo, hi in ranges for i in range(lo, hi)] == list(range(m))
    assert distributed.shard(5) == slice(0, 5) and distributed.world_size() == 1 and distributed.is_main()
    loss = torch.tensor(2.0, requires_grad=True)
    assert float(distributed.global_mean(loss, 3, 3).detach()) == 2.0
    empty = distributed.global_mean(torch.ones(0, requires_grad=True).mean(), 0, 4)
    assert float(empty.detach()) == 0.0 and empty.requires_grad  # an empty share still joins the backward pass


def test_resume_with_another_number_of_processes_where_well_defined():
    with_bn, without = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)), nn.Linear(2, 2)
    gloo2 = {"world_size": 2, "backend": "gloo", "batch_norm_statistics": "per-process"}
    distributed.check_resume({"world_size": 1}, with_bn, where="run")  # the same number: always
    distributed.check_resume(None, with_bn, where="run")  # a run from before the record: 1 process
    distributed.check_resume({"world_size": 2, "batch_norm_statistics": "none"}, without, where="run")
    with pytest.raises(ConfigError, match="trained with 2 process.*torchrun --nproc_per_node 2"):
        distributed.check_resume(gloo2, with_bn, where="run")
    assert distributed.launch_record(with_bn)["batch_norm_statistics"] == "global"  # one process


def test_on_main_and_barrier_are_plain_calls_in_one_process():
    assert distributed.on_main(lambda a, b=0: a + b, 1, b=2) == 3
    assert distributed.main_only(lambda: 4) == 4
    distributed.barrier()
    with distributed.alone():
        assert not distributed.active()


# ----------------------------------------------------------------------------- bad launches: one line, exit 2
def torchrun_env(monkeypatch, world=2, rank=0):
    monkeypatch.setenv("WORLD_SIZE", str(world))
    monkeypatch.setenv("RANK", str(rank))
    monkeypatch.setenv("LOCAL_RANK", str(rank))


def test_nccl_on_a_cpu_machine_is_one_line_and_exit_2(monkeypatch, capsys, tmp_path):
    torchrun_env(monkeypatch)
    code = main(["run", "--data", "digits", "--out", str(tmp_path / "r"), "--device", "cpu", "--dist-backend", "nccl"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--dist-backend nccl needs CUDA GPUs" in err[0]
    assert not (tmp_path / "r").exists()


def test_cuda_without_gpus_and_commands_without_a_parallel_form_are_refused(monkeypatch, capsys, tmp_path):
    torchrun_env(monkeypatch)
    if not torch.cuda.is_available():
        assert main(["train-ae", "--out", str(tmp_path / "r"), "--device", "cuda"]) == 2
        assert "no CUDA device" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "aeot evaluate runs in one process; launch it without torchrun" in err[0]


# ----------------------------------------------------------------------------- the command under torchrun
TINY_RUN = ["run", "--data", "digits", "--image-size", "8", "--epochs", "2", "--n-samples", "20", "--device", "cpu"]


def files_of(run: Path) -> list[str]:
    return sorted(str(p.relative_to(run)) for p in run.rglob("*"))


@pytest.mark.slow
def test_torchrun_aeot_run_writes_the_files_of_one_process_once(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    one = subprocess.run([sys.executable, "-m", "aeot", *TINY_RUN, "--out", str(tmp_path / "one")],
                         capture_output=True, text=True, timeout=600, check=False, env=env)
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run([*TORCHRUN, "-m", "aeot", *TINY_RUN, "--out", str(tmp_path / "two")],
                         capture_output=True, text=True, timeout=600, check=False, env=env)
    assert two.returncode == 0, two.stderr[-3000:]
    assert files_of(tmp_path / "two") == files_of(tmp_path / "one")  # no staging or temporary file left either
    assert two.stdout.count("report: ") == 1  # rank 0 alone prints
    import json

    record = json.loads((tmp_path / "two" / "config.json").read_text())["distributed"]
    assert record["world_size"] == 2 and record["backend"] == "gloo"
    hist = [json.loads((tmp_path / r / "history.json").read_text())["train_mse"] for r in ("one", "two")]
    assert hist[1] == pytest.approx(hist[0], rel=1e-5)  # mlp: no batch norm, the same training

    # killed after epoch 1 under torchrun, resumed by one process: well defined without batch norm
    half = [*TINY_RUN[:TINY_RUN.index("--epochs")], *TINY_RUN[TINY_RUN.index("--epochs") + 2:], "--out",
            str(tmp_path / "half")]
    first = subprocess.run([*TORCHRUN, "-m", "aeot", *half, "--epochs", "1"], capture_output=True, text=True,
                           timeout=600, check=False, env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    second = subprocess.run([sys.executable, "-m", "aeot", *half, "--epochs", "2", "--resume"], capture_output=True,
                            text=True, timeout=600, check=False, env=env)
    assert second.returncode == 0, second.stderr[-2000:]
    resumed = json.loads((tmp_path / "half" / "history.json").read_text())["train_mse"]
    assert resumed == pytest.approx(hist[0], rel=1e-5)
    assert json.loads((tmp_path / "half" / "config.json").read_text())["distributed"]["world_size"] == 1


@pytest.mark.slow
def test_torchrun_with_a_batch_the_processes_cannot_share_stops_every_rank_with_one_line(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([*TORCHRUN, "-m", "aeot", *TINY_RUN, "--batch-size", "63", "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=600, check=False, env=env)
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("aeot: error:")]
    assert proc.returncode != 0 and len(lines) == 2  # one line from each rank, then torchrun's summary
    assert "batch_size 63 is the global batch and must be a multiple of the 2 processes" in lines[0]
    assert "exitcode  : 2" in proc.stderr
    assert not (tmp_path / "r").exists()  # rank 0 removed the run it had started


@pytest.mark.parametrize("main_rank", [True, False])
def test_only_rank_0_prints_progress(monkeypatch, main_rank):
    import io

    from aeot.cli.baseline import BaselineProgress

    monkeypatch.setattr(distributed, "is_main", lambda: main_rank)
    buf = io.StringIO()
    progress = BaselineProgress()
    progress.bars.log = progress.bars.stream = buf
    progress({"event": "stage", "stage": "data", "message": "loading digits"})
    progress({"event": "baseline_epoch", "name": "vae", "epoch": 1, "epochs": 2, "seconds": 0.5, "loss": 1.5})
    progress.close()
    assert ("[vae] epoch 1/2: loss 1.5" in buf.getvalue()) == main_rank
    assert ("[data] loading digits" in buf.getvalue()) == main_rank


REPRODUCE_WORKER = textwrap.dedent(
    """
    import sys
    import torch
    import torch.distributed as dist
    sys.path.insert(0, sys.argv[2])
    from test_reproduce import TINY
    from aeot.experiments.reproduce import preset_config, reproduce

    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    reproduce(preset_config("digits", "budget", **TINY), sys.argv[1], command="pytest")
    dist.destroy_process_group()
    """
)


@pytest.mark.slow
def test_reproduce_under_two_processes_writes_the_files_of_one_process(tmp_path):
    here = str(Path(__file__).parent / "experiments")
    sys.path.insert(0, here)
    try:
        from test_reproduce import TINY
    finally:
        sys.path.remove(here)
    from aeot.experiments.reproduce import preset_config, reproduce

    reproduce(preset_config("digits", "budget", **TINY), tmp_path / "one", command="pytest")
    (tmp_path / "worker.py").write_text(REPRODUCE_WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([*TORCHRUN, str(tmp_path / "worker.py"), str(tmp_path / "two"), here],
                          capture_output=True, text=True, timeout=900, check=False, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert files_of(tmp_path / "two") == files_of(tmp_path / "one")
    import json

    rows = [json.loads((tmp_path / r / "results.json").read_text())["rows"] for r in ("one", "two")]
    assert [r["method"] for r in rows[1]] == [r["method"] for r in rows[0]] and len(rows[0]) > 10
    record = json.loads((tmp_path / "two" / "ae-conv" / "config.json").read_text())["distributed"]
    assert record["world_size"] == 2


def test_resuming_a_batch_norm_run_of_2_gloo_processes_with_1_is_refused(tmp_path, capsys):
    import json

    out = tmp_path / "run"
    small = ["--data", "digits", "--arch", "infogan", "--width", "0.25", "--latent-dim", "4", "--n-train", "64",
             "--n-test", "32", "--batch-size", "32", "--device", "cpu", "--out", str(out)]
    assert main(["train-ae", *small, "--epochs", "1"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["distributed"] == {"world_size": 1, "backend": "none", "batch_norm_statistics": "global",
                                     "batch_size": "global, split evenly over the processes"}
    config["distributed"].update(world_size=2, backend="gloo", batch_norm_statistics="per-process")
    (out / "config.json").write_text(json.dumps(config))  # as a run of `torchrun --nproc_per_node 2` writes it
    capsys.readouterr()
    assert main(["train-ae", *small, "--epochs", "2", "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "trained with 2 process(es), now 1" in err[0]
    assert "resume with torchrun --nproc_per_node 2" in err[0]
    assert json.loads((out / "history.json").read_text())["epoch"] == [1]  # nothing was trained or rewritten
