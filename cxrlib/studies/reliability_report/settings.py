"""Study 10: the parameters: the ``Settings`` dataclass, its presets and checks.

The model is notebook 01's: the data and training fields are 01's (:class:`~..baseline.BaselineSettings`),
each profile starts from 01's preset of the same name, and ``backbone`` picks one of the backbones 01
trains. The report's own fields follow (resamples, deferral costs, images mapped).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum

from ...report.selective import DEFAULT_COSTS
from ..baseline.settings import PRESETS as BASELINE_PRESETS
from ..baseline.settings import BaselineSettings
from ..common import check_backbone, resolve_settings
from ..shared_settings import ChestDataSettings, TrainingSettings

__all__ = ["STUDY_HELP", "ModelSource", "ReliabilitySettings", "PRESETS", "reliability_settings", "training_settings"]


class ModelSource(str, Enum):
    """Where the reported model's weights come from (parameter ``source``)."""

    AUTO = "auto"  #: notebook 01's saved weights when they fit these settings, else trained here
    TRAIN = "train"  #: always trained here, with 01's code and settings


@dataclass
class ReliabilitySettings(ChestDataSettings, TrainingSettings):
    backbone: str = "densenet121"
    output_stride: int | None = None  #: 8, 16 or 32 (None: the backbone's own); sets the class-map grid
    epochs: int = 6
    seeds: tuple[int, ...] = (0,)
    source: str = "auto"
    n_bootstrap: int = 1000
    costs: tuple[float, ...] = DEFAULT_COSTS
    max_map_images: int = 300
    nih_sample: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        check_backbone(self.backbone, "backbone")
        if len(self.seeds) != 1:
            raise ValueError(
                f"parameter 'seeds': the report is of one trained model, so give one seed, got {list(self.seeds)}"
            )
        try:
            ModelSource(self.source)
        except ValueError:
            raise ValueError(f"parameter 'source' must be 'auto' or 'train', got {self.source!r}") from None
        if self.n_bootstrap < 10:
            raise ValueError(f"parameter 'n_bootstrap' must be >= 10 resamples, got {self.n_bootstrap}")
        if not self.costs or not all(0 < c < 0.5 for c in self.costs):
            raise ValueError(f"parameter 'costs': deferral costs must lie in (0, 0.5), got {list(self.costs)}")
        if self.max_map_images < 1:
            raise ValueError(f"parameter 'max_map_images' must be >= 1, got {self.max_map_images}")


def _from_baseline(profile: str) -> dict:
    """01's preset of ``profile`` without its list of backbones (this study reports on one of them)."""
    return {k: v for k, v in BASELINE_PRESETS[profile].items() if k not in ("backbones", "seeds")}


#: Each profile is 01's (so that 01's saved weights fit it) with DenseNet-121, the source's network, which
#: 01 trains on every profile. ``smoke`` draws 200 bootstrap resamples instead of 1,000.
PRESETS = {
    "smoke": {**_from_baseline("smoke"), "n_bootstrap": 200},
    "default": _from_baseline("default"),
    "full": _from_baseline("full"),
}


def reliability_settings(profile: str = "default", **overrides) -> ReliabilitySettings:
    """Settings for ``profile`` with every non-None override applied."""
    return resolve_settings(ReliabilitySettings, PRESETS, profile, **overrides)


def training_settings(settings: ReliabilitySettings) -> BaselineSettings:
    """The settings of notebook 01 that train this study's model: every field the two share, and
    ``backbone`` as 01's only backbone."""
    shared = {f.name: getattr(settings, f.name) for f in fields(BaselineSettings) if hasattr(settings, f.name)}
    return BaselineSettings(**{**shared, "backbones": (settings.backbone,)})


#: parameter descriptions of its own (the rest: shared_settings.PARAMETER_HELP); its notebook shows them
STUDY_HELP = {
    "backbone": "the backbone of notebook 01 to report on: densenet121, resnet50, resnet101, vgg19, small-cnn",
    "output_stride": "8, 16 or 32 pixels per class-map cell; None: the backbone's own",
    "epochs": "maximum epochs of 01's training (stops at the second LR reduction)",
    "seeds": "the training seed of the model reported on (one)",
    "source": "auto: notebook 01's saved weights when they fit these settings, else trained here; train",
    "n_bootstrap": "bootstrap resamples of the test patients for every interval",
    "costs": "deferral costs c at which Chow's rule is tabulated, each in (0, 0.5)",
    "max_map_images": "test images mapped for localisation and the shortcut probe",
    "nih_sample": "also report on the 21 real NIH ChestX-ray14 images shipped with cxrlib",
}
