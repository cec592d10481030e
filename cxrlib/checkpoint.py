"""What a training run writes to resume: atomic checkpoint files, the hash of the settings that decide
the trajectory, and every random state it draws from."""

from __future__ import annotations

import hashlib
import json
import os
import random
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "CheckpointMismatchError",
    "config_hash",
    "rng_states",
    "set_rng_states",
    "save_checkpoint",
    "load_checkpoint",
    "RESUMABLE_CHANGES",
]


class CheckpointMismatchError(ValueError):
    """A checkpoint was written by a run with another configuration than the one resuming it."""


#: TrainConfig fields that may change between a run and its resumption without changing what is trained
RESUMABLE_CHANGES = frozenset({"epochs", "device", "checkpoint_dir", "resume", "progress", "num_workers", "compile"})


def config_hash(config, optimizer: torch.optim.Optimizer | None = None) -> str:
    """Hash of everything in ``config`` (a :class:`~cxrlib.train.TrainConfig`) that determines the
    training trajectory (not ``epochs``, which a resumed run may extend, nor device, paths, progress
    bars or compilation), and of the optimizer's class."""
    fields = {k: v for k, v in asdict(config).items() if k not in RESUMABLE_CHANGES}
    fields["optimizer"] = type(optimizer).__name__ if optimizer is not None else None
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:16]


def rng_states(device: torch.device | str | None = None) -> dict:
    """Every random state a training run draws from: Python, numpy, torch's CPU generator and, when
    ``device`` is a GPU, that GPU's generator (only the one the run trains on: a checkpoint of a run on
    ``cuda:3`` of an 8-GPU box must resume on a 1-GPU box); as plain tensors and ints so that
    ``weights_only`` loading works. (The order of the training batches needs none:
    :class:`~cxrlib.distributed.GlobalBatchSampler` draws it from the seed and the epoch.)"""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    device = torch.device(device) if device is not None else None
    on_gpu = device is not None and device.type == "cuda" and torch.cuda.is_available()
    return {
        "python": random.getstate(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(gauss),
        },
        "torch": torch.get_rng_state(),
        "cuda": [torch.cuda.get_rng_state(device)] if on_gpu else [],
    }


def set_rng_states(states: dict, device: torch.device | str | None = None) -> None:
    """Restore what :func:`rng_states` captured; the GPU generator goes to ``device`` (the GPU this run
    trains on), whichever GPU wrote it. Checkpoints of earlier versions held one state per GPU of the
    writing box: the one of ``device``'s index is taken where it exists, else the first."""
    random.setstate(_as_tuple(states["python"]))
    n = states["numpy"]
    np.random.set_state(
        (n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    torch.set_rng_state(states["torch"])
    device = torch.device(device) if device is not None else None
    saved = list(states.get("cuda") or [])
    if saved and device is not None and device.type == "cuda" and torch.cuda.is_available():
        index = device.index if device.index is not None else torch.cuda.current_device()
        torch.cuda.set_rng_state(saved[index] if index < len(saved) and len(saved) > 1 else saved[0], device)


def _as_tuple(value):
    return tuple(_as_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value


def save_checkpoint(path: str | Path, state: dict) -> None:
    """Write atomically: to a temporary file in the same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    return torch.load(path, map_location=map_location, weights_only=True)
