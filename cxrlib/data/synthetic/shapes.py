"""Shared rendering helpers: soft shapes and boxes in normalised coordinates ``u, v ∈ [-1, 1]``."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["column", "soft", "ellipse_distance", "box_of"]


def column(x: np.ndarray) -> torch.Tensor:
    """``(B,)`` numbers → ``(B, 1, 1)`` float32 tensor, to broadcast against ``(B, H, W)`` images."""
    return torch.as_tensor(np.asarray(x, dtype=np.float32))[:, None, None]


def soft(d: torch.Tensor, width: float) -> torch.Tensor:
    """Soft indicator of ``d < 1`` for a normalised distance ``d``; ``width`` in distance units."""
    return torch.sigmoid((1.0 - d) / width)


Number = torch.Tensor | float


def ellipse_distance(
    u: torch.Tensor, v: torch.Tensor, cx: Number, cy: Number, rx: Number, ry: Number, angle: torch.Tensor | None = None
) -> torch.Tensor:
    """Normalised distance from the ellipse centre ``(cx, cy)`` with radii ``rx, ry`` (1 on its border).

    All arguments broadcast (``(B, H, W)`` coordinates, ``(B, 1, 1)`` parameters); ``angle`` in radians.
    """
    du, dv = u - cx, v - cy
    if angle is not None:
        c, s = torch.cos(angle), torch.sin(angle)
        du, dv = c * du + s * dv, -s * du + c * dv
    return torch.sqrt((du / rx) ** 2 + (dv / ry) ** 2 + 1e-12)


def box_of(mask: torch.Tensor) -> np.ndarray:
    """``(B, H, W)`` bool → ``(B, 4)`` float ``x, y, w, h`` in pixels (NaN where empty)."""
    _, h, w = mask.shape
    rows, cols = mask.any(2), mask.any(1)
    has = rows.any(1)
    y0 = rows.float().argmax(1)
    y1 = h - 1 - rows.flip(1).float().argmax(1)
    x0 = cols.float().argmax(1)
    x1 = w - 1 - cols.flip(1).float().argmax(1)
    out = torch.stack([x0, y0, x1 - x0 + 1, y1 - y0 + 1], 1).float().numpy()
    out[~has.numpy()] = np.nan
    return out
