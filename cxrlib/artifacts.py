"""What one notebook leaves for a later one: trained weights, logits, maps.

A notebook saves named artifacts under ``results/artifacts/<notebook>/<name>.pt`` (rank 0 only,
written atomically, loaded with ``weights_only=True``); a later notebook loads them and declares the
dependency in :data:`cxrlib.book.DEPENDENCIES`, so that the runner executes the earlier notebook
first and reruns the later one whenever the earlier one changes. This is the one way notebooks share
models or predictions (e.g. calibration of the logits the imbalance-loss study trained)::

    save_artifact("04_imbalance", "focal_logits", {"logits": torch.tensor(...), "labels": ...})
    logits = load_artifact("04_imbalance", "focal_logits")["logits"]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .distributed import is_main_process

__all__ = ["results_dir", "artifact_path", "save_artifact", "load_artifact"]


def results_dir() -> Path:
    """Where notebooks write their headline numbers and artifacts: ``$CXRLIB_RESULTS_DIR`` or ``./results``."""
    return Path(os.environ.get("CXRLIB_RESULTS_DIR", Path.cwd() / "results"))


def artifact_path(notebook: str, name: str) -> Path:
    """``results/artifacts/<notebook>/<name>.pt`` under the results folder (``$CXRLIB_RESULTS_DIR``)."""
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"artifact name {name!r}: use letters, digits, '_' and '-'")
    return results_dir() / "artifacts" / notebook / f"{name}.pt"


def _tensors(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, dict):
        return {str(k): _tensors(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_tensors(v) for v in value)
    return value


def save_artifact(notebook: str, name: str, value: Any) -> Path:
    """Save ``value`` (tensors, numpy arrays, numbers, strings, dicts and lists of them; a model's
    ``state_dict()``) as artifact ``name`` of ``notebook``; numpy arrays are stored as tensors."""
    from .train import save_checkpoint

    path = artifact_path(notebook, name)
    if is_main_process():
        save_checkpoint(path, {"value": _tensors(value)})
    return path


def load_artifact(notebook: str, name: str) -> Any:
    """The artifact ``name`` that ``notebook`` saved; ``FileNotFoundError`` says which notebook to run."""
    path = artifact_path(notebook, name)
    if not path.exists():
        raise FileNotFoundError(
            f"artifact {name!r} of notebook {notebook} not found at {path}: run {notebook} first "
            f"(python -m cxrlib.book --only {notebook}), and declare it in cxrlib.book.DEPENDENCIES"
        )
    return torch.load(path, map_location="cpu", weights_only=True)["value"]
