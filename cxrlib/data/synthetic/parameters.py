"""SynthCXR parameters: everything random about a patient, a study and its findings, drawn with numpy.

Rendering is a pure function of these arrays (plus the per-image noise streams of ``noise.py``).
Findings' sides: ``RIGHT`` is the patient's right lung (image left), ``LEFT`` the patient's left lung
(image right, behind which the heart sits), ``BOTH`` both lungs, ``NO_SIDE`` not in a lung (the heart).
"""

from __future__ import annotations

import math

import numpy as np

from ...rng import random_stream
from .config import SYNTH_CLASSES, SynthCXRConfig

__all__ = [
    "RIGHT",
    "LEFT",
    "BOTH",
    "NO_SIDE",
    "ALWAYS_BILATERAL",
    "MAYBE_BILATERAL",
    "NOT_LATERAL",
    "PLACEMENT_KEYS",
    "sample_parameters",
    "redraw_placement",
    "rows_of",
]

RIGHT, LEFT, BOTH, NO_SIDE = 0, 1, 2, -1
ALWAYS_BILATERAL = ("Edema",)
MAYBE_BILATERAL = ("Pleural Effusion",)  # bilateral with probability ``bilateral_fraction``
NOT_LATERAL = ("Cardiomegaly",)
PLACEMENT_KEYS = ("pos_a", "pos_b", "size", "angle")  # per finding, ``(N, K)``; redrawn until it is visible


def _placement(rng: np.random.Generator, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    return {
        "pos_a": rng.uniform(-1, 1, shape),
        "pos_b": rng.uniform(-1, 1, shape),
        "size": rng.uniform(0, 1, shape),
        "angle": rng.uniform(-0.5, 0.5, shape),
    }


def sample_parameters(cfg: SynthCXRConfig) -> dict[str, np.ndarray]:
    """All random parameters of ``cfg.n`` images: arrays ``(N,)`` or ``(N, K_all)`` over ``SYNTH_CLASSES``.

    ``truth`` ``(N, K_all)`` bool is drawn with the requested prevalence (False for classes not asked
    for), ``severity`` in [0.25, 1] where true, ``side`` as above, ``marker`` the shortcut token.
    """
    rng = random_stream(cfg.seed, 0x5C4)
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
    side = np.where(rng.random((n, K)) < cfg.left_fraction, LEFT, RIGHT)
    bilateral = rng.random(n) < cfg.bilateral_fraction
    for k, c in enumerate(SYNTH_CLASSES):
        if c in ALWAYS_BILATERAL:
            side[:, k] = BOTH
        elif c in MAYBE_BILATERAL:
            side[:, k] = np.where(bilateral, BOTH, side[:, k])
        elif c in NOT_LATERAL:
            side[:, k] = NO_SIDE
    p["side"] = side
    p.update(_placement(rng, (n, K)))
    p["normal_heart"] = rng.uniform(0.0, 0.12, n)  # normal variation of heart size
    if cfg.shortcut is not None:
        k = SYNTH_CLASSES.index(cfg.shortcut.class_name)
        agree = rng.random(n) < cfg.shortcut.rate
        p["marker"] = np.where(agree, p["truth"][:, k], ~p["truth"][:, k])
    else:
        p["marker"] = np.zeros(n, bool)
    return p


def redraw_placement(seed: int, image: int, k: int, attempt: int) -> dict[str, float]:
    """Fresh ``PLACEMENT_KEYS`` values for finding ``k`` of dataset image ``image`` (attempt >= 1)."""
    rng = random_stream(int(seed), int(image), int(k), int(attempt), 0x91AC)
    return {key: float(value[0]) for key, value in _placement(rng, (1,)).items()}


def rows_of(params: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    """The parameters of images ``idx`` (a copy)."""
    return {k: v[idx] for k, v in params.items()}
