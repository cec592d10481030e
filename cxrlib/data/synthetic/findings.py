"""SynthCXR findings: one small function per class, registered in ``FINDINGS``.

Each takes a ``FindingContext`` (coordinates, anatomy, this finding's parameters and the images'
random streams, for the images that have the finding) and returns a ``FindingDraw``: the attenuation
it adds, its instances (one mask per lesion; one per side for bilateral findings) and, for a
pneumothorax, where it hides the lung markings. Severity in [0.25, 1] scales contrast and size.

=================  =============================================================  ================
class              appearance                                                     typical area
=================  =============================================================  ================
Atelectasis        plate-like band of opacity in a lower zone                     ~0.5-1 %
Cardiomegaly       enlarged heart shadow (cardiothoracic ratio > 0.5)             ~7-11 % (mask)
Consolidation      dense, irregular lobar opacity                                 ~2-5 %
Edema              bilateral perihilar haze (bat wing)                            ~5-10 %
Pleural Effusion   homogeneous basal opacity with a meniscus, one or both sides   ~2-8 %
Nodule             small round opacity                                            ~0.2-0.6 %
Mass               large lobulated opacity                                        ~1-3 %
Pneumothorax       lucent rim without lung markings, visible pleural line         ~2-6 %
Infiltration       patchy reticular opacity                                       ~2-5 %
=================  =============================================================  ================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .anatomy import Anatomy, Coords
from .noise import ImageRandom
from .parameters import BOTH, LEFT, PLACEMENT_KEYS, RIGHT
from .shapes import ellipse_distance, soft

__all__ = ["FindingParams", "FindingContext", "Instance", "FindingDraw", "FINDINGS", "finding_context"]


@dataclass(frozen=True)
class FindingParams:
    """One finding's parameters per image, each ``(B, 1, 1)``: ``severity`` in [0.25, 1], ``side``
    (``RIGHT``, ``LEFT``, ``BOTH``), ``pos_a, pos_b`` in [-1, 1], ``size`` in [0, 1], ``angle`` (radians)."""

    severity: torch.Tensor
    side: torch.Tensor
    pos_a: torch.Tensor
    pos_b: torch.Tensor
    size: torch.Tensor
    angle: torch.Tensor


@dataclass(frozen=True)
class FindingContext:
    """Everything a finding function may use, for the ``B`` images it is drawn in."""

    name: str
    coords: Coords
    anatomy: Anatomy
    params: FindingParams
    random: ImageRandom


@dataclass(frozen=True)
class Instance:
    """One lesion: its ``(B, S, S)`` bool mask and whether it is drawn in each image, ``(B,)`` bool."""

    mask: torch.Tensor
    drawn: torch.Tensor


@dataclass(frozen=True)
class FindingDraw:
    """What a finding adds: ``attenuation`` ``(B, S, S)``, its instances, and ``hides_markings``
    ``(B, S, S)`` in [0, 1] (the fraction of lung markings it removes) or None."""

    attenuation: torch.Tensor
    instances: list[Instance]
    hides_markings: torch.Tensor | None = None


def finding_context(
    name: str,
    coords: Coords,
    anatomy: Anatomy,
    params: dict[str, np.ndarray],
    random: ImageRandom,
    k: int,
    rows: np.ndarray,
) -> FindingContext:
    """The context of finding ``k`` (``name``) for batch rows ``rows`` of a rendered batch."""
    rows_t = torch.as_tensor(rows, dtype=torch.long)
    col = lambda key: torch.as_tensor(params[key][rows, k], dtype=torch.float32)[:, None, None]  # noqa: E731
    finding = FindingParams(
        severity=col("severity"),
        side=torch.as_tensor(params["side"][rows, k], dtype=torch.long)[:, None, None],
        **{key: col(key) for key in PLACEMENT_KEYS},
    )
    return FindingContext(name, coords.take(rows_t), anatomy.take(rows_t), finding, random.take(rows))


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def _all(ctx: FindingContext) -> torch.Tensor:
    return torch.ones(len(ctx.random), dtype=torch.bool)


def _chosen_lung(ctx: FindingContext) -> tuple[torch.Tensor, ...]:
    """Centre and radii ``(cx, cy, rx, ry)`` of the finding's lung (patient's right or left), per image."""
    right, left = ctx.anatomy.lungs_c
    return tuple(torch.where(ctx.params.side == RIGHT, a, b) for a, b in zip(right, left))


def _lung_point(ctx: FindingContext, spread: float, low: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """A point inside the finding's lung, uniform over a disc of ``spread`` lung radii (``low`` > 0
    moves it towards the base)."""
    p = ctx.params
    radius = torch.sqrt((p.pos_a + 1) / 2)
    a = radius * torch.cos(torch.pi * p.pos_b) * spread
    b = (radius * torch.sin(torch.pi * p.pos_b) * (1 - low) + low) * spread
    lcx, lcy, rx, ry = _chosen_lung(ctx)
    return lcx + a * rx, lcy + b * ry * 0.75


# ----------------------------------------------------------------------------------------------
# findings
# ----------------------------------------------------------------------------------------------
def atelectasis(ctx: FindingContext) -> FindingDraw:
    """Plate-like band of opacity in a lower zone."""
    u, v, p, anat = ctx.coords.u, ctx.coords.v, ctx.params, ctx.anatomy
    pu, pv = _lung_point(ctx, 0.5, low=0.6)
    d = ellipse_distance(u, v, pu, pv, 0.16 + 0.08 * p.size, 0.035 + 0.015 * p.size, p.angle * 0.6)
    attenuation = 0.16 * p.severity * soft(d, 0.25) * anat.lungs
    return FindingDraw(attenuation, [Instance((d < 1) & anat.lungs_hard, _all(ctx))])


def cardiomegaly(ctx: FindingContext) -> FindingDraw:
    """The enlarged heart itself (the anatomy already enlarged it by the severity)."""
    anat = ctx.anatomy
    return FindingDraw(torch.zeros_like(anat.heart), [Instance(anat.heart_distance < 1, _all(ctx))])


def consolidation(ctx: FindingContext) -> FindingDraw:
    """Dense, irregular lobar opacity."""
    u, v, p, anat = ctx.coords.u, ctx.coords.v, ctx.params, ctx.anatomy
    pu, pv = _lung_point(ctx, 0.55)
    d = ellipse_distance(u, v, pu, pv, 0.12 + 0.07 * p.size, 0.14 + 0.06 * p.size, p.angle)
    blob = d * (1 + 0.25 * ctx.random.smooth_field(ctx.name, 12, u, v))
    attenuation = 0.24 * p.severity * soft(blob, 0.15) * anat.lungs
    return FindingDraw(attenuation, [Instance((blob < 1) & anat.lungs_hard, _all(ctx))])


def edema(ctx: FindingContext) -> FindingDraw:
    """Bilateral perihilar haze (bat wing), one instance per side."""
    u, v, p, anat = ctx.coords.u, ctx.coords.v, ctx.params, ctx.anatomy
    reticular = 1 + 0.35 * ctx.random.smooth_field(ctx.name, 40, u, v)
    attenuation, instances = 0.0, []
    for i, (lcx, lcy, lrx, lry) in enumerate(anat.lungs_c):
        hx = lcx + 0.45 * lrx * (1 if i == 0 else -1)
        d = ellipse_distance(u, v, hx, lcy + 0.05, 0.55 * lrx * (1 + 0.3 * p.size), 0.45 * lry)
        haze = torch.exp(-(d**2)) * anat.lung_soft[i]
        attenuation = attenuation + 0.15 * p.severity * haze * reticular
        instances.append(Instance((d < 1) & anat.lung_hard[i], _all(ctx)))
    return FindingDraw(attenuation, instances)


def pleural_effusion(ctx: FindingContext) -> FindingDraw:
    """Homogeneous basal opacity with a meniscus, on one or both sides (one instance per side)."""
    u, v, p, anat, edge = ctx.coords.u, ctx.coords.v, ctx.params, ctx.anatomy, ctx.coords.edge
    attenuation, instances = 0.0, []
    for i, (lcx, lcy, lrx, lry) in enumerate(anat.lungs_c):
        on_side = (p.side == i) | (p.side == BOTH)
        level = lcy + lry * (0.9 - 0.55 * p.severity)  # higher fluid level with severity
        lateral = ((u - lcx) / lrx * (1 if i == LEFT else -1)).clamp(min=0)
        meniscus = level - 0.18 * lry * lateral**2 * 4
        pleural_space = soft(ellipse_distance(u, v, lcx, lcy, lrx * 1.05, lry * 1.08), edge)
        fluid = torch.sigmoid((v - meniscus) / edge) * pleural_space
        attenuation = attenuation + 0.26 * fluid * on_side * anat.lung_soft[i]
        instances.append(Instance((v > meniscus) & anat.lung_hard[i] & on_side, on_side[:, 0, 0]))
    return FindingDraw(attenuation, instances)


def nodule(ctx: FindingContext) -> FindingDraw:
    """Small round opacity."""
    u, v, p, anat = ctx.coords.u, ctx.coords.v, ctx.params, ctx.anatomy
    pu, pv = _lung_point(ctx, 0.6)
    r = 0.05 + 0.04 * p.size
    d = ellipse_distance(u, v, pu, pv, r, r)
    attenuation = 0.16 * p.severity * soft(d, 0.2) * anat.lungs
    return FindingDraw(attenuation, [Instance((d < 1) & anat.lungs_hard, _all(ctx))])


def mass(ctx: FindingContext) -> FindingDraw:
    """Large lobulated opacity."""
    u, v, p, anat = ctx.coords.u, ctx.coords.v, ctx.params, ctx.anatomy
    pu, pv = _lung_point(ctx, 0.45)
    r = 0.11 + 0.08 * p.size
    d = ellipse_distance(u, v, pu, pv, r, r * 0.9, p.angle) * (1 + 0.12 * ctx.random.smooth_field(ctx.name, 8, u, v))
    attenuation = 0.22 * p.severity * soft(d, 0.1) * anat.lungs
    return FindingDraw(attenuation, [Instance((d < 1) & anat.lungs_hard, _all(ctx))])


def pneumothorax(ctx: FindingContext) -> FindingDraw:
    """The lung collapses away from the lateral/apical wall: a lucent rim without lung markings and a
    visible pleural line."""
    u, v, p, anat = ctx.coords.u, ctx.coords.v, ctx.params, ctx.anatomy
    collapse = 0.10 + 0.25 * p.severity
    lcx, lcy, lrx, lry = _chosen_lung(ctx)
    right = p.side == RIGHT
    medial = torch.where(right, 1.0, -1.0)
    d_in = ellipse_distance(
        u,
        v,
        lcx + medial * collapse * lrx,
        lcy + collapse * lry * 0.6,
        lrx * (1 - collapse),
        lry * (1 - collapse * 0.6),
    )
    this_lung = torch.where(right, anat.lung_soft[0], anat.lung_soft[1])
    this_hard = torch.where(right, anat.lung_hard[0], anat.lung_hard[1])
    rim = this_lung * torch.sigmoid((d_in - 1) / 0.03)
    pleural_line = torch.exp(-(((d_in - 1) / 0.02) ** 2)) * this_lung
    return FindingDraw(
        -0.05 * rim + 0.07 * pleural_line, [Instance((d_in >= 1) & this_hard, _all(ctx))], hides_markings=rim
    )


def infiltration(ctx: FindingContext) -> FindingDraw:
    """Patchy reticular opacity in a region."""
    u, v, p, anat = ctx.coords.u, ctx.coords.v, ctx.params, ctx.anatomy
    pu, pv = _lung_point(ctx, 0.5)
    d = ellipse_distance(u, v, pu, pv, 0.15 + 0.08 * p.size, 0.18 + 0.08 * p.size)
    patches = (ctx.random.smooth_field(ctx.name, 24, u, v) + 0.3).clamp_min(0)
    attenuation = 0.14 * p.severity * soft(d, 0.15) * anat.lungs * patches
    return FindingDraw(attenuation, [Instance((d < 1) & anat.lungs_hard & (patches > 0.2), _all(ctx))])


FINDINGS: dict[str, Callable[[FindingContext], FindingDraw]] = {
    "Atelectasis": atelectasis,
    "Cardiomegaly": cardiomegaly,
    "Consolidation": consolidation,
    "Edema": edema,
    "Pleural Effusion": pleural_effusion,
    "Nodule": nodule,
    "Mass": mass,
    "Pneumothorax": pneumothorax,
    "Infiltration": infiltration,
}
