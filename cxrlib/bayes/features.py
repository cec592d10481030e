"""Penultimate features: one pass of the encoder, so that every last-layer method after it works on an
``(N, D)`` matrix and the head alone instead of on images and the whole network."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from .._progress import progress_enabled
from ..train import resolve_device

__all__ = ["PenultimateFeatures", "last_linear_layer", "penultimate_features"]


@dataclass(frozen=True)
class PenultimateFeatures:
    """What the last layer sees: ``features (N, D)`` (its input: pooled, after the head's dropout in eval
    mode, so ``head(features)`` gives the model's logits), ``labels (N, K)`` float with NaN for unknown,
    and the ``seconds`` the pass took."""

    features: torch.Tensor
    labels: torch.Tensor
    seconds: float = 0.0

    def __len__(self) -> int:
        return len(self.features)


def last_linear_layer(model: torch.nn.Module, name: str = "classifier") -> torch.nn.Linear:
    """The model's last layer ``name`` (``CXRClassifier.classifier``); ``ValueError`` if it is missing or
    not an ``nn.Linear`` (last-layer Laplace needs a linear head)."""
    modules = dict(model.named_modules())
    if name not in modules:
        raise ValueError(
            f"{type(model).__name__} has no layer {name!r}; pass last_layer_name= (layers ending in a "
            f"Linear: {[n for n, m in modules.items() if isinstance(m, torch.nn.Linear)]})"
        )
    layer = modules[name]
    if not isinstance(layer, torch.nn.Linear):
        raise ValueError(f"last-layer Laplace needs a linear last layer; {name!r} is a {type(layer).__name__}")
    return layer


@torch.no_grad()
def penultimate_features(
    model: torch.nn.Module,
    data: Dataset,
    batch_size: int = 64,
    device: str | torch.device = "auto",
    last_layer_name: str = "classifier",
    progress: bool = False,
) -> PenultimateFeatures:
    """Run ``model`` (in eval mode) once over ``data`` and keep the input of its last linear layer.

    ``data`` yields ``{"image": (1, H, W), "labels": (K,)}`` items (every ``CXRDataset``). Returns
    :class:`PenultimateFeatures` on the CPU in the model's dtype (float32 for a float32 model).
    """
    layer = last_linear_layer(model, last_layer_name)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if len(data) == 0:
        raise ValueError("penultimate_features got an empty dataset")
    dev = resolve_device(device)
    was_training = model.training
    model.to(dev).eval()
    captured: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda module, inputs, output: captured.append(inputs[0].detach()))
    features, labels = [], []
    t0 = time.perf_counter()
    try:
        loader = DataLoader(data, batch_size=batch_size, shuffle=False)
        for batch in tqdm(loader, desc="features", disable=not progress_enabled(progress), leave=False):
            captured.clear()
            model(batch["image"].to(dev))
            if len(captured) != 1:
                raise ValueError(
                    f"layer {last_layer_name!r} ran {len(captured)} times in one forward pass; expected once"
                )
            features.append(captured[0].flatten(1).cpu())
            labels.append(batch["labels"].float())
    finally:
        hook.remove()
        model.train(was_training)
    return PenultimateFeatures(torch.cat(features), torch.cat(labels), time.perf_counter() - t0)
