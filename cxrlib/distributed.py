"""Several processes, one training run: what ``fit`` needs to run unchanged under
``torchrun --nproc_per_node=N`` (DistributedDataParallel; NCCL on GPUs, gloo on CPUs).

Each process trains on its share of every *global* batch (``TrainConfig.batch_size`` images split
evenly over the processes), DDP averages the gradients, so a step equals the single-process step on
the same global batch. Only rank 0 writes checkpoints, results and progress.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

__all__ = ["DistInfo", "init_distributed", "is_main_process", "GlobalBatchSampler", "all_reduce_sum"]


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed() -> DistInfo:
    """The process group torchrun describes in ``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` (initialised once,
    NCCL when CUDA is there, else gloo); a single process gets ``DistInfo()`` and nothing is started."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local)
    return DistInfo(dist.get_rank(), dist.get_world_size(), local)


def is_main_process() -> bool:
    """True outside a process group and on rank 0 inside one: the process that writes."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def all_reduce_sum(*values: float) -> list[float]:
    """Sums of ``values`` over the processes (the values themselves in a single process)."""
    if not (dist.is_available() and dist.is_initialized()):
        return list(values)
    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t)
    return t.tolist()


class GlobalBatchSampler(Sampler[list[int]]):
    """Per epoch, a permutation drawn from ``(seed, epoch)``, cut into global batches of
    ``batch_size``; this process yields its contiguous share of each (``batch_size / world_size``).

    With one process it yields whole global batches, so 1 and N processes see the same global batches
    in the same order. A last partial batch is split evenly too; the remainder of fewer than
    ``world_size`` images is left out of that epoch when there are several processes.
    """

    def __init__(self, n: int, batch_size: int, seed: int = 0, info: DistInfo | None = None):
        info = info or DistInfo()
        if batch_size % info.world_size:
            raise ValueError(f"batch_size {batch_size} must be a multiple of the {info.world_size} processes")
        self.n, self.batch_size, self.seed, self.info, self.epoch = n, batch_size, seed, info, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> Iterator[torch.Tensor]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.n, generator=g)
        world, rank = self.info.world_size, self.info.rank
        for start in range(0, self.n, self.batch_size):
            chunk = order[start : start + self.batch_size]
            share = len(chunk) // world
            if share:
                yield chunk[rank * share : (rank + 1) * share]

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self._batches():
            yield batch.tolist()

    def __len__(self) -> int:
        return sum(1 for _ in self._batches())
