"""Saliency: batched, differentiable CAM / Grad-CAM / HiResCAM and losses on the maps."""

from .cam import SaliencyMethod, compute_saliency, display_maps, normalize_maps, saliency_maps, upsample_maps
from .losses import class_distinctiveness_loss, heatmap_outside_mask_loss, saliency_latents

__all__ = [
    "SaliencyMethod",
    "compute_saliency",
    "display_maps",
    "normalize_maps",
    "saliency_maps",
    "upsample_maps",
    "class_distinctiveness_loss",
    "heatmap_outside_mask_loss",
    "saliency_latents",
]
