"""Study 05: the parameters: the ``Settings`` dataclass, its presets and checks."""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum

from ...models import Backbone
from .. import imbalance_losses as imb
from ..common import resolve_settings

__all__ = ["LogitsFrom", "CalibrationSettings", "PRESETS", "calibration_settings"]


class LogitsFrom(str, Enum):
    AUTO = "auto"  #: 04's saved logits when they match this run's settings, else train here
    LOAD = "load"  #: 04's saved logits, or an error saying why not
    TRAIN = "train"  #: always train here


@dataclass
class CalibrationSettings:
    profile: str = "default"
    dataset: str = "synth-cxr"
    data_root: str | None = None
    n: int = 1500
    image_size: int = 64
    classes: str | tuple[str, ...] = "chexpert5"
    label_policy: str = "sharma2023"
    uncertain_rate: float = 0.1
    prevalence: float | None = None
    backbone: str = "densenet121"
    output_stride: int | None = 8
    losses: tuple[str, ...] = ("wbce", "focal", "aucm")
    focal_gamma: float = 2.0
    focal_alpha: float | None = None
    auc_margin: float = 1.0
    auc_lr: float = 0.1
    auc_epochs: int = 2
    epochs: int = 5
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-5
    seeds: tuple[int, ...] = (0, 1, 2)
    logits_from: str = "auto"
    n_bins: int = 15
    mimo_members: int = 3
    mimo_input_repetition: float = 0.6  #: share of MIMO training rows that show one image to every member
    pretrained: bool = False
    device: str = "auto"
    data_seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        known = [b.value for b in Backbone]
        if self.backbone not in known:
            raise ValueError(f"parameter 'backbone': unknown {self.backbone!r}; use one of {known}")
        imb.check_losses(self.losses)
        try:
            LogitsFrom(self.logits_from)
        except ValueError:
            raise ValueError(
                f"parameter 'logits_from': unknown {self.logits_from!r}; use one of {[v.value for v in LogitsFrom]}"
            ) from None
        if self.output_stride not in (None, 8, 16, 32):
            raise ValueError(f"parameter 'output_stride' must be 8, 16, 32 or None, got {self.output_stride!r}")
        if not self.seeds:
            raise ValueError("parameter 'seeds': give at least one seed")
        if self.n_bins < 2:
            raise ValueError(f"parameter 'n_bins' must be >= 2, got {self.n_bins}")
        if self.mimo_members < 2:
            raise ValueError(f"parameter 'mimo_members' must be >= 2, got {self.mimo_members}")
        if not 0 <= self.mimo_input_repetition <= 1:
            raise ValueError(f"parameter 'mimo_input_repetition' must lie in [0, 1], got {self.mimo_input_repetition}")


#: The data and training settings are study 04's presets, so that the book's run of 05 finds the logits
#: 04 saved under the same profile (a test keeps them equal); MIMO adds one model of the same cost.
PRESETS = {
    profile: {k: v for k, v in preset.items() if k in {f.name for f in fields(CalibrationSettings)}}
    for profile, preset in imb.PRESETS.items()
}


def calibration_settings(profile: str = "default", **overrides) -> CalibrationSettings:
    """Settings for ``profile`` with every non-None override applied."""
    return resolve_settings(CalibrationSettings, PRESETS, profile, **overrides)
