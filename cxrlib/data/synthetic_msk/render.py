"""Render SynthMSK radiographs: bones as tubes with a cortical rim, flat bones, metal, casts, a soft-tissue
envelope, exposure and noise.

Coordinates are normalised, ``u, v ∈ [-1, 1]`` (``u`` to the right, ``v`` down). Slots are placed by
the image's pose (mirror, rotation, zoom, shift) and drawn as projected thickness: a tube of radius
``r`` with a cortex of ``cortex · r`` contributes the chord lengths through its cortical shell and its
marrow (so its rims come out brighter than its middle), a flat slot a soft-edged constant. Soft
tissue follows the bones at the image's ``margin``. The attenuation ``A`` becomes ``1 - exp(-A)``
(bone white on a dark background), then contrast, brightness, gamma, a smooth exposure gradient and
Gaussian noise. Work is vectorised over every (image, active slot) pair of a batch, in blocks, so its
cost follows the number of bones, not the batch's largest layout. Each image's random fields come from
generators of its own (``ImageRandom``), so an image does not depend on the batch it is rendered in.
"""

from __future__ import annotations

import numpy as np
import torch

from ..synthetic.noise import ImageRandom
from ..synthetic.shapes import column
from .anatomy import BONE, CAST, METAL, PLATE
from .parameters import rows_of, slot_arrays, to_image

__all__ = ["render_synth_msk"]

_CORTEX, _MARROW = 3.0, 0.6  #: attenuation per unit of normalised chord length
_FLAT = {PLATE: 1.2, METAL: 5.0, CAST: 0.8}  #: attenuation of the flat kinds
_SOFT = 0.45  #: soft-tissue attenuation at full thickness, times the image's ``soft``
_FLARE_LENGTH = 2.5  #: an end's flare spans this many radii


