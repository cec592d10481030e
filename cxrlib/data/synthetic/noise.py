"""Per-image random fields, defined on normalised coordinates so that they do not depend on the size.

Image ``i`` of a dataset with seed ``s`` draws its stream ``name`` from its own generator
``random_stream(s, i, crc32(name))``. What an image gets therefore depends neither on the
batch it is rendered in nor on the other streams, and smooth fields are a coarse grid of fixed shape
sampled at the normalised pixel centres: only the pixel noise (whose shape is the image size) changes
with the size.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ...rng import random_stream

__all__ = ["ImageRandom"]


def _bicubic_rms() -> float:
    """RMS of unit white noise interpolated with PyTorch's bicubic kernel (A = -0.75), over positions."""
    a = -0.75
    t = (np.arange(4096) + 0.5) / 4096
    x = np.abs(np.stack([t + 1, t, 1 - t, 2 - t]))
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    weights = np.where(x <= 1, near, far)
    return float(np.mean((weights**2).sum(0)))  # 2-D variance s(tx) s(ty) averages to mean(s)^2


_BICUBIC_RMS = _bicubic_rms()


class ImageRandom:
    """The random numbers of a batch of images; ``images`` are their indices in the dataset, ``(B,)``."""

    def __init__(self, seed: int, images: Sequence[int] | np.ndarray):
        self.seed = int(seed)
        self.images = np.asarray(images, dtype=np.int64).reshape(-1)

    def __len__(self) -> int:
        return len(self.images)

    def take(self, rows: np.ndarray | torch.Tensor) -> ImageRandom:
        """The same images' randomness for a subset of rows of the batch."""
        return ImageRandom(self.seed, self.images[np.asarray(rows)])

    def generator(self, image: int, stream: str) -> np.random.Generator:
        """The generator of stream ``stream`` of dataset image ``image``."""
        return random_stream(self.seed, int(image), zlib.crc32(stream.encode()))

    def normal(self, stream: str, shape: tuple[int, ...]) -> torch.Tensor:
        """Standard normal numbers, ``(B, *shape)`` float32, one draw of ``shape`` per image."""
        out = np.empty((len(self), *shape), np.float32)
        for row, image in enumerate(self.images):
            out[row] = self.generator(image, stream).standard_normal(shape, dtype=np.float32)
        return torch.from_numpy(out)

    def smooth_field(self, stream: str, cells: int, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Band-limited noise of unit RMS with about ``cells`` features across ``[-1, 1]``, at ``(u, v)``.

        ``u, v`` are ``(B, H, W)`` normalised coordinates; returns ``(B, H, W)``. A ``(cells + 3)²``
        grid per image is sampled bicubically, the image spanning its central ``cells`` cells.
        """
        coarse = self.normal(stream, (1, cells + 3, cells + 3))
        scale = cells / (cells + 3)
        grid = torch.stack([u * scale, v * scale], dim=-1)
        field = F.grid_sample(coarse, grid, mode="bicubic", padding_mode="border", align_corners=False)[:, 0]
        return field / _BICUBIC_RMS

    def radial_streaks(
        self, stream: str, u: torch.Tensor, v: torch.Tensor, hx: torch.Tensor, hy: torch.Tensor
    ) -> torch.Tensor:
        """Vessel-like streaks radiating from ``(hx, hy)``: thin in angle, long in radius, ``(B, H, W)``."""
        r = torch.sqrt((u - hx) ** 2 + (v - hy) ** 2)
        theta = torch.atan2(v - hy, u - hx) / math.pi  # [-1, 1]
        noise = self.normal(stream, (1, 6, 160))
        grid = torch.stack([theta, (r / 0.9).clamp(0, 1) * 2 - 1], dim=-1)
        streaks = F.grid_sample(noise, grid, mode="bilinear", padding_mode="border", align_corners=True)[:, 0]
        return streaks.clamp_min(0) * torch.exp(-r / 0.45)
