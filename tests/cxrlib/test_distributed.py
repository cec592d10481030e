"""Two CPU processes under torchrun (gloo) train exactly like one process with the same global batch."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cxrlib.distributed import (
    FROZEN_STATISTICS_FLAG,
    DistInfo,
    GlobalBatchSampler,
    all_reduce_sum,
    any_rank,
    broadcast_from_main,
    collective_device,
    init_distributed,
    resolve_device,
    to_plain_batchnorm,
    to_sync_batchnorm,
)
from cxrlib.losses import WeightedBCELoss
from cxrlib.models import CXRClassifier
from cxrlib.train import TrainConfig, fit, freeze, train_mode

SCRIPT = Path(__file__).with_name("ddp_script.py")


def test_global_batches_are_shared_out_contiguously():
    one = list(GlobalBatchSampler(40, 8, seed=3))
    halves = [list(GlobalBatchSampler(40, 8, seed=3, info=DistInfo(rank, 2))) for rank in (0, 1)]
    assert [a + b for a, b in zip(*halves, strict=True)] == one
    assert sorted(i for batch in one for i in batch) == list(range(40))
    sampler = GlobalBatchSampler(40, 8, seed=3)
    sampler.set_epoch(1)
    assert list(sampler) != one  # a new order every epoch
    with pytest.raises(ValueError, match="multiple of the 3 processes"):
        GlobalBatchSampler(40, 8, info=DistInfo(0, 3))


def _torchrun(mode: str, tmp_path) -> list[dict]:
    """Run ddp_script.py MODE under torchrun with two CPU processes; every rank's JSON."""
    torchrun = Path(sys.executable).parent / "torchrun"
    out = tmp_path / mode
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CXRLIB_PROGRESS": "0"}
    done = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node=2", str(SCRIPT), mode, str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(Path(f"{out}.rank{r}.json").read_text()) for r in (0, 1)]


