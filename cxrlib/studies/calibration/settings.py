"""Study 05: the parameters: the ``Settings`` dataclass, its presets and checks."""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum

from ...models import Backbone
from .. import imbalance_losses as imb
from ..common import resolve_settings
from ..shared_settings import ChestDataSettings, TrainingSettings

__all__ = ["STUDY_HELP", "LogitsFrom", "CalibrationSettings", "PRESETS", "calibration_settings"]


class LogitsFrom(str, Enum):
    AUTO = "auto"  #: 04's saved logits when they match this run's settings, else train here
    LOAD = "load"  #: 04's saved logits, or an error saying why not
    TRAIN = "train"  #: always train here


@dataclass
class CalibrationSettings(ChestDataSettings, TrainingSettings):
    prevalence: float | None = None
    backbone: str = "densenet121"
    output_stride: int | None = 8
    losses: tuple[str, ...] = ("wbce", "focal", "aucm")
    focal_gamma: float = 2.0
    focal_alpha: float | None = None
    auc_recipe: str = "libauc"
    auc_margin: float = 1.0
    auc_lr: float = 0.1
    auc_epochs: int = 2
    logits_from: str = "auto"
    n_bins: int = 15
    mimo_members: int = 3
    mimo_input_repetition: float = 0.6  #: share of MIMO training rows that show one image to every member

    def __post_init__(self) -> None:
        super().__post_init__()
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


#: parameter descriptions of its own (the rest: shared_settings.PARAMETER_HELP); its notebook shows them
STUDY_HELP = {
    "prevalence": "SynthCXR: prevalence of every class; None: CheXpert-like per-class defaults",
    "backbone": "densenet121 (the source's), resnet101, vgg19, resnet50 or small-cnn",
    "output_stride": "8, 16 or 32 pixels per feature-map cell; None: the backbone's own",
    "losses": "losses of 04 to calibrate: any of wbce, focal, aucm",
    "focal_gamma": "γ of the focal loss (when this notebook trains the models itself)",
    "focal_alpha": "weight of the positives in the focal loss; None: unweighted",
    "auc_recipe": "DeepAUC: libauc (CE model, fresh head, PESG) or source (Adam from the start)",
    "auc_margin": "margin m of the AUC-M loss",
    "auc_lr": "PESG learning rate of the AUC-M fine-tuning",
    "auc_epochs": "epochs of AUC-M fine-tuning after the CE stage",
    "epochs": "maximum epochs of every model (CE, focal, MIMO)",
    "weight_decay": "weight decay",
    "seeds": "training seeds; the CE models of the first mimo_members seeds form the ensemble",
    "logits_from": "auto: 04's saved logits when their settings match, else train here; load; train",
    "n_bins": "bins of the ECE (15, as the source)",
    "mimo_members": "M: MIMO members, and the size of the deep ensemble",
    "mimo_input_repetition": "share of MIMO training rows that show one image to every member",
}
