"""Resizing and normalising saliency maps: the one place every consumer (metrics, saliency, plots,
benchmarks) takes them from, so that an overlay and a score see the same pixels.

Maps are ``(..., h, w)`` tensors; upsampling is bilinear with half-pixel centres (as cv2 and
pytorch-grad-cam do it).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["upsample_maps", "normalize_maps", "display_maps", "flat_maps"]


def upsample_maps(maps: torch.Tensor | np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear upsampling ``(..., h, w)`` → ``(..., H, W)`` (float; leading dimensions kept)."""
    t = maps if isinstance(maps, torch.Tensor) else torch.as_tensor(np.asarray(maps))
    if t.ndim < 2:
        raise ValueError(f"maps must be (..., h, w), got shape {tuple(t.shape)}")
    if not t.is_floating_point():
        t = t.float()
    lead = t.shape[:-2]
    flat = t.reshape(-1, 1, *t.shape[-2:])
    up = F.interpolate(flat, size=tuple(int(s) for s in size), mode="bilinear", align_corners=False)
    return up.reshape(*lead, *up.shape[-2:])


def normalize_maps(maps: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Min-max normalise each ``(h, w)`` map to [0, 1] (pytorch-grad-cam's convention)."""
    flat = maps.flatten(-2)
    lo = flat.amin(-1, keepdim=True)[..., None]
    hi = flat.amax(-1, keepdim=True)[..., None] - lo
    return (maps - lo) / (hi + eps)


def display_maps(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Maps ready to overlay on the image, as pytorch-grad-cam shows them: min-max normalise,
    upsample bilinearly to ``size``, min-max normalise again. ``(B, K, h, w)`` → ``(B, K, H, W)``."""
    return normalize_maps(upsample_maps(normalize_maps(maps), size))


def flat_maps(maps: torch.Tensor | np.ndarray, rtol: float = 1e-6) -> np.ndarray:
    """``(...)`` bool: which ``(..., h, w)`` maps are constant (no peak: all zero after a ReLU, or
    one value everywhere). Range ``max − min`` at most ``rtol · max(|max|, tiny)`` counts as flat."""
    a = maps.detach().cpu().double().numpy() if isinstance(maps, torch.Tensor) else np.asarray(maps, np.float64)
    hi, lo = a.max(axis=(-2, -1)), a.min(axis=(-2, -1))
    return (hi - lo) <= rtol * np.maximum(np.abs(hi), np.finfo(np.float64).tiny)
