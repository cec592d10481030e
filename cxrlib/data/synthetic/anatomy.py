"""SynthCXR anatomy: the patient's pose, body, lungs with diaphragm domes, heart, mediastinum, spine,
ribs, clavicles, vessel markings and soft-tissue texture, all in normalised coordinates.

``build_anatomy`` holds the shapes findings are placed in (deterministic given the parameters);
``background_attenuation`` and ``lung_markings`` add the per-image random texture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .config import SYNTH_CLASSES
from .noise import ImageRandom
from .shapes import column, ellipse_distance, soft

__all__ = ["Coords", "Anatomy", "make_coords", "build_anatomy", "background_attenuation", "lung_markings"]

Lung = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]  # cx, cy, rx, ry, each (B, 1, 1)


@dataclass(frozen=True)
class Coords:
    """Pixel-centre coordinates: ``image_u, image_v`` ``(1, S, S)`` in image space, ``u, v`` ``(B, S, S)``
    in the patient's (rotated, shifted) frame; ``edge`` is the soft-edge width in normalised units."""

    size: int
    image_u: torch.Tensor
    image_v: torch.Tensor
    u: torch.Tensor
    v: torch.Tensor
    edge: float

    def take(self, rows: torch.Tensor) -> Coords:
        return Coords(self.size, self.image_u, self.image_v, self.u[rows], self.v[rows], self.edge)


@dataclass(frozen=True)
class Anatomy:
    """The shapes findings are drawn in, per image ``(B, S, S)`` (soft in [0, 1], hard as bool).

    ``lungs_c`` holds ``(cx, cy, rx, ry)`` of the patient's right lung (image left) and left lung.
    ``lung_soft`` / ``lung_hard`` are those lungs without the part behind the heart, ``lungs`` /
    ``lungs_hard`` both lungs together; ``centre`` is the chest centre ``(cx, cy)``, ``scale`` its
    width and height factors ``(sw, sh)``, each ``(B, 1, 1)``.
    """

    body: torch.Tensor
    lung_soft: tuple[torch.Tensor, torch.Tensor]
    lung_hard: tuple[torch.Tensor, torch.Tensor]
    lungs: torch.Tensor
    lungs_hard: torch.Tensor
    lungs_c: tuple[Lung, Lung]
    heart: torch.Tensor
    heart_distance: torch.Tensor
    centre: tuple[torch.Tensor, torch.Tensor]
    scale: tuple[torch.Tensor, torch.Tensor]

    def take(self, rows: torch.Tensor) -> Anatomy:
        """The anatomy of a subset of the batch's rows."""
        pick = lambda items: tuple(x[rows] for x in items)  # noqa: E731
        return Anatomy(
            self.body[rows],
            pick(self.lung_soft),
            pick(self.lung_hard),
            self.lungs[rows],
            self.lungs_hard[rows],
            tuple(pick(lung) for lung in self.lungs_c),
            self.heart[rows],
            self.heart_distance[rows],
            pick(self.centre),
            pick(self.scale),
        )


def make_coords(params: dict[str, np.ndarray], size: int) -> Coords:
    """Normalised pixel centres at ``size`` pixels, and the patient frame after rotation and shift."""
    t = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1
    image_v, image_u = torch.meshgrid(t, t, indexing="ij")
    image_u, image_v = image_u[None], image_v[None]
    rot, dx, dy = column(params["rot"]), column(params["dx"]), column(params["dy"])
    u = torch.cos(rot) * (image_u - dx) + torch.sin(rot) * (image_v - dy)
    v = -torch.sin(rot) * (image_u - dx) + torch.cos(rot) * (image_v - dy)
    return Coords(size, image_u, image_v, u, v, edge=max(0.012, 1.2 * 2.0 / size))


