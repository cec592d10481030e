"""Losses on saliency maps: class distinctiveness (Sharma and Pradeep P. 2023) and the heatmap-outside-mask loss
(the anonymous heatmap-loss submission); spatial coherence is in :mod:`cxrlib.saliency.coherence`."""

from __future__ import annotations

from enum import Enum

import torch
import torch.nn.functional as F

from ..maps import upsample_maps
from ..metrics import heatmap_mass_in_mask

__all__ = ["CDLatent", "saliency_latents", "class_distinctiveness_loss", "heatmap_outside_mask_loss"]


class CDLatent(str, Enum):
    """What the class-distinctiveness loss compares between two classes: the source's "latent
    representations of the saliency maps from the last convolutional layer" read two ways."""

    FEATURES = "features"  #: the last feature map pooled with each class's map as weights (a C-vector)
    MAPS = "maps"  #: the maps themselves (an h·w-vector each, normalised to unit mass)


def saliency_latents(maps: torch.Tensor, features: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Latent of each class's map from the last conv layer: ``Z_c = Σ_hw Ŝ_c A`` → ``(B, K, C)``.

    ``Ŝ_c`` is the map normalised to unit mass, so ``Z_c`` is the feature vector the map attends to.
    A map with no mass (all zero after the ReLU) attends to everything: its weights are uniform and its
    latent is the average feature vector. So switching maps off does not make them distinct: every
    vanished map gets the same latent, and the class-distinctiveness loss is at its maximum for them.
    """
    return torch.einsum("bkhw,bchw->bkc", _unit_mass(maps, eps), features)


def _unit_mass(maps: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """``maps (B, K, h, w)`` scaled to unit mass each; an all-zero map becomes the uniform map."""
    mass = maps.sum((2, 3), keepdim=True)
    uniform = torch.full_like(maps, 1.0 / (maps.shape[-2] * maps.shape[-1]))
    return torch.where(mass > eps, maps / mass.clamp_min(eps), uniform)


def class_distinctiveness_loss(
    maps: torch.Tensor, features: torch.Tensor, latent: CDLatent | str = CDLatent.FEATURES
) -> torch.Tensor:
    """Mean cosine similarity over all class pairs of the classes' latents; 0 = distinct. ``latent``:
    ``"features"``, the saliency latents ``(B, K, C)`` of :func:`saliency_latents`; ``"maps"``, the
    maps themselves at unit mass ``(B, K, h·w)`` (an all-zero map counts as uniform, so switching maps
    off does not make them distinct under either reading)."""
    if CDLatent(latent) is CDLatent.MAPS:
        z = F.normalize(_unit_mass(maps).flatten(2), dim=-1)
    else:
        z = F.normalize(saliency_latents(maps, features), dim=-1)
    sim = z @ z.transpose(1, 2)  # (B, K, K)
    k = sim.shape[-1]
    if k < 2:
        return maps.sum() * 0.0
    iu = torch.triu_indices(k, k, offset=1, device=sim.device)
    return sim[:, iu[0], iu[1]].mean()


def heatmap_outside_mask_loss(maps: torch.Tensor, masks: torch.Tensor, form: str = "fraction") -> torch.Tensor:
    """Heatmap mass outside the mask (the heatmap loss of the anonymous submission), averaged over maps.

    ``maps (B, K, h, w)`` or ``(B, h, w)``; ``masks (B, H, W)`` or ``(B, K, H, W)`` bool, broadcast
    over K. Maps are upsampled bilinearly to the mask size first. ``form="fraction"``: the share of
    each map's positive mass outside the mask, in [0, 1]; ``form="raw"``: the sum of the positive
    map values outside the mask (the submission's form; it grows with the mask's pixel count).
    """
    if maps.ndim == 4 and masks.ndim == 3:
        masks = masks[:, None].expand(-1, maps.shape[1], -1, -1)
    if form == "fraction":
        return (1.0 - heatmap_mass_in_mask(maps, masks)).mean()
    if form == "raw":
        up = upsample_maps(maps, masks.shape[-2:]).clamp_min(0)
        return (up * ~masks.bool()).sum((-2, -1)).mean()
    raise ValueError(f"form must be 'fraction' or 'raw', got {form!r}")
