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

from cxrlib.distributed import DistInfo, GlobalBatchSampler

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


def test_two_processes_equal_one(tmp_path):
    torchrun = Path(sys.executable).parent / "torchrun"
    out = tmp_path / "ddp.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CXRLIB_PROGRESS": "0"}
    done = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node=2", str(SCRIPT), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    two = json.loads(out.read_text())
    assert two["world_size"] == 2 and len(two["train_loss"]) == 3
    spec = importlib.util.spec_from_file_location("ddp_script", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one = script.train()
    finally:
        torch.set_num_threads(threads)
    for key in ("train_loss", "val_loss"):
        np.testing.assert_allclose(two[key], one[key], rtol=1e-5, err_msg=key)


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
