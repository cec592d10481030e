"""Render SynthCXR images: anatomy, then each drawn finding from the registry, exposure, noise, marker."""

from __future__ import annotations

import numpy as np
import torch

from .anatomy import background_attenuation, build_anatomy, lung_markings, make_coords
from .config import MARKER_BOX, SYNTH_CLASSES
from .findings import FINDINGS, finding_context
from .noise import ImageRandom
from .parameters import rows_of
from .shapes import box_of, column

__all__ = ["render_synth_cxr", "render_thorax_mask"]

Box = tuple[int, str, float, float, float, float]


def render_synth_cxr(
    params: dict[str, np.ndarray], idx: np.ndarray, size: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[Box]]:
    """Render dataset images ``idx`` of a parameter set at ``size`` pixels.

    Returns ``images (B, S, S)`` float in [0, 1], ``masks (B, K_all, S, S)`` bool,
    ``marker (B, S, S)`` bool and ``boxes`` (list of ``(row_in_batch, class, x, y, w, h)`` in pixels,
    one per instance). Each image's random streams are its own (seeded by ``seed`` and its index), so
    an image does not depend on the batch it is rendered in, and only its pixel noise on ``size``.
    """
    idx = np.asarray(idx, dtype=np.int64).reshape(-1)
    P = rows_of(params, idx)
    b, K = len(idx), len(SYNTH_CLASSES)
    random = ImageRandom(seed, idx)
    coords = make_coords(P, size)
    anatomy = build_anatomy(coords, P)
    atten = background_attenuation(coords, anatomy, P, random)
    markings = lung_markings(coords, anatomy, random)
    masks = torch.zeros(b, K, size, size, dtype=torch.bool)
    boxes: list[Box] = []
    for k, name in enumerate(SYNTH_CLASSES):
        rows = np.flatnonzero(P["truth"][:, k])
        if len(rows) == 0:
            continue
        draw = FINDINGS[name](finding_context(name, coords, anatomy, P, random, k, rows))
        rows_t = torch.as_tensor(rows, dtype=torch.long)
        atten[rows_t] += draw.attenuation
        if draw.hides_markings is not None:
            markings[rows_t] *= 1 - draw.hides_markings
        for instance in draw.instances:
            masks[rows_t, k] |= instance.mask
            for row, box in zip(rows, box_of(instance.mask)):
                if not np.isnan(box[0]):
                    boxes.append((int(row), name, *map(float, box)))
    atten = atten + 0.06 * markings * anatomy.lungs
    # exposure: contrast, gamma, brightness, pixel noise (the one thing drawn at the image size)
    img = (atten / 0.72).clamp(0, 1) ** column(P["gamma"]) * column(P["contrast"]) + column(P["bright"])
    img = img + column(P["noise"]) * random.normal("pixels", (size, size))
    # shortcut marker: a bright token with a dark bar, in image space
    U0, V0 = coords.image_u, coords.image_v
    mu0, mv0, mu1, mv1 = MARKER_BOX
    token = (U0 > mu0) & (U0 < mu1) & (V0 > mv0) & (V0 < mv1)
    bar = (U0 > mu0 + 0.05) & (U0 < mu0 + 0.09) & (V0 > mv0 + 0.04) & (V0 < mv1 - 0.04)
    marker = token & torch.as_tensor(P["marker"])[:, None, None]
    img = torch.where(marker, torch.where(bar, 0.15, 0.95), img)
    return img.clamp(0, 1), masks, marker, boxes


def render_thorax_mask(params: dict[str, np.ndarray], idx: np.ndarray, size: int) -> torch.Tensor:
    """The thorax of dataset images ``idx``: both lung fields and the heart, ``(B, S, S)`` bool.

    It depends on the patient's anatomy only (pose, size, heart), not on findings or noise; it is the
    region a finding of the chexpert-five classes lies in, and excludes the image corners where the
    shortcut marker is drawn (the allowed region of a heatmap loss against that shortcut).
    """
    idx = np.asarray(idx, dtype=np.int64).reshape(-1)
    P = rows_of(params, idx)
    anatomy = build_anatomy(make_coords(P, size), P)
    return anatomy.lungs_hard | (anatomy.heart_distance < 1)