def render_synth_msk(
    params: dict[str, np.ndarray], idx: np.ndarray, size: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Render dataset images ``idx`` at ``size`` pixels.

    Returns ``images (B, S, S)`` float in [0, 1], ``bone (B, S, S)`` bool (inside any bone) and
    ``abnormality (B, S, S)`` bool (the abnormality's site: a disc around the break or the metal, and
    the metal itself; empty for a normal image).
    """
    idx = np.asarray(idx, dtype=np.int64).reshape(-1)
    P = rows_of(params, idx)
    S = slot_arrays(P)
    random = ImageRandom(seed, idx)
    b = len(idx)
    t = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1
    v, u = torch.meshgrid(t, t, indexing="ij")
    edge = 0.6 * 2.0 / size

    a, e = to_image(P, S["ax"], S["ay"]), to_image(P, S["bx"], S["by"])
    radius = P["zoom"][:, None] * S["radius"]
    rows, cols = np.nonzero(S["active"] > 0)
    kind = S["kind"][rows, cols]
    bone_scale = np.where(np.isin(kind, (BONE, PLATE)), P["bone"][rows], 1.0)
    pair = {
        "ax": a[rows, cols].real,
        "ay": a[rows, cols].imag,
        "ex": (e - a)[rows, cols].real,
        "ey": (e - a)[rows, cols].imag,
        "r": radius[rows, cols],
        "flare_a": S["flare_a"][rows, cols],
        "flare_b": S["flare_b"][rows, cols],
        "cortex": S["cortex"][rows, cols],
        # a tube's attenuation, per unit of chord length relative to its radius: thicker bones a little denser
        "tube": np.where(kind == BONE, S["density"][rows, cols] * bone_scale, 0.0)
        * (radius[rows, cols] / 0.08) ** 0.35,
        "flat": np.vectorize(lambda k: _FLAT.get(int(k), 0.0), otypes=[float])(kind)
        * S["density"][rows, cols]
        * bone_scale,
        "is_bone": np.isin(kind, (BONE, PLATE)).astype(float),
        "is_metal": (kind == METAL).astype(float),
        "is_cast": (kind == CAST).astype(float),
    }
    cast_texture = 1 + 0.25 * random.smooth_field("cast", 24, u.expand(b, -1, -1), v.expand(b, -1, -1))

    attenuation = torch.zeros(b, size, size)
    bone_hits = torch.zeros(b, size, size)
    metal_hits = torch.zeros(b, size, size)
    outside = torch.full((b, size, size), 1e3)  # distance outside the nearest bone
    block = max(1, 2**21 // size**2)
    for start in range(0, len(rows), block):
        sl = slice(start, start + block)
        owner = torch.as_tensor(rows[sl], dtype=torch.long)
        c = {k: column(x[sl]) for k, x in pair.items()}
        du, dv = u - c["ax"], v - c["ay"]
        length2 = (c["ex"] * c["ex"] + c["ey"] * c["ey"]).clamp_min(1e-12)
        along = ((du * c["ex"] + dv * c["ey"]) / length2).clamp_(0, 1)
        du.sub_(along * c["ex"])
        dv.sub_(along * c["ey"])
        d2 = du * du + dv * dv
        reach = length2.sqrt() / (_FLARE_LENGTH * c["r"])  # the bone's length in flare spans
        to_a = (1 - along * reach).clamp_min_(0)
        to_b = (1 - (1 - along) * reach).clamp_min_(0)
        rt = c["r"] * (1 + c["flare_a"] * to_a * to_a + c["flare_b"] * to_b * to_b)
        rt2 = rt * rt
        outer = (rt2 - d2).clamp_min_(0).sqrt_()
        inner = (rt2 * (1 - c["cortex"]) ** 2 - d2).clamp_min_(0).sqrt_()
        contribution = (_CORTEX * outer + (_MARROW - _CORTEX) * inner) * (c["tube"] / rt)
        d = d2.sqrt()
        flats = np.flatnonzero(pair["flat"][sl] > 0)
        if len(flats):
            flat = torch.sigmoid((rt[flats] - d[flats]) / edge) * c["flat"][flats]
            casts = np.flatnonzero(pair["is_cast"][sl][flats])
            if len(casts):
                flat[casts] = flat[casts] * cast_texture[owner[flats[casts]]]
            contribution[flats] += flat
        attenuation.index_add_(0, owner, contribution)
        hit = (d2 < rt2).float()
        bone_hits.index_add_(0, owner, hit * c["is_bone"])
        metal_hits.index_add_(0, owner, hit * c["is_metal"])
        gap = torch.where(c["is_bone"] > 0, d - rt, 1e3)
        outside.scatter_reduce_(0, owner[:, None, None].expand_as(gap), gap, "amin")

    uu, vv = u.expand(b, -1, -1), v.expand(b, -1, -1)
    margin = column(P["margin"] * P["zoom"])
    envelope = torch.sqrt((margin**2 - outside.clamp_min(0) ** 2).clamp_min(0)) / margin
    soft = column(P["soft"]) * _SOFT * envelope * (1 + 0.1 * random.smooth_field("soft", 6, uu, vv))
    image = 1 - torch.exp(-(attenuation + soft))
    exposure = 0.04 * random.smooth_field("exposure", 3, uu, vv)
    image = column(P["bright"]) + exposure + column(P["contrast"]) * image.clamp(0, 1) ** column(P["gamma"])
    image = image + random.normal("noise", (size, size)) * column(P["noise"])

    site = to_image(P, P["lesion_x"], P["lesion_y"])
    has_site = ~np.isnan(P["lesion_r"])
    site_r = np.where(has_site, P["lesion_r"] * P["zoom"], 0.0)
    site_x, site_y = np.nan_to_num(site.real), np.nan_to_num(site.imag)
    disc = (uu - column(site_x)) ** 2 + (vv - column(site_y)) ** 2 < column(site_r) ** 2
    abnormality = disc | (metal_hits > 0)
    return image.clamp(0, 1), bone_hits > 0, abnormality
