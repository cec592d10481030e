"""Saliency: batched, differentiable CAM / Grad-CAM / HiResCAM and losses on the maps."""

from .cam import SaliencyMethod, compute_saliency, display_maps, normalize_maps, saliency_maps, upsample_maps
from .coherence import connected_components, spatial_coherence_loss
from .evaluate import MapStatistics, map_statistics
from .losses import CDLatent, class_distinctiveness_loss, heatmap_outside_mask_loss, saliency_latents

__all__ = [
    "MapStatistics",
    "map_statistics",
    "connected_components",
    "spatial_coherence_loss",
    "SaliencyMethod",
    "compute_saliency",
    "display_maps",
    "normalize_maps",
    "saliency_maps",
    "upsample_maps",
    "class_distinctiveness_loss",
    "CDLatent",
    "heatmap_outside_mask_loss",
    "saliency_latents",
]
