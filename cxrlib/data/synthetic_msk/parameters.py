"""SynthMSK parameters: everything random about an image, drawn with numpy from the seed.

Rendering is a pure function of these arrays plus the per-image noise streams (``ImageRandom``).
Patients are balanced over the body parts (``n`` images, ``images_per_patient`` per patient: the
frontal view first, then a lateral one, alternating); a patient's images share the body part, the
bone size, the abnormality and the cast, and differ in layout, projection and pose.

Abnormal patients (``abnormal_rate``) show, in every image, a fracture (two thirds: a long bone split
in two fragments with a gap, a sideways shift and an angulation) or orthopaedic hardware (a third:
a metal plate with three screws, or a single screw, across a long bone). A plaster cast around the
main long bone is drawn for ``cast_rate`` of the normal and about eight times as many of the abnormal
patients (at most 0.9).
"""

from __future__ import annotations

import math

import numpy as np

from ...rng import random_stream
from .anatomy import BASE_ZOOM, BODY_PARTS, CAST, MAX_SLOTS, METAL, SLOT_FIELDS, SOFT_TISSUE_MARGIN
from .config import MSK_CLASSES, SynthMSKConfig

__all__ = ["FINDINGS", "VISIBLE", "sample_parameters", "rows_of", "slot_arrays", "to_image"]

#: the kinds of abnormality, as stored in ``finding`` (0: none)
FINDINGS = ("none", "fracture", "hardware")
#: a fracture or a plate is placed where the pose puts it within this distance of the image centre (both axes)
VISIBLE = 0.75


