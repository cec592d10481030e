"""Statistics of a model's saliency maps over a dataset: how distinct the classes' maps are, and how
much mass they carry (a loss that can switch maps off must be read beside their mass)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, Dataset

from ..models.protocol import require_map_model
from .cam import SaliencyMethod, saliency_maps
from .losses import class_distinctiveness_loss

__all__ = ["MapStatistics", "map_statistics"]


@dataclass(frozen=True)
class MapStatistics:
    """Means over every image of a dataset (and, for mass and flat share, over its K classes)."""

    class_distinctiveness: float  #: mean pairwise cosine of the classes' saliency latents (0 = distinct)
    map_mass: float  #: mean positive mass of a map on its own grid (sum of the ReLU'd values)
    flat_share: float  #: share of maps that are all zero after the ReLU
    n_images: int


def map_statistics(
    model: torch.nn.Module,
    data: Dataset,
    method: SaliencyMethod | str = SaliencyMethod.GRADCAM,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
) -> MapStatistics:
    """Run ``model`` (eval mode) over ``data`` and average, per image, the class-distinctiveness value
    of its K maps (the quantity :class:`~cxrlib.losses.SaliencyRegularizedLoss` minimises), the
    maps' positive mass and the share of flat maps."""
    require_map_model(model, "map_statistics")
    dev = torch.device(device)
    model.to(dev).eval()
    cd_sum, mass_sum, flat_sum, n_images, n_maps = 0.0, 0.0, 0.0, 0, 0
    for batch in DataLoader(data, batch_size=batch_size, shuffle=False):
        images = batch["image"].to(dev)
        with torch.enable_grad():
            logits, features = model.forward_with_features(images)
            if not features.requires_grad:
                features.requires_grad_(True)
                logits = model.head(features)
            maps = saliency_maps(model, features, logits, method, create_graph=False)
        maps, features = maps.detach().double(), features.detach().double()
        b = len(images)
        cd_sum += float(class_distinctiveness_loss(maps, features)) * b
        mass = maps.sum((2, 3))
        mass_sum += float(mass.sum())
        flat_sum += float((mass == 0).sum())
        n_images, n_maps = n_images + b, n_maps + mass.numel()
    if n_images == 0:
        raise ValueError("map_statistics: the dataset is empty")
    return MapStatistics(cd_sum / n_images, mass_sum / n_maps, flat_sum / n_maps, n_images)
