"""SynthMSK options: the body parts (MURA's class names and order), the tasks, the option dataclass
and its validation."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from ..classes import MURA_ABNORMALITY, MURA_BODY_PARTS
from ..splits import DEFAULT_FRACTIONS

__all__ = ["MSK_CLASSES", "ABNORMALITY_CLASSES", "MSKTask", "SynthMSKConfig", "resolve_msk_classes", "resolve_task"]

#: the seven body parts, spelled and ordered as the MURA reader (:mod:`cxrlib.data.sources.mura`) has them
MSK_CLASSES: list[str] = list(MURA_BODY_PARTS)
#: the one class of the abnormality task, as the MURA reader names it
ABNORMALITY_CLASSES: list[str] = list(MURA_ABNORMALITY)


class MSKTask(str, Enum):
    """What the labels are: the body part (7 one-hot classes) or the abnormality flag (1 class), as MURA."""

    BODY_PART = "body-part"
    ABNORMALITY = "abnormality"


@dataclass(frozen=True)
class SynthMSKConfig:
    """Every option of the generator; the cache key is built from it (splits and task aside).

    ``body_parts``: the body parts generated (balanced among themselves). ``abnormal_rate``: the
    fraction of patients whose images show a fracture or orthopaedic hardware (MURA: about 0.4).
    ``cast_rate``: the fraction of normal patients with a plaster cast (abnormal ones get one about
    eight times as often). ``images_per_patient``: images (views) per patient and study.
    """

    n: int = 1000
    image_size: int = 64
    seed: int = 0
    body_parts: tuple[str, ...] = tuple(MSK_CLASSES)
    abnormal_rate: float = 0.4
    cast_rate: float = 0.04
    images_per_patient: int = 2
    split_fractions: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_FRACTIONS))

    def __post_init__(self) -> None:
        _validate(self)


def resolve_msk_classes(classes: Iterable[str] | str, task: MSKTask | str = MSKTask.BODY_PART) -> tuple[str, ...]:
    """``"all"`` or a list of class names (kept in the given order) → a tuple of names.

    For the body-part task the names are MURA's (``XR_ELBOW``...); for the abnormality task the only
    class is ``"Abnormal"``. Raises ``ValueError`` (naming ``classes``) for another preset, an empty
    or repeating list or an unknown name.
    """
    task = resolve_task(task)
    known = MSK_CLASSES if task is MSKTask.BODY_PART else ABNORMALITY_CLASSES
    if isinstance(classes, str):
        if classes != "all":
            raise ValueError(
                f"synth-msk: classes must be 'all' or a list of {known}, got the preset {classes!r} "
                "(chest presets such as 'chexpert5' do not apply to musculoskeletal radiographs)"
            )
        return tuple(known)
    try:
        names = list(classes)
    except TypeError:
        raise ValueError(f"synth-msk: classes must be 'all' or a list of class names, got {classes!r}") from None
    if not names:
        raise ValueError("synth-msk: classes is an empty list")
    unknown = [c for c in names if c not in known]
    if unknown:
        raise ValueError(f"synth-msk: unknown class(es) {unknown} for task {task.value!r}; its classes are {known}")
    repeated = sorted({c for c in names if names.count(c) > 1})
    if repeated:
        raise ValueError(f"synth-msk: classes repeats {repeated}")
    return tuple(names)


def resolve_task(task: MSKTask | str) -> MSKTask:
    """``"body-part"`` / ``"abnormality"`` → :class:`MSKTask`; anything else raises ``ValueError``."""
    try:
        return MSKTask(task)
    except ValueError:
        raise ValueError(f"synth-msk: task must be one of {[t.value for t in MSKTask]}, got {task!r}") from None


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _validate(cfg: SynthMSKConfig) -> None:
    if not _is_int(cfg.n) or cfg.n < 8:
        raise ValueError(f"synth-msk: n must be an integer >= 8, got {cfg.n!r}")
    if not _is_int(cfg.image_size) or not 16 <= cfg.image_size <= 1024:
        raise ValueError(f"synth-msk: image_size must be an integer from 16 to 1024, got {cfg.image_size!r}")
    if not _is_int(cfg.seed):
        raise ValueError(f"synth-msk: seed must be an integer, got {cfg.seed!r}")
    resolve_msk_classes(cfg.body_parts)
    for name in ("abnormal_rate", "cast_rate"):
        value = getattr(cfg, name)
        if not _is_number(value) or not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"synth-msk: {name} must be a number in [0, 1], got {value!r}")
    if not _is_int(cfg.images_per_patient) or not 1 <= cfg.images_per_patient <= 8:
        raise ValueError(
            f"synth-msk: images_per_patient must be an integer from 1 to 8, got {cfg.images_per_patient!r}"
        )
    fractions = cfg.split_fractions
    if not isinstance(fractions, Mapping) or not fractions:
        raise ValueError(f"synth-msk: split_fractions must be a mapping split -> fraction, got {fractions!r}")
    unknown = [s for s in fractions if s not in ("train", "val", "test")]
    if unknown:
        raise ValueError(f"synth-msk: split_fractions names unknown split(s) {unknown}; use train, val, test")
    try:
        values = [float(f) for f in fractions.values()]
    except (TypeError, ValueError):
        raise ValueError(f"synth-msk: split_fractions must hold numbers, got {dict(fractions)}") from None
    if any(f < 0 or math.isnan(f) for f in values) or not math.isclose(sum(values), 1.0, abs_tol=1e-6):
        raise ValueError(f"synth-msk: split_fractions must be non-negative and sum to 1, got {dict(fractions)}")
