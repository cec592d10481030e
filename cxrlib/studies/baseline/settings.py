"""Study 01: the parameters: the ``Settings`` dataclass, its presets and checks."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ..common import (
    check_backbone,
    resolve_settings,
)
from ..shared_settings import ChestDataSettings, TrainingSettings

__all__ = ["STUDY_HELP", "BaselineSettings", "PRESETS", "baseline_settings", "model_settings"]


@dataclass
class BaselineSettings(ChestDataSettings, TrainingSettings):
    backbones: tuple[str, ...] = ("densenet121", "resnet101", "vgg19")
    output_stride: int | None = None  #: 8, 16 or 32 (None: each backbone's own); sets the Grad-CAM grid
    epochs: int = 6
    seeds: tuple[int, ...] = (0,)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.backbones:
            raise ValueError("parameter 'backbones': empty list; give at least one backbone")
        for backbone in self.backbones:
            check_backbone(backbone, "backbones")
        if self.output_stride not in (None, 8, 16, 32):
            raise ValueError(f"parameter 'output_stride' must be 8, 16, 32 or None, got {self.output_stride!r}")


#: Budgets on a 2-core CPU: smoke <= 90 s, default <= 4 min. Three deep backbones trained from scratch
#: do not fit the default budget, so the CPU profiles train DenseNet-121 (the source's model) beside a
#: small CNN, at output stride 8 so that Grad-CAM has an 8×8 grid at 64 px; ``full`` (a GPU box)
#: compares all three backbones of the source at 224 px with 14×14 maps and the source's Adam 1e-4.
PRESETS = {
    "smoke": {"n": 600, "image_size": 64, "epochs": 4, "backbones": ("small-cnn", "densenet121"), "output_stride": 8},
    "default": {
        "n": 1500,
        "image_size": 64,
        "epochs": 5,
        "backbones": ("densenet121", "small-cnn"),
        "output_stride": 8,
    },
    "full": {
        "pretrained": True,
        "n": 20000,
        "image_size": 224,
        "epochs": 15,
        "batch_size": 64,
        "lr": 1e-4,
        "seeds": (0, 1, 2, 3, 4),
        "backbones": ("densenet121", "resnet101", "vgg19"),
        "output_stride": 16,
    },
}


#: settings that do not change what a backbone learns (the run's shape, where it runs, how it reports)
_NOT_LEARNED = ("profile", "progress", "device", "backbones", "seeds")


def model_settings(settings: Any) -> dict[str, Any]:
    """The settings that determine one backbone's trained weights (data, image size, classes, training
    loop, output stride), as plain values: those of ``settings`` (any study's settings) that
    :class:`BaselineSettings` has, other than the run's shape and device. Two runs whose
    ``model_settings`` are equal train the same model for the same seed."""
    names = [f.name for f in dataclasses.fields(BaselineSettings) if f.name not in _NOT_LEARNED]
    return {name: _plain(getattr(settings, name)) for name in names if hasattr(settings, name)}


def _plain(value: Any) -> Any:
    """A value ``torch.load(weights_only=True)`` reads back as it was: tuples as lists, Enums as their
    values, paths as text."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def baseline_settings(profile: str = "default", **overrides) -> BaselineSettings:
    """Settings for ``profile`` with every non-None override applied."""
    return resolve_settings(BaselineSettings, PRESETS, profile, **overrides)


#: parameter descriptions of its own (the rest: shared_settings.PARAMETER_HELP); its notebook shows them
STUDY_HELP = {
    "backbones": "any of densenet121, resnet50, resnet101, vgg19, small-cnn",
    "output_stride": "8, 16 or 32 pixels per Grad-CAM cell; None: each backbone's own",
    "epochs": "maximum epochs per backbone (stops at the second LR reduction)",
}
