"""SynthCMR options: the classes, the sex prevalence per class, the geometry constants, the option
dataclass and its validation.

Sex prevalence (fraction male per class, ``MALE_FRACTION``): the source study (Callanan et al., the
"heatmap loss" paper) states only ARV, "for every female case of ARV there are ~2.7 male cases", so
ARV is ``2.7 / 3.7 ≈ 0.730``. The other classes follow the study's own generator (``MRIDetails.py``
of its published code): Normal 0.5, HCM 0.6, DCM 0.5.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ..splits import DEFAULT_FRACTIONS

__all__ = [
    "CMR_CLASSES",
    "MALE_FRACTION",
    "MALE_SIZE_FACTOR",
    "MARKER_BOX",
    "VIEW",
    "SynthCMRConfig",
    "resolve_cmr_classes",
]

CMR_CLASSES = ["Normal", "HCM", "DCM", "ARV"]
#: probability that a patient of each class is male (ARV ≈ 2.7 males : 1 female, see module docstring)
MALE_FRACTION: dict[str, float] = {"Normal": 0.5, "HCM": 0.6, "DCM": 0.5, "ARV": 2.7 / 3.7}
#: linear size factor of a male heart and chest (``size_difference=True``); the heart area grows by its square
MALE_SIZE_FACTOR = 1.12
#: the male marker square ``u0, v0, u1, v1`` in image space (normalised, ``v`` down): the bottom-right corner
MARKER_BOX = (0.74, 0.74, 0.92, 0.92)
VIEW = "SAX"  # short-axis


@dataclass(frozen=True)
class SynthCMRConfig:
    """Every option of the generator; the cache key is built from it (splits aside) and the source.

    ``size_difference``: male hearts (and chests) are ``MALE_SIZE_FACTOR`` times larger in every
    direction; with False nothing in an image depends on sex. ``male_marker``: a bright square in the
    bottom-right corner (``MARKER_BOX``) of every male image.
    """

    n: int = 800
    image_size: int = 64
    seed: int = 0
    classes: tuple[str, ...] = tuple(CMR_CLASSES)
    size_difference: bool = True
    male_marker: bool = False
    split_fractions: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_FRACTIONS))

    def __post_init__(self) -> None:
        _validate(self)


def resolve_cmr_classes(classes: Iterable[str] | str) -> tuple[str, ...]:
    """``"all"`` or a list of SynthCMR class names (kept in the given order) → a tuple of names.

    Raises ``ValueError`` (naming ``classes``) for another preset, an empty or repeating list or an
    unknown name.
    """
    if isinstance(classes, str):
        if classes != "all":
            raise ValueError(
                f"synth-cmr: classes must be 'all' or a list of {CMR_CLASSES}, got the preset {classes!r} "
                "(chest presets such as 'chexpert5' do not apply to cardiac MR)"
            )
        return tuple(CMR_CLASSES)
    try:
        names = list(classes)
    except TypeError:
        raise ValueError(f"synth-cmr: classes must be 'all' or a list of class names, got {classes!r}") from None
    if not names:
        raise ValueError("synth-cmr: classes is an empty list")
    unknown = [c for c in names if c not in CMR_CLASSES]
    if unknown:
        raise ValueError(f"synth-cmr: unknown class(es) {unknown} in classes; SynthCMR has {CMR_CLASSES}")
    repeated = sorted({c for c in names if names.count(c) > 1})
    if repeated:
        raise ValueError(f"synth-cmr: classes repeats {repeated}")
    return tuple(names)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _validate(cfg: SynthCMRConfig) -> None:
    if not _is_int(cfg.n) or cfg.n < 8:
        raise ValueError(f"synth-cmr: n must be an integer >= 8, got {cfg.n!r}")
    if not _is_int(cfg.image_size) or not 16 <= cfg.image_size <= 1024:
        raise ValueError(f"synth-cmr: image_size must be an integer from 16 to 1024, got {cfg.image_size!r}")
    if not _is_int(cfg.seed):
        raise ValueError(f"synth-cmr: seed must be an integer, got {cfg.seed!r}")
    resolve_cmr_classes(cfg.classes)
    for name in ("size_difference", "male_marker"):
        if not isinstance(getattr(cfg, name), (bool, np.bool_)):
            raise ValueError(f"synth-cmr: {name} must be True or False, got {getattr(cfg, name)!r}")
    fractions = cfg.split_fractions
    if not isinstance(fractions, Mapping) or not fractions:
        raise ValueError(f"synth-cmr: split_fractions must be a mapping split -> fraction, got {fractions!r}")
    unknown = [s for s in fractions if s not in ("train", "val", "test")]
    if unknown:
        raise ValueError(f"synth-cmr: split_fractions names unknown split(s) {unknown}; use train, val, test")
    try:
        values = [float(f) for f in fractions.values()]
    except (TypeError, ValueError):
        raise ValueError(f"synth-cmr: split_fractions must hold numbers, got {dict(fractions)}") from None
    if any(f < 0 or math.isnan(f) for f in values) or not math.isclose(sum(values), 1.0, abs_tol=1e-6):
        raise ValueError(f"synth-cmr: split_fractions must be non-negative and sum to 1, got {dict(fractions)}")
