"""Spatial coherence of saliency maps (Sharma and Pradeep P. 2023, §3.2), batched over every map.

``L_SC = Σ_p Σ_{n ∈ T(p)} (x_p − x_n)²`` where ``T(p)`` are the pixels of ``p``'s 9×9 neighbourhood
that lie in the same cluster as ``p``. The source finds clusters by connected-component analysis but
gives no threshold; here a map's **clusters** are the connected components of its foreground
``x ≥ τ · max(x)`` (8-connected, ``τ = 0.5`` by default) and of its background (4-connected, the
usual pairing that keeps a ring's inside apart from its outside). Components are computed without
gradient (they are constants of the loss); the penalty is differentiable in the maps. Per map the
pixel sums are averaged over pixels, then over maps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["connected_components", "spatial_coherence_loss"]


def _propagate(labels: torch.Tensor, region: torch.Tensor, diagonal: bool) -> torch.Tensor:
    """Spread the largest label through each connected part of ``region`` by repeated 3×3 max-pooling
    (8-connected with ``diagonal``, else 4-connected) until nothing changes."""
    labels = labels * region
    while True:
        if diagonal:
            grown = F.max_pool2d(labels, 3, stride=1, padding=1)
        else:
            grown = torch.maximum(
                F.max_pool2d(labels, (3, 1), stride=1, padding=(1, 0)),
                F.max_pool2d(labels, (1, 3), stride=1, padding=(0, 1)),
            )
        grown = grown * region
        if torch.equal(grown, labels):
            return labels
        labels = grown


@torch.no_grad()
def connected_components(maps: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """``(N, H, W)`` maps → ``(N, H, W)`` int64 cluster labels: foreground components (``x ≥ τ·max``,
    8-connected) get labels ``1..HW``, background components (4-connected) ``HW+1..2HW``; equal labels
    mean the same cluster. A map with no positive value is all background."""
    n, h, w = maps.shape
    top = maps.flatten(1).amax(1).clamp_min(0)[:, None, None]
    fg = (maps >= threshold * top) & (top > 0)
    index = torch.arange(1, h * w + 1, dtype=torch.float64, device=maps.device).reshape(1, 1, h, w)
    index = index.expand(n, 1, h, w)
    fg_labels = _propagate(index.clone(), fg[:, None].double(), diagonal=True)
    bg_labels = _propagate(index.clone(), (~fg)[:, None].double(), diagonal=False)
    return torch.where(fg[:, None], fg_labels, bg_labels + h * w).long()[:, 0]


def spatial_coherence_loss(maps: torch.Tensor, window: int = 9, threshold: float = 0.5) -> torch.Tensor:
    """Spatial coherence loss of ``(B, K, h, w)`` (or ``(N, h, w)``) saliency maps; 0 when every
    cluster is constant over each neighbourhood. ``window`` is the odd side of the neighbourhood."""
    if window % 2 != 1 or window < 3:
        raise ValueError(f"window must be an odd number >= 3, got {window}")
    if maps.ndim not in (3, 4):
        raise ValueError(f"maps must be (B, K, h, w) or (N, h, w), got {tuple(maps.shape)}")
    h, w = maps.shape[-2:]
    flat = maps.reshape(-1, 1, h, w)
    # labels run to 2·h·w: compared in float64 (exact to 2^53), never in the maps' dtype (bf16 under autocast
    # holds integers exactly only to 256, so distinct clusters would share a label)
    labels = connected_components(flat[:, 0].detach(), threshold).double()[:, None]
    pad = window // 2
    values = F.unfold(flat, window, padding=pad)  # (N, window², hw): each pixel's neighbourhood
    neighbour_labels = F.unfold(F.pad(labels, (pad,) * 4, value=-1.0), window)
    same = neighbour_labels == labels.flatten(2)  # padding (-1) never matches a label
    squared = (values - flat.flatten(2)) ** 2
    per_pixel = (squared * same).sum(1)  # (N, hw)
    return per_pixel.mean()
