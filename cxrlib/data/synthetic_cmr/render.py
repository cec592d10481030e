"""Render SynthCMR short-axis slices: chest, lungs, liver, aorta, pericardial fat, the right ventricle
(a crescent on the image left), the left ventricle (blood pool inside a myocardial ring), textures,
Rician noise, exposure and the male marker.

Coordinates are normalised, ``u, v ∈ [-1, 1]`` (``u`` to the right, ``v`` down). The heart is drawn
in its own frame: rotated by ``rot``, shifted by ``(dx, dy)`` and scaled by ``heart_scale``, with the
LV centre at ``(LV_X, 0)`` and the RV to its left. Each image's random fields come from generators of
its own (``ImageRandom``: dataset seed and image index), so an image does not depend on the batch it
is rendered in, and only its pixel noise depends on the size. Rendering is vectorised over a batch.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..synthetic.noise import ImageRandom
from ..synthetic.shapes import column, ellipse_distance
from .config import MARKER_BOX
from .parameters import rows_of

__all__ = ["LV_X", "render_synth_cmr"]

LV_X = 0.12  #: LV centre, heart units right of the heart's origin
_AIR, _TISSUE, _LUNG, _LIVER = 0.0, 0.32, 0.05, 0.45
_MARKER_VALUE = 0.95


def _over(base: torch.Tensor, value: torch.Tensor | float, alpha: torch.Tensor) -> torch.Tensor:
    """Paint ``value`` over ``base`` with opacity ``alpha`` (all ``(B, S, S)`` or broadcastable)."""
    return base * (1 - alpha) + value * alpha


def _inside(distance: torch.Tensor, edge: torch.Tensor | float) -> torch.Tensor:
    """Soft indicator of ``distance < 0`` for a signed distance in the units of ``edge``."""
    return torch.sigmoid(-distance / edge)


def render_synth_cmr(
    params: dict[str, np.ndarray], idx: np.ndarray, size: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Render dataset images ``idx`` at ``size`` pixels.

    Returns ``images (B, S, S)`` float in [0, 1], ``heart (B, S, S)`` bool (LV cavity, LV myocardium,
    RV cavity and RV wall) and ``marker (B, S, S)`` bool (the male marker where drawn, else empty).
    """
    idx = np.asarray(idx, dtype=np.int64).reshape(-1)
    P = rows_of(params, idx)
    random = ImageRandom(seed, idx)
    b = len(idx)
    t = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1
    v_img, u_img = torch.meshgrid(t, t, indexing="ij")
    u, v = u_img.expand(b, size, size), v_img.expand(b, size, size)
    edge = 0.6 * 2.0 / size  # soft edges of about a pixel, normalised image units

    # -- chest: body with a subcutaneous fat rim, lungs, liver, descending aorta ----------------
    bs = column(P["body_scale"])
    bu, bv = (u - 0.5 * column(P["dx"])) / bs, (v - 0.05 - 0.5 * column(P["dy"])) / bs
    body_d = ellipse_distance(bu, bv, 0.0, 0.0, 0.9, 0.7)
    tissue_texture = random.smooth_field("tissue", 8, u, v)
    img = torch.full((b, size, size), _AIR)
    img = _over(img, _TISSUE * (1 + 0.12 * tissue_texture), _inside(body_d - 1, edge / 0.7))
    img = _over(img, column(P["fat"]), _inside(body_d - 1, edge / 0.7) * _inside(0.9 - body_d, edge / 0.7))
    for cx, rx in ((-0.6, 0.22), (0.62, 0.2)):
        img = _over(img, _LUNG, _inside(ellipse_distance(bu, bv, cx, -0.1, rx, 0.36) - 1, edge / 0.2))
    img = _over(img, _LIVER, _inside(ellipse_distance(bu, bv, -0.3, 0.48, 0.38, 0.2) - 1, edge / 0.2))
    img = _over(img, 0.7 * column(P["blood"]), _inside(ellipse_distance(bu, bv, 0.14, 0.46, 0.065, 0.065) - 1, 0.3))

    # -- heart frame ---------------------------------------------------------------------------
    hs, rot = column(P["heart_scale"]), column(P["rot"])
    du, dv = u - column(P["dx"]), v - column(P["dy"])
    hu = (torch.cos(rot) * du + torch.sin(rot) * dv) / hs
    hv = (-torch.sin(rot) * du + torch.cos(rot) * dv) / hs
    e = edge / hs  # the soft edge in heart units
    rho = torch.sqrt((hu - LV_X) ** 2 + hv**2 + 1e-12)
    phi = torch.atan2(hv, hu - LV_X)  # 0 towards the image right, ±pi towards the septum / RV
    cavity_r = column(P["lv_cavity"]) * (1 + column(P["lv_ecc"]) * torch.cos(2 * phi))
    septum = torch.cos(phi).clamp(max=0) ** 2  # 1 at the septum, 0 on the lateral half
    outer_r = cavity_r + column(P["lv_wall"]) * (1 + column(P["septal_bulge"]) * septum)
    outer_mean = column(P["lv_cavity"] + P["lv_wall"])

    # right ventricle: an ellipse left of the LV, wrapped around it; its part inside the LV is cut away
    rvs = column(P["rv_scale"])
    rv_cx, rv_cy = LV_X - 0.95 * outer_mean, torch.zeros_like(outer_mean) - 0.02
    rv_rx, rv_ry = 0.2 * rvs, (0.05 + 0.95 * outer_mean) * rvs**0.7
    rv_d = ellipse_distance(hu, hv, rv_cx, rv_cy, rv_rx, rv_ry)
    psi = torch.atan2((hv - rv_cy) / rv_ry, (hu - rv_cx) / rv_rx)
    a, k, ph = column(P["rv_wobble"]), column(P["rv_freq"]), column(P["rv_phase"])
    rv_d = rv_d / (1 + a * torch.sin(k * psi + ph) + 0.5 * a * torch.sin((k + 2) * psi + 2 * ph))
    rv_r = torch.minimum(rv_rx, rv_ry)
    rv_wall = 0.03 / rv_r  # RV free wall, in units of the RV's normalised distance

    # -- heart: pericardial fat, RV, LV myocardium with texture, LV blood pool, papillary muscles ---
    lv_out = _inside(rho - outer_r, e)
    rv_out = _inside(rv_d - 1 - rv_wall, e / rv_r) * (1 - lv_out)
    fat_patches = (0.6 + 0.5 * random.smooth_field("pericardial-fat", 10, hu, hv)).clamp(0, 1)
    pericard = torch.maximum(_inside(rho - outer_r - 0.04, e), _inside(rv_d - 1 - rv_wall - 0.04 / rv_r, e / rv_r))
    img = _over(img, column(P["fat"]) * 0.85, pericard * fat_patches)
    flow = 1 + 0.05 * random.smooth_field("flow", 4, hu, hv)
    img = _over(img, column(P["myo"]), rv_out)
    img = _over(img, column(P["blood"]) * flow, _inside(rv_d - 1, e / rv_r) * (1 - lv_out))
    myo_texture = 1 + 0.12 * random.smooth_field("myocardium", 14, hu, hv)
    fibrosis = column(P["fibrosis"]) * (random.smooth_field("fibrosis", 10, hu, hv) - 0.3).clamp(min=0)
    img = _over(img, column(P["myo"]) * myo_texture + fibrosis, lv_out)
    img = _over(img, column(P["blood"]) * flow, _inside(rho - cavity_r, e))
    pap_r = 0.022 * (column(P["lv_cavity"]) / 0.17).sqrt()
    for angle in (0.8, 2.3):  # anterolateral and posteromedial papillary muscles (v points down)
        pu = LV_X + 0.55 * column(P["lv_cavity"]) * math.cos(angle)
        pv = 0.55 * column(P["lv_cavity"]) * math.sin(angle)
        pap = _inside(torch.sqrt((hu - pu) ** 2 + (hv - pv) ** 2) - pap_r, e)
        img = _over(img, column(P["myo"]), pap)
    heart = (rho < outer_r) | (rv_d < 1 + rv_wall)

    # -- Rician noise, exposure, marker ---------------------------------------------------------
    noise = random.normal("rician", (2, size, size)) * column(P["noise"])[:, None]
    img = torch.sqrt((img + noise[:, 0]) ** 2 + noise[:, 1] ** 2)
    img = column(P["bright"]) + column(P["contrast"]) * img.clamp(0, 1.5) ** column(P["gamma"])
    mu0, mv0, mu1, mv1 = MARKER_BOX
    square = (u_img > mu0) & (u_img < mu1) & (v_img > mv0) & (v_img < mv1)
    marker = square[None] & torch.as_tensor(P["marker"], dtype=torch.bool)[:, None, None]
    img = torch.where(marker, _MARKER_VALUE, img)
    return img.clamp(0, 1), heart, marker
