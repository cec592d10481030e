"""SynthMSK options: the body parts (MURA's class names and order), the tasks, the option dataclass
and its validation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum

from ..classes import MURA_ABNORMALITY, MURA_BODY_PARTS
from ..generated import (
    check_integer,
    check_size_and_seed,
    check_split_fractions,
    in_unit_interval,
    is_number,
    resolve_class_list,
)
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
    return resolve_class_list(
        "synth-msk",
        classes,
        known,
        domain="musculoskeletal radiographs",
        unknown_hint=f"for task {task.value!r}; its classes are {known}",
    )


def resolve_task(task: MSKTask | str) -> MSKTask:
    """``"body-part"`` / ``"abnormality"`` → :class:`MSKTask`; anything else raises ``ValueError``."""
    try:
        return MSKTask(task)
    except ValueError:
        raise ValueError(f"synth-msk: task must be one of {[t.value for t in MSKTask]}, got {task!r}") from None


def _validate(cfg: SynthMSKConfig) -> None:
    check_size_and_seed("synth-msk", cfg.n, cfg.image_size, cfg.seed)
    resolve_msk_classes(cfg.body_parts)
    for name in ("abnormal_rate", "cast_rate"):
        value = getattr(cfg, name)
        if not (is_number(value) and in_unit_interval(value)):
            raise ValueError(f"synth-msk: {name} must be a number in [0, 1], got {value!r}")
    check_integer(cfg.images_per_patient, "images_per_patient", who="synth-msk", low=1, high=8)
    check_split_fractions("synth-msk", cfg.split_fractions)