def _script():
    spec = importlib.util.spec_from_file_location("ddp_script", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_two_processes_equal_one(tmp_path):
    two = _torchrun("equal", tmp_path)[0]
    assert two["world_size"] == 2 and len(two["train_loss"]) == 3
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one = _script().train()
    finally:
        torch.set_num_threads(threads)
    for key in ("train_loss", "val_loss"):
        np.testing.assert_allclose(two[key], one[key], rtol=1e-5, err_msg=key)


def test_frozen_statistics_stay_put_and_batchnorm_comes_back_plain(tmp_path):
    ranks = _torchrun("batchnorm", tmp_path)
    for rank in ranks:
        assert rank["two_phase_layers"] == ["BatchNorm2d"] and rank["phase2_statistics_moved"]
    assert ranks[0]["phase1_statistics_kept"]


def test_ranks_take_rank_zeros_decisions_when_their_numbers_differ(tmp_path):
    zero, one = _torchrun("disagree", tmp_path)
    assert zero["history"] == one["history"] and zero["stopped"] == one["stopped"]
    assert len(zero["history"]["epoch"]) > 1


def test_a_nan_on_one_rank_stops_every_rank_at_the_same_step(tmp_path):
    zero, one = _torchrun("nan", tmp_path)
    assert one["raised"] and "epoch 1: loss is nan" in one["raised"]
    assert zero["raised"] and "not on another process" in zero["raised"]


def test_a_study_runs_from_the_command_line(tmp_path):
    env = {**os.environ, "CXRLIB_RESULTS_DIR": str(tmp_path), "CXRLIB_PROGRESS": "0"}
    args = ["-p", "epochs", "1", "-p", "backbones", "small-cnn", "-p", "n", "240"]
    done = subprocess.run(
        [sys.executable, "-m", "cxrlib.studies", "01_baseline", "--profile", "smoke", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "01_baseline.json").read_text())
    assert result["run"]["epochs"] == 1 and list(result["backbones"]) == ["small-cnn"]
    assert "profile" in done.stdout and "smoke" in done.stdout


# -- in one process: what NCCL would do, with stand-ins ------------------------------------------------


@pytest.fixture
def one_process_group(tmp_path):
    """A one-process group of the backend asked for (``"gloo"`` or ``"cuda:gloo"``, which like NCCL has
    no backend for CPU tensors), torn down afterwards."""
    import torch.distributed as dist

    started = []

    def start(backend: str):
        dist.init_process_group(backend, init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
        started.append(backend)

    yield start
    if started:
        dist.destroy_process_group()


def test_a_cpu_tensor_in_a_cuda_only_group_fails_as_under_nccl(one_process_group):
    # the stand-in is faithful: the old all_reduce_sum (a CPU float64 tensor) fails here as under NCCL
    import torch.distributed as dist

    one_process_group("cuda:gloo")
    with pytest.raises(RuntimeError, match="No backend type associated with device type cpu"):
        dist.all_reduce(torch.tensor([1.0], dtype=torch.float64))
    assert collective_device().type == "cuda"  # so every collective of cxrlib puts its tensors on the GPU
    if torch.cuda.is_available():  # pragma: no cover - on a GPU box the collectives run for real
        assert all_reduce_sum(1.0, 2.0) == [1.0, 2.0] and broadcast_from_main(3.0) == [3.0] and any_rank(True)


def test_collectives_of_a_gloo_group_stay_on_the_cpu(one_process_group):
    one_process_group("gloo")
    assert collective_device() == torch.device("cpu")
    assert all_reduce_sum(1.0, 2.5) == [1.0, 2.5] and broadcast_from_main(4.0, 5.0) == [4.0, 5.0]
    assert any_rank(True) and not any_rank(False)


def test_a_cpu_run_in_a_group_without_a_cpu_backend_is_refused_clearly(one_process_group, monkeypatch):
    one_process_group("cuda:gloo")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(RuntimeError, match="no backend for cpu tensors.*needs gloo"):
        init_distributed("cpu")


def test_devices_follow_the_torchrun_rank(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert resolve_device("cuda") == torch.device("cuda", 1)  # before init_distributed set the device
    assert resolve_device("cuda:0") == torch.device("cuda", 0) and resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert resolve_device("cuda") == torch.device("cuda")
    if not torch.cuda.is_available():
        assert resolve_device("auto") == torch.device("cpu")


def _bn_model():
    torch.manual_seed(0)
    encoder = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU())
    return CXRClassifier(encoder, 4, 2)


def test_sync_batchnorm_keeps_the_frozen_flag_and_comes_back_plain():
    model = _bn_model()
    freeze(model, "encoder.")
    weight = model.encoder[1].weight
    lost = torch.nn.SyncBatchNorm.convert_sync_batchnorm(_frozen_copy())
    assert not hasattr(lost.encoder[1], FROZEN_STATISTICS_FLAG)  # torch's conversion drops it
    to_sync_batchnorm(model)
    sync = model.encoder[1]
    assert isinstance(sync, torch.nn.SyncBatchNorm) and getattr(sync, FROZEN_STATISTICS_FLAG)
    assert sync.weight is weight  # the optimizer's parameters stay the same objects
    train_mode(model)
    assert not sync.training
    to_plain_batchnorm(model)
    plain = model.encoder[1]
    assert type(plain) is torch.nn.BatchNorm2d and getattr(plain, FROZEN_STATISTICS_FLAG) and plain.weight is weight


def _frozen_copy():
    model = _bn_model()
    freeze(model, "encoder.")
    return model


def test_fit_under_sync_batchnorm_keeps_frozen_statistics_and_returns_plain_layers(monkeypatch):
    # fit's multi-GPU path on a CPU: two "processes" (a DistInfo), SyncBatchNorm conversion allowed on the
    # CPU, DDP (which refuses SyncBatchNorm on CPU modules) replaced by the bare network
    import cxrlib.distributed as distributed
    import cxrlib.train as train

    monkeypatch.setattr(train, "init_distributed", lambda device: DistInfo(0, 2, 0))
    monkeypatch.setattr(distributed, "SYNC_BATCHNORM_DEVICES", {"cuda", "cpu"})
    monkeypatch.setattr(train, "SYNC_BATCHNORM_DEVICES", distributed.SYNC_BATCHNORM_DEVICES)
    monkeypatch.setattr(torch.nn.parallel, "DistributedDataParallel", lambda net, device_ids=None: net)
    model = _frozen_copy()
    start = model.encoder[1].running_mean.clone(), model.encoder[1].running_var.clone()
    seen = set()

    def loss(out, batch):
        seen.update(type(m).__name__ for m in model.modules() if "BatchNorm" in type(m).__name__)
        return WeightedBCELoss()(out, batch)

    config = TrainConfig(epochs=2, batch_size=8, lr=1e-2, progress=False)
    fit(model, _script().Toy(32, 0), _script().Toy(16, 1), loss, config)
    assert seen == {"SyncBatchNorm"}
    assert type(model.encoder[1]) is torch.nn.BatchNorm2d
    torch.testing.assert_close(model.encoder[1].running_mean, start[0], rtol=0, atol=0)
    torch.testing.assert_close(model.encoder[1].running_var, start[1], rtol=0, atol=0)