def to_image(params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Frame points ``x, y`` (``(B,)`` or ``(B, M)``) → image points (complex ``u + iv``) through each
    image's pose: mirror, rotation ``rot``, ``zoom``, shift ``dx, dy``."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    extra = (slice(None),) + (None,) * (x.ndim - 1)
    flip = np.where(params["mirror"], -1.0, 1.0)[extra]
    turn = (params["zoom"] * np.exp(1j * params["rot"]))[extra]
    return turn * (flip * x + 1j * y) + (params["dx"] + 1j * params["dy"])[extra]


def slot_arrays(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The ``(N, MAX_SLOTS)`` slot fields of a parameter set, by field name."""
    return {f: params[f"slot_{f}"] for f in SLOT_FIELDS}


def sample_parameters(cfg: SynthMSKConfig) -> dict[str, np.ndarray]:
    """All random parameters of ``cfg.n`` images, each an ``(N,)`` or ``(N, MAX_SLOTS)`` array.

    ``label`` indexes ``cfg.body_parts``, ``part`` indexes ``MSK_CLASSES``; ``patient`` (index),
    ``view`` (the image's index within its patient); ``lateral``, ``abnormal``, ``cast`` bool;
    ``finding`` (index into ``FINDINGS``); ``size`` (bone size factor); pose ``zoom``, ``rot``,
    ``mirror``, ``dx``, ``dy``; ``margin`` (soft tissue, frame units), exposure ``soft``, ``bone``,
    ``bright``, ``gamma``, ``noise``; the abnormality's site, a disc
    ``lesion_x``, ``lesion_y``, ``lesion_r`` (frame units, NaN for a normal image; the pose puts its
    centre within ``VISIBLE`` of the image centre); ``slot_<field>`` for every field of
    ``anatomy.SLOT_FIELDS``.
    """
    rng = random_stream(cfg.seed, 0x35C)
    n, per = cfg.n, cfg.images_per_patient
    names = list(cfg.body_parts)
    n_patients = math.ceil(n / per)
    patient = np.arange(n) // per
    view = np.arange(n) % per
    patient_label = rng.permutation(np.arange(n_patients) % len(names))
    label = patient_label[patient]
    part = np.array([MSK_CLASSES.index(c) for c in names])[label]

    patient_abnormal = rng.random(n_patients) < cfg.abnormal_rate
    patient_finding = np.where(patient_abnormal, np.where(rng.random(n_patients) < 2 / 3, 1, 2), 0)
    cast_p = np.where(patient_abnormal, min(0.9, 8 * cfg.cast_rate), cfg.cast_rate)
    patient_cast = rng.random(n_patients) < cast_p
    patient_size = np.exp(rng.normal(0.0, 0.08, n_patients))
    abnormal, finding, cast = patient_abnormal[patient], patient_finding[patient], patient_cast[patient]
    size = patient_size[patient]
    lateral = (view % 2 == 1) if per > 1 else rng.random(n) < 0.5

    base_zoom = np.array([BASE_ZOOM[c] for c in MSK_CLASSES])[part]
    base_margin = np.array([SOFT_TISSUE_MARGIN[c] for c in MSK_CLASSES])[part]
    U = lambda lo, hi: rng.uniform(lo, hi, n)  # noqa: E731
    pose = {
        "zoom": base_zoom * np.exp(rng.normal(0.0, 0.14, n)),
        "rot": U(-0.45, 0.45) + np.pi * (rng.random(n) < 0.08),
        "mirror": rng.random(n) < 0.5,
        "dx": U(-0.12, 0.12),
        "dy": U(-0.12, 0.12),
    }
    slots = {f: np.zeros((n, MAX_SLOTS)) for f in SLOT_FIELDS}
    for k, name in enumerate(MSK_CLASSES):
        rows = np.flatnonzero(part == k)
        if len(rows):
            drawn = BODY_PARTS[name](rng, size[rows], lateral[rows]).arrays()
            for f in SLOT_FIELDS:
                slots[f][rows] = drawn[f]
    lesion = np.full((n, 3), np.nan)
    _fracture(slots, np.flatnonzero(finding == 1), pose, rng, lesion)
    _hardware(slots, np.flatnonzero(finding == 2), pose, rng, lesion)
    _cast(slots, np.flatnonzero(cast), rng)

    params = {
        "label": label.astype(np.int64),
        "part": part.astype(np.int64),
        "patient": patient.astype(np.int64),
        "view": view.astype(np.int64),
        "lateral": lateral,
        "abnormal": abnormal,
        "finding": finding.astype(np.int64),
        "cast": cast,
        "size": size,
        **pose,
        "margin": base_margin * np.exp(rng.normal(0.0, 0.2, n)),
        "soft": U(0.7, 1.2),
        "bone": U(0.8, 1.2),
        "contrast": U(0.8, 1.15),
        "bright": U(-0.04, 0.06),
        "gamma": U(0.8, 1.25),
        "noise": U(0.01, 0.04),
        "lesion_x": lesion[:, 0],
        "lesion_y": lesion[:, 1],
        "lesion_r": lesion[:, 2],
    }
    params.update({f"slot_{f}": v for f, v in slots.items()})
    return params


def rows_of(params: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    """The parameters of dataset images ``idx``, each ``(B,)`` or ``(B, MAX_SLOTS)``."""
    return {k: v[idx] for k, v in params.items()}


def _pick_long_bone(slots: dict[str, np.ndarray], rows: np.ndarray, pick: np.ndarray) -> np.ndarray:
    """For each row, the slot of one active long bone (the ``pick (R,)`` quantile among them), ``(R,)``."""
    longs = (slots["long"][rows] > 0) & (slots["active"][rows] > 0)
    count = longs.sum(1)
    if (count == 0).any():
        raise ValueError("a SynthMSK layout has no long bone")  # every layout has one; a guard for new layouts
    rank = np.minimum((pick * count).astype(int), count - 1)
    return np.argmax(np.cumsum(longs, 1) > rank[:, None], axis=1)


def _visible_site(slots, rows, pose, rng) -> tuple[np.ndarray, np.ndarray]:
    """For each row, a long bone ``j (R,)`` and a fraction ``t (R,)`` along it: drawn at random among the
    points (every long bone, ``t`` from 0.1 to 0.9) that the image's pose puts within ``VISIBLE`` of the
    image centre, or the most central of them where none is (a guard: every layout shows a long bone)."""
    t_grid = np.linspace(0.1, 0.9, 17)
    row_pose = {k: v[rows] for k, v in pose.items()}
    longs = (slots["long"][rows] > 0) & (slots["active"][rows] > 0)  # (R, M)
    if not longs.any(1).all():
        raise ValueError("a SynthMSK layout has no long bone")
    a = slots["ax"][rows] + 1j * slots["ay"][rows]
    b = slots["bx"][rows] + 1j * slots["by"][rows]
    points = a[:, :, None] + t_grid * (b - a)[:, :, None]  # (R, M, T)
    r, m, k = points.shape
    site = to_image(row_pose, points.real.reshape(r, -1), points.imag.reshape(r, -1)).reshape(r, m, k)
    reach = np.maximum(np.abs(site.real), np.abs(site.imag))
    reach = np.where(longs[:, :, None], reach, np.inf)
    score = np.where(reach <= VISIBLE, rng.random(reach.shape), -reach)  # visible first, then the most central
    best = score.reshape(r, -1).argmax(1)
    j, ti = np.unravel_index(best, (m, k))
    return j, t_grid[ti] + rng.uniform(-0.025, 0.025, r)


def _free_slot(slots: dict[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
    free = slots["active"][rows] == 0
    if not free.any(1).all():
        raise ValueError(f"a SynthMSK layout needs more than {MAX_SLOTS} slots")
    return np.argmax(free, axis=1)


def _ends(slots, rows, j) -> tuple[np.ndarray, np.ndarray]:
    a = slots["ax"][rows, j] + 1j * slots["ay"][rows, j]
    b = slots["bx"][rows, j] + 1j * slots["by"][rows, j]
    return a, b


def _set(slots, rows, j, **values) -> None:
    for f, v in values.items():
        slots[f][rows, j] = v


def _fracture(slots, rows, pose, rng, lesion) -> None:
    """Split one long bone per row in two fragments: a gap, a sideways shift and an angulation."""
    if not len(rows):
        return
    r = len(rows)
    j, fraction = _visible_site(slots, rows, pose, rng)
    a, b = _ends(slots, rows, j)
    radius = slots["radius"][rows, j]
    direction = (b - a) / np.maximum(np.abs(b - a), 1e-9)
    across = direction * 1j
    site = a + fraction * (b - a)
    gap = radius * rng.uniform(0.25, 0.7, r)
    shift = radius * rng.uniform(-0.6, 0.6, r)
    angle = rng.uniform(-0.25, 0.25, r)
    new = _free_slot(slots, rows)
    for f in SLOT_FIELDS:
        slots[f][rows, new] = slots[f][rows, j]
    start = site + gap / 2 * direction + shift * across
    end = site + (b - site) * np.exp(1j * angle) + shift * across
    _set(slots, rows, new, ax=start.real, ay=start.imag, bx=end.real, by=end.imag, flare_a=0.0)
    first_end = site - gap / 2 * direction
    _set(slots, rows, j, bx=first_end.real, by=first_end.imag, flare_b=0.0)
    lesion[rows] = np.stack([site.real, site.imag, 2.5 * radius + gap], 1)


def _hardware(slots, rows, pose, rng, lesion) -> None:
    """A metal plate with three screws along one long bone per row, or (40%) a single screw across it."""
    if not len(rows):
        return
    r = len(rows)
    j, centre = _visible_site(slots, rows, pose, rng)
    a, b = _ends(slots, rows, j)
    radius = slots["radius"][rows, j]
    direction = (b - a) / np.maximum(np.abs(b - a), 1e-9)
    across = direction * 1j
    plate = rng.random(r) >= 0.4
    length = np.minimum(0.6, 0.45 * np.abs(b - a))
    common = dict(flare_a=0.0, flare_b=0.0, cortex=0.0, density=1.0, kind=float(METAL), long=0.0)
    p0 = a + centre * (b - a) - length / 2 * direction + 0.9 * radius * across
    p1 = p0 + length * direction
    k = _free_slot(slots, rows)
    _set(slots, rows, k, ax=p0.real, ay=p0.imag, bx=p1.real, by=p1.imag, radius=0.035, active=plate * 1.0, **common)
    for t in (-0.35, 0.0, 0.35):
        p = a + centre * (b - a) + t * length * direction
        s0, s1 = p - 1.5 * radius * across, p + 1.5 * radius * across
        active = plate | (t == 0.0)
        k = _free_slot(slots, rows)
        _set(slots, rows, k, ax=s0.real, ay=s0.imag, bx=s1.real, by=s1.imag, radius=0.02, active=active * 1.0, **common)
    site = a + centre * (b - a)
    lesion[rows] = np.stack([site.real, site.imag, np.where(plate, length / 2, 0.0) + 1.6 * radius], 1)


def _cast(slots, rows, rng) -> None:
    """A plaster cast around the main long bone: a wide flat capsule of moderate density."""
    if not len(rows):
        return
    j = _pick_long_bone(slots, rows, np.zeros(len(rows)))
    a, b = _ends(slots, rows, j)
    radius = slots["radius"][rows, j]
    direction = (b - a) / np.maximum(np.abs(b - a), 1e-9)
    a, b = a - 0.2 * direction, b + 0.2 * direction
    k = _free_slot(slots, rows)
    _set(
        slots,
        rows,
        k,
        ax=a.real,
        ay=a.imag,
        bx=b.real,
        by=b.imag,
        radius=radius + rng.uniform(0.16, 0.28, len(rows)),
        flare_a=0.0,
        flare_b=0.0,
        cortex=0.0,
        density=rng.uniform(0.35, 0.6, len(rows)),
        kind=float(CAST),
        long=0.0,
        active=1.0,
    )
