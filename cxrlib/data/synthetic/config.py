"""SynthCXR options: the class lists, default prevalences, the option dataclasses and their validation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..generated import check_integer, in_unit_interval
from ..splits import DEFAULT_FRACTIONS

__all__ = [
    "SYNTH_CLASSES",
    "CHEXPERT5",
    "NIH_BOX_CLASSES",
    "CLASS_PRESETS",
    "DEFAULT_PREVALENCE",
    "MARKER_BOX",
    "ShortcutSpec",
    "ReaderSpec",
    "SynthCXRConfig",
    "resolve_classes",
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
NIH_BOX_CLASSES = ["Atelectasis", "Cardiomegaly", "Pleural Effusion", "Infiltration", "Mass", "Nodule", "Pneumothorax"]
CLASS_PRESETS = {"chexpert5": CHEXPERT5, "nih-boxes": NIH_BOX_CLASSES, "all": SYNTH_CLASSES}
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
MARKER_BOX = (0.70, -0.92, 0.90, -0.72)  # u0, v0, u1, v1 of the shortcut token (top right), image space


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
    """Every option of the generator; the cache key is built from it (and from the generator's source).

    ``left_fraction`` is the probability that a single-sided finding (Atelectasis, Consolidation,
    Nodule, Mass, Pneumothorax, Infiltration, a one-sided Pleural Effusion) lies in the patient's left
    lung (the image's right half). ``bilateral_fraction`` is the probability that a Pleural Effusion
    is on both sides; Edema is always bilateral.
    """

    n: int = 1000
    image_size: int = 128
    seed: int = 0
    classes: tuple[str, ...] = tuple(SYNTH_CLASSES)
    prevalence: float | Mapping[str, float] | None = None
    uncertain_rate: float = 0.0
    label_noise: float = 0.0
    studies_per_patient: int = 1
    ap_fraction: float = 0.3
    left_fraction: float = 0.5
    bilateral_fraction: float = 1 / 3
    shortcut: ShortcutSpec | None = None
    readers: ReaderSpec | None = None
    split_fractions: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_FRACTIONS))

    def __post_init__(self) -> None:
        _validate(self)

    def prevalence_of(self, name: str) -> float:
        """The requested prevalence of class ``name`` (the default where none is given)."""
        if self.prevalence is None:
            return DEFAULT_PREVALENCE[name]
        if isinstance(self.prevalence, Mapping):
            return float(self.prevalence.get(name, DEFAULT_PREVALENCE[name]))
        return float(self.prevalence)


def resolve_classes(classes: list[str] | tuple[str, ...] | str) -> tuple[str, ...]:
    """A list of class names, or a preset name (``"chexpert5"``, ``"nih-boxes"``, ``"all"``)."""
    if isinstance(classes, str):
        if classes not in CLASS_PRESETS:
            raise ValueError(f"unknown class preset {classes!r}; use a list or one of {sorted(CLASS_PRESETS)}")
        return tuple(CLASS_PRESETS[classes])
    return tuple(classes)


def _validate(cfg: SynthCXRConfig) -> None:
    check_integer(cfg.n, "n", low=1)
    check_integer(cfg.image_size, "image_size", low=64, high=512)
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
    for name in ("uncertain_rate", "label_noise", "ap_fraction", "left_fraction", "bilateral_fraction"):
        value = getattr(cfg, name)
        if not in_unit_interval(value):
            raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    if cfg.studies_per_patient < 1:
        raise ValueError(f"studies_per_patient must be >= 1, got {cfg.studies_per_patient!r}")
    if cfg.shortcut is not None:
        if cfg.shortcut.class_name not in cfg.classes:
            raise ValueError(f"shortcut class {cfg.shortcut.class_name!r} is not one of {list(cfg.classes)}")
        if not in_unit_interval(cfg.shortcut.rate):
            raise ValueError(f"shortcut rate must lie in [0, 1], got {cfg.shortcut.rate!r}")
    if cfg.readers is not None:
        if cfg.readers.n_readers < 1:
            raise ValueError(f"n_readers must be >= 1, got {cfg.readers.n_readers!r}")
        for name in ("sensitivity", "specificity"):
            value = getattr(cfg.readers, name)
            values = value.values() if isinstance(value, Mapping) else [value]
            if not all(in_unit_interval(x) for x in values):
                raise ValueError(f"reader {name} must lie in [0, 1], got {value!r}")
