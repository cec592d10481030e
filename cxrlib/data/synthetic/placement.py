"""Make every drawn finding visible, so that the requested prevalence is the realised one.

A finding drawn where the heart or the diaphragm hides it (an empty mask) would otherwise have to be
relabelled negative. Instead its placement (``PLACEMENT_KEYS``: position, size, angle) is redrawn
from a generator of its own image, until each of its instances has at least ``MIN_PIXELS`` pixels at
``REFERENCE_SIZE``. Visibility is judged at that one size, so the placement (and the image) is the
same whatever size the dataset is rendered at.

Rarely a lung has no visible place for a finding at all (the left base behind a severely enlarged
heart in an AP view hides every lower-zone Atelectasis): after ``SWITCH_SIDE_AFTER`` attempts a
one-sided finding moves to the other lung (counted in ``side_switches``), which lowers the realised
left fraction by well under 1 % even at high prevalences.
"""

from __future__ import annotations

import numpy as np
import torch

from .anatomy import build_anatomy, make_coords
from .config import SYNTH_CLASSES
from .findings import FINDINGS, FindingDraw, finding_context
from .noise import ImageRandom
from .parameters import LEFT, PLACEMENT_KEYS, RIGHT, redraw_placement, rows_of

__all__ = ["REFERENCE_SIZE", "MIN_PIXELS", "MAX_TRIES", "SWITCH_SIDE_AFTER", "place_findings"]

REFERENCE_SIZE = 64
MIN_PIXELS = 2
MAX_TRIES = 64
SWITCH_SIDE_AFTER = 32  # a one-sided finding with no visible place in its lung then moves to the other


def _visible(draw: FindingDraw) -> np.ndarray:
    """``(B,)`` bool: every drawn instance has at least ``MIN_PIXELS`` pixels."""
    ok = torch.ones(len(draw.instances[0].drawn), dtype=torch.bool)
    for instance in draw.instances:
        ok &= ~instance.drawn | (instance.mask.sum((1, 2)) >= MIN_PIXELS)
    return ok.numpy()


def place_findings(params: dict[str, np.ndarray], seed: int, chunk: int = 256) -> dict[str, np.ndarray]:
    """A copy of ``params`` whose drawn findings are all visible, plus ``redraws`` ``(N, K_all)`` int
    (how many times each finding's placement was redrawn) and ``side_switches`` ``(N, K_all)`` bool.

    Deterministic per image (attempt ``t`` of finding ``k`` in image ``i`` uses its own generator).
    Raises ``ValueError`` if a finding cannot be made visible in ``MAX_TRIES`` attempts.
    """
    out = {k: (v.copy() if k in (*PLACEMENT_KEYS, "side") else v) for k, v in params.items()}
    n, K = len(out["truth"]), len(SYNTH_CLASSES)
    redraws = np.zeros((n, K), np.int64)
    switched = np.zeros((n, K), bool)
    for start in range(0, n, chunk):
        idx = np.arange(start, min(start + chunk, n))
        P = rows_of(out, idx)
        random = ImageRandom(seed, idx)
        coords = make_coords(P, REFERENCE_SIZE)
        anatomy = build_anatomy(coords, P)
        for k, name in enumerate(SYNTH_CLASSES):
            rows = np.flatnonzero(P["truth"][:, k])
            attempt = 0
            while len(rows):
                draw = FINDINGS[name](finding_context(name, coords, anatomy, P, random, k, rows))
                rows = rows[~_visible(draw)]
                if len(rows) and attempt == MAX_TRIES:
                    raise ValueError(
                        f"SynthCXR could not place a visible {name!r} in image {int(idx[rows[0]])} "
                        f"(seed {seed}) in {MAX_TRIES} attempts, so its requested prevalence cannot be met"
                    )
                attempt += 1
                if attempt == SWITCH_SIDE_AFTER:
                    one_sided = rows[np.isin(P["side"][rows, k], (LEFT, RIGHT))]
                    P["side"][one_sided, k] = out["side"][idx[one_sided], k] = LEFT + RIGHT - P["side"][one_sided, k]
                    switched[idx[one_sided], k] = True
                for row in rows:
                    for key, value in redraw_placement(seed, idx[row], k, attempt).items():
                        P[key][row, k] = out[key][idx[row], k] = value
                redraws[idx[rows], k] += 1
    out["redraws"] = redraws
    out["side_switches"] = switched
    return out
