"""Checkpoints keep the random state of the one GPU a run trains on, so they resume on a smaller box."""

import torch

import cxrlib.checkpoint as checkpoint
from cxrlib.checkpoint import rng_states, set_rng_states


class FakeCuda:
    """torch.cuda's generator functions on a box with ``n`` GPUs, without a GPU."""

    def __init__(self, n: int):
        self.states = {i: torch.full((4,), i, dtype=torch.uint8) for i in range(n)}
        self.n = n

    def install(self, monkeypatch):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
        monkeypatch.setattr(torch.cuda, "get_rng_state", self.get)
        monkeypatch.setattr(torch.cuda, "set_rng_state", self.set)
        monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: [self.states[i] for i in range(self.n)])

    def _index(self, device):
        device = torch.device(device)
        if device.index is not None and device.index >= self.n:
            raise RuntimeError(f"invalid device ordinal {device.index} on a box with {self.n} GPU(s)")
        return device.index or 0

    def get(self, device="cuda"):
        return self.states[self._index(device)].clone()

    def set(self, state, device="cuda"):
        self.states[self._index(device)] = state.clone()


def test_a_run_on_gpu_three_of_eight_resumes_on_a_one_gpu_box(monkeypatch):
    eight = FakeCuda(8)
    eight.install(monkeypatch)
    saved = rng_states("cuda:3")
    assert len(saved["cuda"]) == 1 and saved["cuda"][0].tolist() == [3] * 4  # only the run's own GPU
    one = FakeCuda(1)
    one.install(monkeypatch)
    set_rng_states(saved, torch.device("cuda", 0))
    assert one.states[0].tolist() == [3] * 4


def test_an_old_checkpoint_with_every_gpus_state_resumes_on_fewer_gpus(monkeypatch):
    FakeCuda(4).install(monkeypatch)
    old = {**rng_states(), "cuda": torch.cuda.get_rng_state_all()}  # what earlier versions wrote
    two = FakeCuda(2)
    two.install(monkeypatch)
    set_rng_states(old, "cuda:1")  # its own GPU's state where the old list has it
    assert two.states[1].tolist() == [1] * 4
    set_rng_states({**old, "cuda": old["cuda"][:1]}, "cuda:1")
    assert two.states[1].tolist() == [0] * 4


def test_a_cpu_run_saves_no_gpu_state(monkeypatch):
    FakeCuda(2).install(monkeypatch)
    assert rng_states("cpu")["cuda"] == [] and rng_states()["cuda"] == []
    assert checkpoint.RESUMABLE_CHANGES >= {"device", "compile"}
