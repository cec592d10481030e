"""SynthCMR parameters: everything random about a patient's slice, drawn with numpy from the seed.

Rendering is a pure function of these arrays plus the per-image noise streams (``ImageRandom``).
Lengths are in "heart units" (multiplied by ``heart_scale`` they are normalised image units, where the
image spans ``[-1, 1]``): a normal LV has a blood-pool radius of about 0.17 and a wall of about 0.075.

Classes are exactly balanced (``n`` images share the classes as evenly as ``n`` allows, in a random
order). Each diseased image has a ``severity`` in [0, 1] that moves its geometry away from normal:

=======  ==============================================================================
class    geometry (``s`` = severity, every factor also has a per-image log-normal spread)
=======  ==============================================================================
Normal   LV cavity 0.17, wall 0.075, RV ×1, RV boundary wobble 0–0.04
HCM      wall ×(1.3 + 0.9 s), thicker at the septum; cavity ×(0.92 − 0.35 s); patchy
         bright "fibrosis" texture in the myocardium of about half the patients
DCM      cavity ×(1.3 + 0.5 s); wall ×(0.95 − 0.3 s)
ARV      RV ×(1.25 + 0.35 s), wobbly (aneurysmal) RV boundary, amplitude 0.05 + 0.1 s
=======  ==============================================================================

Low severities overlap the normal spread, so a few images of every class are genuinely ambiguous.
"""

from __future__ import annotations

import numpy as np

from .config import CMR_CLASSES, MALE_FRACTION, MALE_SIZE_FACTOR, SynthCMRConfig

__all__ = ["LV_CAVITY", "LV_WALL", "sample_parameters", "rows_of"]

LV_CAVITY = 0.17  #: normal LV blood-pool radius, heart units
LV_WALL = 0.075  #: normal LV wall thickness, heart units


def sample_parameters(cfg: SynthCMRConfig) -> dict[str, np.ndarray]:
    """All random parameters of ``cfg.n`` images, each an ``(N,)`` array.

    ``label`` indexes ``cfg.classes``, ``disease`` indexes ``CMR_CLASSES``; ``male`` bool;
    ``severity`` in [0, 1] (0 for Normal); ``heart_scale`` (zoom × sex factor × individual size);
    ``lv_cavity``, ``lv_wall`` (heart units), ``septal_bulge`` (relative extra septal thickness),
    ``lv_ecc`` (LV ellipticity), ``rv_scale``, ``rv_wobble`` (amplitude), ``rv_freq``, ``rv_phase``;
    ``fibrosis`` (amplitude of the myocardial patches); pose ``rot``, ``dx``, ``dy``, ``zoom``;
    ``body_scale``; tissue intensities ``blood``, ``myo``, ``fat``; exposure ``contrast``,
    ``bright``, ``gamma``; ``noise`` (Rician sigma); ``marker`` (the male marker is drawn).
    """
    rng = np.random.default_rng([cfg.seed, 0xC312])
    n = cfg.n
    names = list(cfg.classes)
    label = rng.permutation(np.arange(n) % len(names))
    disease = np.array([CMR_CLASSES.index(c) for c in names])[label]
    is_ = {c: disease == CMR_CLASSES.index(c) for c in CMR_CLASSES}
    male = rng.random(n) < np.array([MALE_FRACTION[c] for c in CMR_CLASSES])[disease]
    severity = np.where(is_["Normal"], 0.0, rng.uniform(0.0, 1.0, n))
    spread = lambda sd: np.exp(rng.normal(0.0, sd, n))  # noqa: E731

    sex_factor = np.where(male & cfg.size_difference, MALE_SIZE_FACTOR, 1.0)
    zoom = rng.uniform(0.88, 1.12, n)  # field of view: the same for every class and sex
    heart_scale = zoom * sex_factor * spread(0.05)

    cavity = (
        np.select([is_["HCM"], is_["DCM"]], [0.92 - 0.35 * severity, 1.3 + 0.5 * severity], 1.0)
        * LV_CAVITY
        * spread(0.08)
    )
    wall = (
        np.select([is_["HCM"], is_["DCM"]], [1.3 + 0.9 * severity, 0.95 - 0.3 * severity], 1.0) * LV_WALL * spread(0.12)
    )
    septal_bulge = np.where(is_["HCM"], rng.uniform(0.1, 0.5, n) * (0.4 + 0.6 * severity), rng.uniform(0, 0.15, n))
    rv_scale = np.where(is_["ARV"], 1.25 + 0.35 * severity, 1.0) * spread(0.07)
    rv_wobble = np.where(is_["ARV"], 0.05 + 0.10 * severity, rng.uniform(0.0, 0.04, n))
    fibrosis = np.where(is_["HCM"] & (rng.random(n) < 0.5), 0.08 + 0.12 * severity, 0.0)

    return {
        "label": label.astype(np.int64),
        "disease": disease.astype(np.int64),
        "male": male,
        "severity": severity,
        "heart_scale": heart_scale,
        "zoom": zoom,
        "lv_cavity": cavity,
        "lv_wall": wall,
        "septal_bulge": septal_bulge,
        "lv_ecc": rng.uniform(-0.08, 0.08, n),
        "rv_scale": rv_scale,
        "rv_wobble": rv_wobble,
        "rv_freq": rng.integers(3, 7, n).astype(np.float64),
        "rv_phase": rng.uniform(0, 2 * np.pi, n),
        "fibrosis": fibrosis,
        "rot": rng.uniform(-0.35, 0.35, n),
        "dx": rng.uniform(-0.08, 0.08, n),
        "dy": rng.uniform(-0.08, 0.08, n),
        "body_scale": zoom * sex_factor * spread(0.04),
        "blood": rng.uniform(0.72, 0.9, n),
        "myo": rng.uniform(0.18, 0.28, n),
        "fat": rng.uniform(0.75, 0.9, n),
        "contrast": rng.uniform(0.8, 1.15, n),
        "bright": rng.uniform(-0.04, 0.08, n),
        "gamma": rng.uniform(0.85, 1.15, n),
        "noise": rng.uniform(0.03, 0.07, n),
        "marker": male & cfg.male_marker,
    }


def rows_of(params: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    """The parameters of dataset images ``idx``, each ``(B,)``."""
    return {k: v[idx] for k, v in params.items()}
