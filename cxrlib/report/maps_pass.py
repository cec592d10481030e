"""The class maps of the images a map-based section looks at, computed once and shared by the
localisation and shortcut sections."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data.dataset import CXRDataset
from ..train import resolve_device
from .gradcam import class_maps

__all__ = ["MapPass", "map_pass"]


@dataclass(frozen=True)
class MapPass:
    """``maps (n, K, h, w)`` for dataset ``positions (n,)``, how they were made, and per position the
    dataset item's extras (``marker_mask``, ``thorax_mask``) where the source has them."""

    maps: torch.Tensor
    positions: np.ndarray
    how: str
    extras: dict[str, torch.Tensor]


def map_pass(
    model: torch.nn.Module,
    data: CXRDataset,
    positions: np.ndarray,
    *,
    layer: str | None,
    in_channels: int,
    batch_size: int = 32,
    device: str | torch.device = "auto",
) -> MapPass:
    """Class maps of ``data`` at ``positions`` (batched; the model in eval mode)."""
    dev = resolve_device(device)
    was_training = model.training
    model.to(dev).eval()
    maps, how, extras = [], "", {}
    try:
        for start in range(0, len(positions), batch_size):
            items = [data[int(i)] for i in positions[start : start + batch_size]]
            images = torch.stack([item["image"] for item in items]).to(dev)
            batch_maps, how = class_maps(model, images, layer, in_channels)
            maps.append(batch_maps.float().cpu())
            for name in ("marker_mask", "thorax_mask"):
                if name in items[0]:
                    extras.setdefault(name, []).append(torch.stack([torch.as_tensor(item[name]) for item in items]))
    finally:
        model.train(was_training)
    return MapPass(torch.cat(maps), np.asarray(positions), how, {k: torch.cat(v).bool() for k, v in extras.items()})
