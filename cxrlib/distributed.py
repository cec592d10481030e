"""Several processes, one training run: what ``fit`` needs to run unchanged under
``torchrun --nproc_per_node=N`` (DistributedDataParallel; NCCL on GPUs, gloo on CPUs).

Each process trains on its share of every *global* batch (``TrainConfig.batch_size`` images split
evenly over the processes), DDP averages the gradients, so a step equals the single-process step on
the same global batch. Only rank 0 writes checkpoints, results and progress.

What NCCL demands and gloo forgives, kept here in one place:

* the backend follows the *training device* (NCCL for CUDA, gloo for the CPU), not whether CUDA exists;
* a collective's tensors live on a device the process group has a backend for: NCCL has none for the
  CPU, so :func:`all_reduce_sum` and :func:`broadcast_from_main` put theirs on :func:`collective_device`;
* every rank takes the same decision at the same step (stop on a non-finite loss, reduce the learning
  rate, stop training), else the ranks that go on wait in a collective forever: the decisions are
  agreed through :func:`any_rank` and :func:`broadcast_from_main`;
* SyncBatchNorm replaces BatchNorm layers by new modules: :func:`to_sync_batchnorm` carries their
  frozen-statistics flag over and :func:`to_plain_batchnorm` turns them back after training.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

__all__ = [
    "DistInfo",
    "resolve_device",
    "init_distributed",
    "is_main_process",
    "GlobalBatchSampler",
    "collective_device",
    "all_reduce_sum",
    "any_rank",
    "broadcast_from_main",
    "SYNC_BATCHNORM_DEVICES",
    "FROZEN_STATISTICS_FLAG",
    "to_sync_batchnorm",
    "to_plain_batchnorm",
]


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _torchrun_world() -> tuple[int, int]:
    """``(WORLD_SIZE, LOCAL_RANK)`` as torchrun sets them (``(1, 0)`` outside torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("LOCAL_RANK", "0"))


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → CUDA if available, else CPU; anything else is passed to ``torch.device``.

    Under torchrun a CUDA device without an index is this process's GPU, ``cuda:LOCAL_RANK``, whether
    or not :func:`init_distributed` has run yet (a loss that keeps state on the device, such as AUC-M,
    is often built before ``fit`` starts the process group); outside torchrun it stays ``cuda``.
    """
    dev = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if str(device) == "auto" else device)
    world, local = _torchrun_world()
    if dev.type == "cuda" and dev.index is None and world > 1:
        return torch.device("cuda", local)
    return dev


def _in_group() -> bool:
    return dist.is_available() and dist.is_initialized()


def _group_device_types() -> set[str]:
    """The device types the default process group has a backend for (``"cpu:gloo,cuda:nccl"`` → both)."""
    return {part.split(":")[0] for part in str(dist.get_backend_config()).split(",")}


def init_distributed(device: str | torch.device = "auto") -> DistInfo:
    """The process group torchrun describes in ``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` (initialised once),
    with the backend of the training ``device``: NCCL for CUDA, gloo for the CPU (a CPU run on a GPU box
    gets gloo). A single process gets ``DistInfo()`` and nothing is started. A group started before
    with a backend that cannot serve ``device`` (NCCL for a CPU run) is a ``RuntimeError`` here, not a
    crash in the first collective."""
    world, local = _torchrun_world()
    if world <= 1:
        return DistInfo()
    dev = resolve_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    elif dev.type not in _group_device_types():
        raise RuntimeError(
            f"the process group ({dist.get_backend_config()}) has no backend for {dev.type} tensors; "
            f"training on {dev} needs {'nccl' if dev.type == 'cuda' else 'gloo'}"
        )
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    return DistInfo(dist.get_rank(), dist.get_world_size(), local)


def is_main_process() -> bool:
    """True outside a process group and on rank 0 inside one: the process that writes."""
    return not _in_group() or dist.get_rank() == 0


def collective_device() -> torch.device:
    """Where the tensors of a small collective go: the CPU when the process group has a backend for it
    (gloo), else this process's GPU (NCCL has no CPU backend: a CPU tensor there raises "No backend type
    associated with device type cpu")."""
    if "cpu" in _group_device_types():
        return torch.device("cpu")
    return torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cuda")


def all_reduce_sum(*values: float) -> list[float]:
    """Sums of ``values`` over the processes (the values themselves in a single process)."""
    if not _in_group():
        return [float(v) for v in values]
    t = torch.tensor(values, dtype=torch.float64, device=collective_device())
    dist.all_reduce(t)
    return t.tolist()


def any_rank(flag: bool) -> bool:
    """Whether ``flag`` is true on any process (``flag`` itself in a single process): for a decision every
    rank must take at the same step, such as stopping on a non-finite loss."""
    return all_reduce_sum(float(bool(flag)))[0] > 0


def broadcast_from_main(*values: float) -> list[float]:
    """Rank 0's ``values`` on every process (the values themselves in a single process): validation
    metrics that drive the learning-rate and stopping decisions, which must be the same on every rank
    even where reductions on different GPUs differ in the last bits."""
    if not _in_group():
        return [float(v) for v in values]
    t = torch.tensor(values, dtype=torch.float64, device=collective_device())
    dist.broadcast(t, src=0)
    return t.tolist()


#: Device types on which ``fit`` turns BatchNorm into SyncBatchNorm under several processes (SyncBatchNorm
#: synchronises GPU batches only). Tests add ``"cpu"`` to run the conversion on frozen layers.
SYNC_BATCHNORM_DEVICES: set[str] = {"cuda"}

#: set by :func:`~cxrlib.train.freeze` on BatchNorm layers whose running statistics must stay put
FROZEN_STATISTICS_FLAG = "_cxrlib_frozen_statistics"
_ORIGINAL_CLASS = "_cxrlib_batchnorm_class"


def _replace_modules(module: torch.nn.Module, convert) -> torch.nn.Module:
    new = convert(module)
    if new is not module:
        return new
    for name, child in module.named_children():
        replaced = _replace_modules(child, convert)
        if replaced is not child:
            setattr(module, name, replaced)
    return module


def _copy_batchnorm(source: torch.nn.modules.batchnorm._BatchNorm, cls) -> torch.nn.Module:
    target = cls(source.num_features, source.eps, source.momentum, source.affine, source.track_running_stats)
    if source.affine:
        target.weight, target.bias = source.weight, source.bias  # the same Parameters (the optimizer's)
    target.running_mean, target.running_var = source.running_mean, source.running_var
    target.num_batches_tracked = source.num_batches_tracked
    target.train(source.training)
    if getattr(source, FROZEN_STATISTICS_FLAG, False):
        setattr(target, FROZEN_STATISTICS_FLAG, True)
    return target


def to_sync_batchnorm(module: torch.nn.Module) -> torch.nn.Module:
    """``torch.nn.SyncBatchNorm.convert_sync_batchnorm`` keeping what it drops: the frozen-statistics flag
    of :func:`~cxrlib.train.freeze` (frozen layers stay in eval mode, their running statistics put) and
    the original class (for :func:`to_plain_batchnorm`). Parameters and buffers stay the same tensors.
    Converts the children in place; returns the module (a new one only if ``module`` is a BatchNorm)."""

    def convert(m):
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and not isinstance(m, torch.nn.SyncBatchNorm):
            sync = _copy_batchnorm(m, torch.nn.SyncBatchNorm)
            setattr(sync, _ORIGINAL_CLASS, type(m))
            return sync
        return m

    return _replace_modules(module, convert)


def to_plain_batchnorm(module: torch.nn.Module) -> torch.nn.Module:
    """Undo :func:`to_sync_batchnorm`: each SyncBatchNorm it made becomes its original BatchNorm class
    again (same parameters, buffers and frozen flag), so a model leaves ``fit`` with the layers it had."""

    def convert(m):
        if isinstance(m, torch.nn.SyncBatchNorm) and hasattr(m, _ORIGINAL_CLASS):
            return _copy_batchnorm(m, getattr(m, _ORIGINAL_CLASS))
        return m

    return _replace_modules(module, convert)


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
