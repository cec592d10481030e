"""SynthCXR: chest-radiograph-like images with ground-truth masks, boxes, shortcut markers and readers.

Everything is drawn in normalised coordinates ``u, v ∈ [-1, 1]`` (x to the right, y down), so one
seed gives the same anatomy and findings at any size from 64 to 512 pixels; only the pixel noise
depends on the size. Rendering is vectorised over a chunk of images with torch.

Anatomy: a soft-tissue body, two lungs with diaphragm domes, mediastinum, a heart that overlaps the
left lung, spine, curved posterior ribs, clavicles, branching-vessel texture radiating from the
hila, low-frequency texture, a per-image exposure (contrast, gamma, brightness), a small rotation
and Gaussian noise. Findings add attenuation in the places a radiologist would look for them and
each carries a pixel mask and one box per instance (bilateral edema / effusion: one box per side):

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

Labels are drawn per class with the given prevalence; each positive finding gets a severity in
[0.25, 1] that scales its contrast and size, so faint findings are genuinely hard. Reported labels
may then be made uncertain (-1) or flipped (label noise); the truth is kept in ``ds.info["truth"]``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .._progress import progress_enabled
from .cache import open_or_build
from .dataset import BOX_COLUMNS, CXRDataset
from .labels import apply_label_policy, resolve_policy
from .splits import DEFAULT_FRACTIONS, check_patient_leakage, split_by_patient

__all__ = [
    "SYNTH_CLASSES",
    "CHEXPERT5",
    "NIH_BOX_CLASSES",
    "DEFAULT_PREVALENCE",
    "SynthCXRConfig",
    "ShortcutSpec",
    "ReaderSpec",
    "open_synth_cxr",
    "render_synth_cxr",
]

SYNTH_CLASSES = [
    "Atelectasis",
    "Cardiomegaly",
    "Consolidation",
    "Edema",
    "Pleural Effusion",
    "Nodule",
    "Mass",
    "Pneumothorax",
    "Infiltration",
]
CHEXPERT5 = ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion"]
NIH_BOX_CLASSES = ["Atelectasis", "Cardiomegaly", "Pleural Effusion", "Infiltration", "Mass", "Nodule",
                   "Pneumothorax"]
DEFAULT_PREVALENCE = {
    "Atelectasis": 0.20,
    "Cardiomegaly": 0.15,
    "Consolidation": 0.12,
    "Edema": 0.15,
    "Pleural Effusion": 0.20,
    "Nodule": 0.12,
    "Mass": 0.10,
    "Pneumothorax": 0.10,
    "Infiltration": 0.18,
}
_BILATERAL = {"Edema", "Pleural Effusion"}
_MARKER_BOX = (0.70, -0.92, 0.90, -0.72)  # u0, v0, u1, v1 of the shortcut token (top right)


@dataclass(frozen=True)
class ShortcutSpec:
    """A corner token whose presence agrees with ``class_name``'s label with probability ``rate``.

    ``rate = 0.5`` makes the marker independent of the label; ``rate = 1`` makes it a perfect
    shortcut. The token is drawn in image space (not rotated with the patient), like a burned-in
    laterality marker.
    """

    class_name: str
    rate: float = 0.9


@dataclass(frozen=True)
class ReaderSpec:
    """K simulated readers with per-class sensitivity / specificity and box jitter.

    ``box_jitter`` is the standard deviation of each box edge, as a fraction of the box size.
    """

    n_readers: int = 3
    sensitivity: float | Mapping[str, float] = 0.8
    specificity: float | Mapping[str, float] = 0.95
    box_jitter: float = 0.1


@dataclass(frozen=True)
class SynthCXRConfig:
    """Every option of the generator; the cache key is built from it."""

    n: int = 1000
    image_size: int = 128
    seed: int = 0
    classes: tuple[str, ...] = tuple(SYNTH_CLASSES)
    prevalence: float | Mapping[str, float] | None = None
    uncertain_rate: float = 0.0
    label_noise: float = 0.0
    studies_per_patient: int = 1
    ap_fraction: float = 0.3
    shortcut: ShortcutSpec | None = None
    readers: ReaderSpec | None = None
    split_fractions: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_FRACTIONS))

    def __post_init__(self) -> None:
        _validate(self)

    def prevalence_of(self, name: str) -> float:
        if self.prevalence is None:
            return DEFAULT_PREVALENCE[name]
        if isinstance(self.prevalence, Mapping):
            return float(self.prevalence.get(name, DEFAULT_PREVALENCE[name]))
        return float(self.prevalence)


def _validate(cfg: SynthCXRConfig) -> None:
    if not isinstance(cfg.n, int) or cfg.n < 1:
        raise ValueError(f"n must be a positive integer, got {cfg.n!r}")
    if not isinstance(cfg.image_size, int) or not 64 <= cfg.image_size <= 512:
        raise ValueError(f"image_size must be an integer from 64 to 512, got {cfg.image_size!r}")
    unknown = [c for c in cfg.classes if c not in SYNTH_CLASSES]
    if unknown or not cfg.classes:
        raise ValueError(f"unknown class(es) {unknown or '(none given)'}; SynthCXR has {SYNTH_CLASSES}")
    if isinstance(cfg.prevalence, Mapping):
        bad = [c for c in cfg.prevalence if c not in cfg.classes]
        if bad:
            raise ValueError(f"prevalence given for unknown class(es) {bad}; classes are {list(cfg.classes)}")
    for c in cfg.classes:
        p = cfg.prevalence_of(c)
        if not (0.0 <= p <= 1.0) or math.isnan(p):
            raise ValueError(f"impossible prevalence {p!r} for {c!r}: must lie in [0, 1]")
    for name in ("uncertain_rate", "label_noise", "ap_fraction"):
        value = getattr(cfg, name)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    if cfg.studies_per_patient < 1:
        raise ValueError(f"studies_per_patient must be >= 1, got {cfg.studies_per_patient!r}")
    if cfg.shortcut is not None:
        if cfg.shortcut.class_name not in cfg.classes:
            raise ValueError(f"shortcut class {cfg.shortcut.class_name!r} is not one of {list(cfg.classes)}")
        if not 0.0 <= cfg.shortcut.rate <= 1.0:
            raise ValueError(f"shortcut rate must lie in [0, 1], got {cfg.shortcut.rate!r}")
    if cfg.readers is not None:
        if cfg.readers.n_readers < 1:
            raise ValueError(f"n_readers must be >= 1, got {cfg.readers.n_readers!r}")
        for name in ("sensitivity", "specificity"):
            value = getattr(cfg.readers, name)
            values = value.values() if isinstance(value, Mapping) else [value]
            if any(not 0.0 <= float(x) <= 1.0 for x in values):
                raise ValueError(f"reader {name} must lie in [0, 1], got {value!r}")


# ----------------------------------------------------------------------------------------------
# Parameters: everything random is drawn here with numpy, so rendering is a pure function of them
# ----------------------------------------------------------------------------------------------
def _sample_parameters(cfg: SynthCXRConfig) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([cfg.seed, 0x5C4])
    n, K = cfg.n, len(SYNTH_CLASSES)
    n_patients = math.ceil(n / cfg.studies_per_patient)
    patient = np.repeat(np.arange(n_patients), cfg.studies_per_patient)[:n]
    per_patient = {
        "cx": rng.normal(0.0, 0.03, n_patients),
        "cy": rng.normal(0.02, 0.03, n_patients),
        "sw": rng.uniform(0.88, 1.06, n_patients),
        "sh": rng.uniform(0.88, 1.06, n_patients),
        "heart": rng.uniform(0.88, 1.04, n_patients),
        "body": rng.uniform(0.85, 1.0, n_patients),
    }
    p = {k: v[patient] for k, v in per_patient.items()}
    p["patient"] = patient
    p["dx"] = rng.normal(0, 0.025, n)
    p["dy"] = rng.normal(0, 0.025, n)
    p["rot"] = rng.normal(0, math.radians(3.0), n)
    p["contrast"] = rng.uniform(0.8, 1.15, n)
    p["gamma"] = rng.uniform(0.8, 1.25, n)
    p["bright"] = rng.normal(0.0, 0.04, n)
    p["noise"] = rng.uniform(0.01, 0.035, n)
    p["rib_spacing"] = rng.uniform(0.13, 0.16, n)
    p["rib_phase"] = rng.uniform(0, 1, n)
    p["ap"] = rng.random(n) < cfg.ap_fraction
    active = np.array([c in cfg.classes for c in SYNTH_CLASSES])
    prev = np.array([cfg.prevalence_of(c) if c in cfg.classes else 0.0 for c in SYNTH_CLASSES])
    p["truth"] = (rng.random((n, K)) < prev) & active
    p["severity"] = np.where(p["truth"], rng.uniform(0.25, 1.0, (n, K)), 0.0)
    p["side"] = rng.integers(0, 3, (n, K))  # 0 right lung (image left), 1 left lung, 2 both (bilateral)
    p["pos_a"] = rng.uniform(-1, 1, (n, K))
    p["pos_b"] = rng.uniform(-1, 1, (n, K))
    p["size"] = rng.uniform(0, 1, (n, K))
    p["angle"] = rng.uniform(-0.5, 0.5, (n, K))
    p["normal_heart"] = rng.uniform(0.0, 0.12, n)  # normal variation of heart size
    if cfg.shortcut is not None:
        k = SYNTH_CLASSES.index(cfg.shortcut.class_name)
        agree = rng.random(n) < cfg.shortcut.rate
        p["marker"] = np.where(agree, p["truth"][:, k], ~p["truth"][:, k])
    else:
        p["marker"] = np.zeros(n, bool)
    return p


# ----------------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------------
def _col(x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float32))[:, None, None]


def _soft(d: torch.Tensor, width: float) -> torch.Tensor:
    """Soft indicator of ``d < 1`` for a normalised distance ``d``; ``width`` in distance units."""
    return torch.sigmoid((1.0 - d) / width)


def _ellipse_distance(u, v, cx, cy, rx, ry, angle=None) -> torch.Tensor:
    du, dv = u - cx, v - cy
    if angle is not None:
        c, s = torch.cos(angle), torch.sin(angle)
        du, dv = c * du + s * dv, -s * du + c * dv
    return torch.sqrt((du / rx) ** 2 + (dv / ry) ** 2 + 1e-12)


def _smooth_noise(b: int, size: int, cells: int, gen: torch.Generator) -> torch.Tensor:
    """Band-limited noise of unit std, ``cells`` features across the image, ``(b, size, size)``."""
    coarse = torch.randn(b, 1, cells + 3, cells + 3, generator=gen)
    fine = F.interpolate(coarse, size=(size + size * 3 // cells, ) * 2, mode="bicubic", align_corners=False)
    off = (size * 3 // cells) // 2
    out = fine[:, 0, off:off + size, off:off + size]
    return out / out.std(dim=(1, 2), keepdim=True).clamp_min(1e-6)


def _polar_texture(u, v, hx, hy, gen: torch.Generator) -> torch.Tensor:
    """Vessel-like streaks radiating from a hilum at ``(hx, hy)``: thin in angle, long in radius."""
    b = u.shape[0]
    r = torch.sqrt((u - hx) ** 2 + (v - hy) ** 2)
    theta = torch.atan2(v - hy, u - hx) / math.pi  # [-1, 1]
    noise = torch.randn(b, 1, 6, 160, generator=gen)
    grid = torch.stack([theta, (r / 0.9).clamp(0, 1) * 2 - 1], dim=-1)
    streaks = F.grid_sample(noise, grid, mode="bilinear", padding_mode="border", align_corners=True)[:, 0]
    return streaks.clamp_min(0) * torch.exp(-r / 0.45)


def _box_of(mask: torch.Tensor) -> np.ndarray:
    """``(B, S, S)`` bool → ``(B, 4)`` float ``x, y, w, h`` in pixels (NaN where empty)."""
    b, s, _ = mask.shape
    rows, cols = mask.any(2), mask.any(1)
    has = rows.any(1)
    y0 = rows.float().argmax(1)
    y1 = s - 1 - rows.flip(1).float().argmax(1)
    x0 = cols.float().argmax(1)
    x1 = s - 1 - cols.flip(1).float().argmax(1)
    out = torch.stack([x0, y0, x1 - x0 + 1, y1 - y0 + 1], 1).float().numpy()
    out[~has.numpy()] = np.nan
    return out


def render_synth_cxr(params: dict[str, np.ndarray], idx: np.ndarray, size: int, seed: int):
    """Render images ``idx`` of a parameter set at ``size`` pixels.

    Returns ``images (B, S, S)`` float in [0, 1], ``masks (B, K_all, S, S)`` bool,
    ``marker (B, S, S)`` bool and ``boxes`` (list of ``(row_in_chunk, class, x, y, w, h)``).
    A drawn finding whose mask ends up empty (hidden behind the heart or below the diaphragm) has
    no box; the caller turns its label negative (``masks.any((2, 3))`` is what is visible).
    """
    gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(idx[0]))
    P = {k: v[idx] for k, v in params.items()}
    b = len(idx)
    t = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1
    V0, U0 = torch.meshgrid(t, t, indexing="ij")
    U0, V0 = U0[None], V0[None]
    # patient pose: rotation + shift (anatomy coordinates u, v)
    rot, dx, dy = _col(P["rot"]), _col(P["dx"]), _col(P["dy"])
    u = torch.cos(rot) * (U0 - dx) + torch.sin(rot) * (V0 - dy)
    v = -torch.sin(rot) * (U0 - dx) + torch.cos(rot) * (V0 - dy)
    px = 2.0 / size  # one pixel in normalised units
    edge = max(0.012, 1.2 * px)
    cx, cy, sw, sh = _col(P["cx"]), _col(P["cy"]), _col(P["sw"]), _col(P["sh"])
    sev = torch.as_tensor(P["severity"], dtype=torch.float32)[:, :, None, None]
    truth = torch.as_tensor(P["truth"])
    K = len(SYNTH_CLASSES)
    ci = {c: i for i, c in enumerate(SYNTH_CLASSES)}

    body = _soft(_ellipse_distance(u, v, cx, cy + 0.3, 0.97 * sw * _col(P["body"]), 1.3), 0.05)
    # lungs: ellipses cut by a diaphragm dome that dips towards the costophrenic angles
    lungs_c = [(cx - 0.36 * sw, cy - 0.08, 0.27 * sw, 0.58 * sh), (cx + 0.35 * sw, cy - 0.06, 0.25 * sw, 0.55 * sh)]
    lung_soft, lung_hard = [], []
    for lcx, lcy, rx, ry in lungs_c:
        d = _ellipse_distance(u, v, lcx, lcy, rx, ry)
        dome = lcy + ry * (0.55 + 0.45 * ((u - lcx) / rx) ** 2)
        lung_soft.append(_soft(d, edge) * torch.sigmoid((dome - v) / (edge * 0.5)))
        lung_hard.append((d < 1) & (v < dome))
    # heart: enlarged by Cardiomegaly severity, AP views magnify it a little
    cm = sev[:, ci["Cardiomegaly"]] + _col(P["normal_heart"])
    mag = 1.0 + 0.08 * _col(P["ap"].astype(np.float32))
    hrx = 0.27 * sw * _col(P["heart"]) * (1 + 0.6 * cm) * mag
    hry = 0.215 * _col(P["heart"]) * (1 + 0.25 * cm) * mag
    hcx, hcy = cx + 0.07 * sw + 0.3 * (hrx - 0.27 * sw), cy + 0.17
    hd = _ellipse_distance(u, v, hcx, hcy, hrx, hry, torch.full_like(hcx, -0.35))
    heart = _soft(hd, edge)
    lung_soft = [ls * (1 - heart) for ls in lung_soft]
    lung_hard = [lh & (hd >= 1) for lh in lung_hard]
    lungs = lung_soft[0] + lung_soft[1]
    lungs_hard = lung_hard[0] | lung_hard[1]
    mediastinum = _soft(torch.abs(u - cx) / 0.11, 0.08) * torch.sigmoid((v - (cy - 0.85)) / 0.05) * body
    spine = _soft(torch.abs(u - cx) / 0.065, 0.05) * body * (0.85 + 0.15 * torch.cos(v * 24 + cy))
    thorax = _soft(_ellipse_distance(u, v, cx, cy - 0.05, 0.78 * sw, 0.72 * sh), 0.04)
    rib_phase = (v - 0.45 * (u - cx) ** 2) / _col(P["rib_spacing"]) + _col(P["rib_phase"])
    ribs = torch.exp(-(((rib_phase % 1.0) - 0.5) / 0.13) ** 2) * thorax * (torch.abs(u - cx) > 0.07)
    clav = 0.0
    for sgn in (-1.0, 1.0):
        t_c = ((u - cx) * sgn).clamp(0.04, 0.55)
        line_v = cy - 0.66 - 0.12 * t_c
        on = ((u - cx) * sgn > 0.04) & ((u - cx) * sgn < 0.55)
        clav = clav + torch.exp(-((v - line_v) / 0.025) ** 2) * on
    vessels = sum(_polar_texture(u, v, lcx + 0.55 * rx * (1 if i == 0 else -1), lcy + 0.05, gen)
                  for i, (lcx, lcy, rx, _) in enumerate(lungs_c))
    texture = _smooth_noise(b, size, 10, gen)

    atten = (0.04 + 0.42 * body - 0.27 * lungs + 0.12 * mediastinum + 0.035 * heart * body
             + 0.07 * spine + 0.045 * ribs + 0.08 * clav + 0.02 * texture * body)
    masks = torch.zeros(b, K, size, size, dtype=torch.bool)
    boxes: list[tuple[int, str, float, float, float, float]] = []

    def chosen_lung(side: torch.Tensor):
        """Centre and radii ``(cx, cy, rx, ry)`` of the right (side 0) or left (side 1) lung, per image."""
        return tuple(torch.where(side == 0, right, left) for right, left in zip(lungs_c[0], lungs_c[1]))

    def lung_point(k: int, side: torch.Tensor, spread: float, low: float = 0.0):
        """A point inside the chosen lung (``low`` > 0 biases it towards the base)."""
        radius = np.sqrt((P["pos_a"][:, k] + 1) / 2)  # uniform over the unit disc
        a = _col(radius * np.cos(np.pi * P["pos_b"][:, k])) * spread
        bb = (_col(radius * np.sin(np.pi * P["pos_b"][:, k])) * (1 - low) + low) * spread
        lcx, lcy, rx, ry = chosen_lung(side)
        return lcx + a * rx, lcy + bb * ry * 0.75, rx, ry

    def add_instance(k: int, region: torch.Tensor, present: torch.Tensor) -> None:
        hard = region & present[:, None, None]
        masks[:, k] |= hard
        for row, box in enumerate(_box_of(hard)):
            if not np.isnan(box[0]):
                boxes.append((row, SYNTH_CLASSES[k], *map(float, box)))

    side_one = torch.as_tensor(np.minimum(P["side"], 1), dtype=torch.float32)[:, :, None, None]
    sizes = torch.as_tensor(P["size"], dtype=torch.float32)[:, :, None, None]
    angles = torch.as_tensor(P["angle"], dtype=torch.float32)[:, :, None, None]

    # Atelectasis: plate-like band in a lower zone
    k = ci["Atelectasis"]
    pu, pv, rx, ry = lung_point(k, side_one[:, k], 0.5, low=0.6)
    d = _ellipse_distance(u, v, pu, pv, 0.16 + 0.08 * sizes[:, k], 0.035 + 0.015 * sizes[:, k], angles[:, k] * 0.6)
    region = _soft(d, 0.25)
    atten = atten + 0.16 * sev[:, k] * region * lungs
    add_instance(k, (d < 1) & lungs_hard, truth[:, k])
    # Cardiomegaly: the enlarged heart itself
    k = ci["Cardiomegaly"]
    add_instance(k, hd < 1, truth[:, k])
    # Consolidation: dense irregular blob
    k = ci["Consolidation"]
    pu, pv, rx, ry = lung_point(k, side_one[:, k], 0.55)
    d = _ellipse_distance(u, v, pu, pv, 0.12 + 0.07 * sizes[:, k], 0.14 + 0.06 * sizes[:, k], angles[:, k])
    blob = d * (1 + 0.25 * _smooth_noise(b, size, 12, gen))
    atten = atten + 0.24 * sev[:, k] * _soft(blob, 0.15) * lungs
    add_instance(k, (blob < 1) & lungs_hard, truth[:, k])
    # Edema: bilateral perihilar haze, one instance per side
    k = ci["Edema"]
    reticular = 1 + 0.35 * _smooth_noise(b, size, 40, gen)
    for i, (lcx, lcy, lrx, lry) in enumerate(lungs_c):
        hx = lcx + 0.45 * lrx * (1 if i == 0 else -1)
        d = _ellipse_distance(u, v, hx, lcy + 0.05, 0.55 * lrx * (1 + 0.3 * sizes[:, k]), 0.45 * lry)
        haze = torch.exp(-(d ** 2)) * lung_soft[i]
        atten = atten + 0.15 * sev[:, k] * haze * reticular
        add_instance(k, (d < 1) & lung_hard[i], truth[:, k])
    # Pleural Effusion: basal opacity with a meniscus, on one or both sides
    k = ci["Pleural Effusion"]
    for i, (lcx, lcy, lrx, lry) in enumerate(lungs_c):
        on_side = torch.as_tensor((P["side"][:, k] == i) | (P["side"][:, k] == 2)) & truth[:, k]
        level = lcy + lry * (0.9 - 0.55 * sev[:, k])  # higher fluid level with severity
        meniscus = level - 0.18 * lry * ((u - lcx) / lrx * (1 if i == 1 else -1)).clamp(min=0) ** 2 * 4
        fluid = torch.sigmoid((v - meniscus) / edge) * _soft(_ellipse_distance(u, v, lcx, lcy, lrx * 1.05, lry * 1.08), edge)
        atten = atten + 0.26 * fluid * on_side[:, None, None] * lung_soft[i]
        add_instance(k, (v > meniscus) & lung_hard[i] , on_side)
    # Nodule: small round opacity
    k = ci["Nodule"]
    pu, pv, rx, ry = lung_point(k, side_one[:, k], 0.6)
    r = 0.05 + 0.04 * sizes[:, k]
    d = _ellipse_distance(u, v, pu, pv, r, r)
    atten = atten + 0.16 * sev[:, k] * _soft(d, 0.2) * lungs
    add_instance(k, (d < 1) & lungs_hard, truth[:, k])
    # Mass: large lobulated opacity
    k = ci["Mass"]
    pu, pv, rx, ry = lung_point(k, side_one[:, k], 0.45)
    r = 0.11 + 0.08 * sizes[:, k]
    d = _ellipse_distance(u, v, pu, pv, r, r * 0.9, angles[:, k]) * (1 + 0.12 * _smooth_noise(b, size, 8, gen))
    atten = atten + 0.22 * sev[:, k] * _soft(d, 0.1) * lungs
    add_instance(k, (d < 1) & lungs_hard, truth[:, k])
    # Pneumothorax: the lung collapses away from the lateral/apical wall; no vessels in the rim
    k = ci["Pneumothorax"]
    collapse = 0.10 + 0.25 * sev[:, k]
    side = side_one[:, k]
    lcx, lcy, lrx, lry = chosen_lung(side)
    medial = torch.where(side == 0, 1.0, -1.0)
    d_in = _ellipse_distance(u, v, lcx + medial * collapse * lrx, lcy + collapse * lry * 0.6,
                             lrx * (1 - collapse), lry * (1 - collapse * 0.6))
    this_lung = torch.where(side == 0, lung_soft[0], lung_soft[1])
    this_hard = torch.where(side == 0, lung_hard[0], lung_hard[1])
    present = truth[:, k][:, None, None].float()
    rim = this_lung * torch.sigmoid((d_in - 1) / 0.03) * present
    pleural_line = torch.exp(-((d_in - 1) / 0.02) ** 2) * this_lung * present
    vessels = vessels * (1 - rim)
    atten = atten - 0.05 * rim + 0.07 * pleural_line
    add_instance(k, (d_in >= 1) & this_hard, truth[:, k])
    # Infiltration: patchy reticular opacity in a region
    k = ci["Infiltration"]
    pu, pv, rx, ry = lung_point(k, side_one[:, k], 0.5)
    d = _ellipse_distance(u, v, pu, pv, 0.15 + 0.08 * sizes[:, k], 0.18 + 0.08 * sizes[:, k])
    patches = (_smooth_noise(b, size, 24, gen) + 0.3).clamp_min(0)
    region = _soft(d, 0.15) * lungs
    atten = atten + 0.14 * sev[:, k] * region * patches
    add_instance(k, (d < 1) & lungs_hard & (patches > 0.2), truth[:, k])

    atten = atten + 0.06 * vessels * lungs
    # exposure: contrast, gamma, brightness, pixel noise
    img = (atten / 0.72).clamp(0, 1) ** _col(P["gamma"]) * _col(P["contrast"]) + _col(P["bright"])
    img = img + _col(P["noise"]) * torch.randn(b, size, size, generator=gen)
    # shortcut marker: a bright token with a dark bar, in image space
    mu0, mv0, mu1, mv1 = _MARKER_BOX
    token = (U0 > mu0) & (U0 < mu1) & (V0 > mv0) & (V0 < mv1)
    bar = (U0 > mu0 + 0.05) & (U0 < mu0 + 0.09) & (V0 > mv0 + 0.04) & (V0 < mv1 - 0.04)
    marker = token & torch.as_tensor(P["marker"])[:, None, None]
    img = torch.where(marker, torch.where(bar, 0.15, 0.95), img)
    return img.clamp(0, 1), masks, marker, boxes


# ----------------------------------------------------------------------------------------------
# The dataset
# ----------------------------------------------------------------------------------------------
def _reader_tables(cfg: SynthCXRConfig, truth: np.ndarray, boxes: pd.DataFrame, keys: list[str]):
    """Simulated readers: labels ``(image, reader, class, label)`` and jittered boxes."""
    spec = cfg.readers
    rng = np.random.default_rng([cfg.seed, 0xBEAD])
    label_rows, box_rows = [], []
    size = cfg.image_size
    truth_boxes = {key: g[["x", "y", "w", "h"]].to_numpy() for key, g in boxes.groupby(["image", "class"])}
    for r in range(spec.n_readers):
        reader = f"reader_{r}"
        for k, c in enumerate(cfg.classes):
            kk = SYNTH_CLASSES.index(c)
            sens = spec.sensitivity.get(c, 0.8) if isinstance(spec.sensitivity, Mapping) else spec.sensitivity
            spec_ = spec.specificity.get(c, 0.95) if isinstance(spec.specificity, Mapping) else spec.specificity
            draw = rng.random(len(keys))
            says = np.where(truth[:, kk], draw < sens, draw > spec_)
            for i in np.flatnonzero(says):
                label_rows.append((keys[i], reader, c))
                if truth[i, kk]:
                    for bx, by, bw, bh in truth_boxes.get((keys[i], c), ()):
                        j = rng.normal(0, spec.box_jitter, 4)
                        x0 = bx + j[0] * bw
                        y0 = by + j[1] * bh
                        x1 = bx + bw + j[2] * bw
                        y1 = by + bh + j[3] * bh
                        x0, x1 = np.clip(sorted([x0, x1]), 0, size)
                        y0, y1 = np.clip(sorted([y0, y1]), 0, size)
                        box_rows.append((keys[i], c, x0, y0, max(x1 - x0, 1.0), max(y1 - y0, 1.0), reader))
                else:  # false positive: a box somewhere in the chest
                    w, h = rng.uniform(0.08, 0.3, 2) * size
                    x0, y0 = rng.uniform(0.15, 0.85 - w / size) * size, rng.uniform(0.15, 0.8 - h / size) * size
                    box_rows.append((keys[i], c, x0, y0, w, h, reader))
    labels = pd.DataFrame(0.0, index=pd.MultiIndex.from_product([keys, [f"reader_{r}" for r in range(spec.n_readers)]],
                                                                names=["image", "reader"]), columns=list(cfg.classes))
    for key, reader, c in label_rows:
        labels.loc[(key, reader), c] = 1.0
    return labels.reset_index(), pd.DataFrame(box_rows, columns=BOX_COLUMNS)


def _build_cache(cfg: SynthCXRConfig, params: dict[str, np.ndarray], progress: bool):
    n, size = cfg.n, cfg.image_size
    chunk = 64 if size <= 256 else 16
    K = len(SYNTH_CLASSES)

    def build(tmp: Path) -> dict:
        images = np.lib.format.open_memmap(tmp / "images.npy", "w+", np.uint8, (n, size, size))
        masks = np.lib.format.open_memmap(tmp / "masks.npy", "w+", np.uint8, (n, K, size, (size + 7) // 8))
        markers = np.lib.format.open_memmap(tmp / "markers.npy", "w+", np.uint8, (n, size, (size + 7) // 8))
        visible = np.lib.format.open_memmap(tmp / "visible.npy", "w+", np.bool_, (n, K))
        box_rows = []
        starts = range(0, n, chunk)
        for start in tqdm(starts, desc=f"SynthCXR {n}×{size}px", disable=not progress, unit="chunk"):
            idx = np.arange(start, min(start + chunk, n))
            img, msk, mark, boxes = render_synth_cxr(params, idx, size, cfg.seed)
            images[idx] = (img.numpy() * 255 + 0.5).astype(np.uint8)
            masks[idx] = np.packbits(msk.numpy(), axis=-1)
            markers[idx] = np.packbits(mark.numpy(), axis=-1)
            visible[idx] = msk.any(3).any(2).numpy()
            box_rows += [(int(idx[r]), *rest) for r, *rest in boxes]
        images.flush(), masks.flush(), markers.flush(), visible.flush()
        pd.DataFrame(box_rows, columns=["row", "class", "x", "y", "w", "h"]).to_csv(tmp / "boxes.csv", index=False)
        return {"n": n, "image_size": size}

    spec = {"generator": "synth-cxr/3", **asdict(cfg)}
    spec.pop("split_fractions")  # splits do not change pixels
    return open_or_build("synth-cxr", spec, build)


def open_synth_cxr(
    n: int = 1000,
    image_size: int = 128,
    seed: int = 0,
    classes: list[str] | tuple[str, ...] | str = tuple(SYNTH_CLASSES),
    prevalence: float | Mapping[str, float] | None = None,
    uncertain_rate: float = 0.0,
    label_noise: float = 0.0,
    label_policy: str | Mapping[str, str] = "ignore",
    studies_per_patient: int = 1,
    ap_fraction: float = 0.3,
    shortcut: ShortcutSpec | Mapping | None = None,
    readers: ReaderSpec | Mapping | None = None,
    split_fractions: Mapping[str, float] = DEFAULT_FRACTIONS,
    split_seed: int | None = None,
    progress: bool = True,
    cache_dir: str | Path | None = None,
) -> CXRDataset:
    """Open (generating once, then from the cache) a SynthCXR dataset.

    ``classes`` may be a list of names or the preset ``"chexpert5"`` / ``"nih-boxes"``. Extra
    items: ``ds[i]["masks"]`` ``(K, H, W)`` bool and ``ds[i]["marker_mask"]`` ``(H, W)`` bool.
    ``ds.info`` holds ``truth`` (true labels), ``raw_labels`` (1 / 0 / -1 as reported),
    ``severity``, and, with readers, ``reader_labels``.
    """
    if isinstance(classes, str):
        presets = {"chexpert5": CHEXPERT5, "nih-boxes": NIH_BOX_CLASSES, "all": SYNTH_CLASSES}
        if classes not in presets:
            raise ValueError(f"unknown class preset {classes!r}; use a list or one of {sorted(presets)}")
        classes = presets[classes]
    if isinstance(shortcut, Mapping):
        shortcut = ShortcutSpec(**shortcut)
    if isinstance(readers, Mapping):
        readers = ReaderSpec(**readers)
    cfg = SynthCXRConfig(
        n=n, image_size=image_size, seed=seed, classes=tuple(classes), prevalence=prevalence,
        uncertain_rate=uncertain_rate, label_noise=label_noise, studies_per_patient=studies_per_patient,
        ap_fraction=ap_fraction, shortcut=shortcut, readers=readers, split_fractions=dict(split_fractions),
    )
    resolve_policy(label_policy, list(cfg.classes))  # fail before generating anything
    params = _sample_parameters(cfg)
    entry = _build_cache(cfg, params, progress_enabled(progress))
    keys = [f"synth_{i:06d}.png" for i in range(n)]
    cls = list(cfg.classes)
    kk = [SYNTH_CLASSES.index(c) for c in cls]
    invisible = params["truth"] & ~entry.array("visible")
    truth = params["truth"] & ~invisible  # a finding that could not be drawn is not there
    # reported labels: label noise flips, then some become uncertain (-1)
    rng = np.random.default_rng([seed, 0x1AB])
    flip = rng.random(truth.shape) < label_noise
    reported = np.where(flip, ~truth, truth).astype(float)
    uncertain = rng.random(truth.shape) < uncertain_rate
    reported[uncertain] = -1.0
    index = pd.Index(keys, name="image")
    raw = pd.DataFrame(reported[:, kk], columns=cls, index=index)
    table = pd.DataFrame({
        "image": keys,
        "patient_id": [f"synth_p{p:05d}" for p in params["patient"]],
        "study_id": [f"synth_s{i:06d}" for i in range(n)],
        "view": np.where(params["ap"], "AP", "PA"),
    })
    table["split"] = split_by_patient(table, split_fractions, seed if split_seed is None else split_seed).to_numpy()
    check_patient_leakage(table)
    labels = apply_label_policy(raw.reset_index(drop=True), cls, label_policy, source="synth-cxr")
    table = pd.concat([table, labels], axis=1)
    table["shortcut_marker"] = params["marker"]
    table["original_height"] = image_size
    table["original_width"] = image_size
    raw_boxes = pd.read_csv(entry.file("boxes.csv"))
    raw_boxes = raw_boxes[raw_boxes["class"].isin(cls)]
    boxes = pd.DataFrame({"image": [keys[r] for r in raw_boxes["row"]], "class": raw_boxes["class"].to_numpy(),
                          "x": raw_boxes["x"].to_numpy(), "y": raw_boxes["y"].to_numpy(),
                          "w": raw_boxes["w"].to_numpy(), "h": raw_boxes["h"].to_numpy(), "reader": "truth"})
    info = {
        "config": cfg,
        "truth": pd.DataFrame(truth[:, kk].astype(float), columns=cls, index=index),
        "raw_labels": raw,
        "severity": pd.DataFrame((params["severity"] * truth)[:, kk], columns=cls, index=index),
        "cache": str(entry.path),
        "hidden_findings": int(invisible[:, kk].sum()),
    }
    if readers is not None:
        info["reader_labels"], reader_boxes = _reader_tables(cfg, truth, boxes, keys)
        boxes = pd.concat([boxes, reader_boxes], ignore_index=True)
    images = entry.array("images")
    packed_masks, packed_markers = entry.array("masks"), entry.array("markers")

    def masks(row: int) -> np.ndarray:
        return np.unpackbits(packed_masks[row, kk], axis=-1, count=image_size).astype(bool)

    def marker(row: int) -> np.ndarray:
        return np.unpackbits(packed_markers[row], axis=-1, count=image_size).astype(bool)

    return CXRDataset("synth-cxr", cls, table, boxes, images, masks=masks,
                      extras={"marker_mask": marker}, info=info)