def build_anatomy(coords: Coords, params: dict[str, np.ndarray]) -> Anatomy:
    """Body, lungs cut by diaphragm domes, and a heart enlarged by the Cardiomegaly severity."""
    u, v, edge = coords.u, coords.v, coords.edge
    cx, cy, sw, sh = (column(params[k]) for k in ("cx", "cy", "sw", "sh"))
    body = soft(ellipse_distance(u, v, cx, cy + 0.3, 0.97 * sw * column(params["body"]), 1.3), 0.05)
    lungs_c = ((cx - 0.36 * sw, cy - 0.08, 0.27 * sw, 0.58 * sh), (cx + 0.35 * sw, cy - 0.06, 0.25 * sw, 0.55 * sh))
    lung_soft, lung_hard = [], []
    for lcx, lcy, rx, ry in lungs_c:
        d = ellipse_distance(u, v, lcx, lcy, rx, ry)
        dome = lcy + ry * (0.55 + 0.45 * ((u - lcx) / rx) ** 2)  # dips towards the costophrenic angles
        lung_soft.append(soft(d, edge) * torch.sigmoid((dome - v) / (edge * 0.5)))
        lung_hard.append((d < 1) & (v < dome))
    # heart: enlarged by Cardiomegaly severity (plus normal variation), AP views magnify it a little
    cm = column(params["severity"][:, SYNTH_CLASSES.index("Cardiomegaly")] + params["normal_heart"])
    mag = 1.0 + 0.08 * column(params["ap"].astype(np.float32))
    hrx = 0.27 * sw * column(params["heart"]) * (1 + 0.6 * cm) * mag
    hry = 0.215 * column(params["heart"]) * (1 + 0.25 * cm) * mag
    hcx, hcy = cx + 0.07 * sw + 0.3 * (hrx - 0.27 * sw), cy + 0.17
    hd = ellipse_distance(u, v, hcx, hcy, hrx, hry, torch.full_like(hcx, -0.35))
    heart = soft(hd, edge)
    lung_soft = tuple(ls * (1 - heart) for ls in lung_soft)
    lung_hard = tuple(lh & (hd >= 1) for lh in lung_hard)
    return Anatomy(
        body=body,
        lung_soft=lung_soft,
        lung_hard=lung_hard,
        lungs=lung_soft[0] + lung_soft[1],
        lungs_hard=lung_hard[0] | lung_hard[1],
        lungs_c=lungs_c,
        heart=heart,
        heart_distance=hd,
        centre=(cx, cy),
        scale=(sw, sh),
    )


def background_attenuation(
    coords: Coords, anatomy: Anatomy, params: dict[str, np.ndarray], random: ImageRandom
) -> torch.Tensor:
    """Attenuation of a normal chest without lung markings, ``(B, S, S)``: soft tissue, lungs,
    mediastinum, heart, spine, ribs, clavicles and low-frequency texture."""
    u, v = coords.u, coords.v
    (cx, cy), (sw, sh) = anatomy.centre, anatomy.scale
    body = anatomy.body
    mediastinum = soft(torch.abs(u - cx) / 0.11, 0.08) * torch.sigmoid((v - (cy - 0.85)) / 0.05) * body
    spine = soft(torch.abs(u - cx) / 0.065, 0.05) * body * (0.85 + 0.15 * torch.cos(v * 24 + cy))
    thorax = soft(ellipse_distance(u, v, cx, cy - 0.05, 0.78 * sw, 0.72 * sh), 0.04)
    rib_phase = (v - 0.45 * (u - cx) ** 2) / column(params["rib_spacing"]) + column(params["rib_phase"])
    ribs = torch.exp(-((((rib_phase % 1.0) - 0.5) / 0.13) ** 2)) * thorax * (torch.abs(u - cx) > 0.07)
    clavicles = 0.0
    for sgn in (-1.0, 1.0):
        t_c = ((u - cx) * sgn).clamp(0.04, 0.55)
        line_v = cy - 0.66 - 0.12 * t_c
        on = ((u - cx) * sgn > 0.04) & ((u - cx) * sgn < 0.55)
        clavicles = clavicles + torch.exp(-(((v - line_v) / 0.025) ** 2)) * on
    texture = random.smooth_field("texture", 10, u, v)
    return (
        0.04
        + 0.42 * body
        - 0.27 * anatomy.lungs
        + 0.12 * mediastinum
        + 0.035 * anatomy.heart * body
        + 0.07 * spine
        + 0.045 * ribs
        + 0.08 * clavicles
        + 0.02 * texture * body
    )


def lung_markings(coords: Coords, anatomy: Anatomy, random: ImageRandom) -> torch.Tensor:
    """Branching-vessel texture radiating from both hila, ``(B, S, S)`` (not yet limited to the lungs)."""
    total = 0.0
    for i, (lcx, lcy, rx, _) in enumerate(anatomy.lungs_c):
        hx = lcx + 0.55 * rx * (1 if i == 0 else -1)
        total = total + random.radial_streaks(f"vessels-{i}", coords.u, coords.v, hx, lcy + 0.05)
    return total
