"""SynthCMR options: the classes, the sex prevalence per class, the geometry constants, the option
dataclass and its validation.

Sex prevalence (fraction male per class, ``MALE_FRACTION``): the source study (Callanan et al., the
"heatmap loss" paper) states only ARV, "for every female case of ARV there are ~2.7 male cases", so
ARV is ``2.7 / 3.7 ≈ 0.730``. The other classes follow the study's own generator (``MRIDetails.py``
of its published code): Normal 0.5, HCM 0.6, DCM 0.5.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..generated import check_bool, check_size_and_seed, check_split_fractions, resolve_class_list
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
    return resolve_class_list(
        "synth-cmr",
        classes,
        CMR_CLASSES,
        domain="cardiac MR",
        unknown_hint=f"in classes; SynthCMR has {CMR_CLASSES}",
    )


def _validate(cfg: SynthCMRConfig) -> None:
    check_size_and_seed("synth-cmr", cfg.n, cfg.image_size, cfg.seed)
    resolve_cmr_classes(cfg.classes)
    for name in ("size_difference", "male_marker"):
        check_bool(getattr(cfg, name), name, who="synth-cmr")
    check_split_fractions("synth-cmr", cfg.split_fractions)
