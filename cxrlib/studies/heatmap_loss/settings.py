"""Study 03: the parameters: the ``Settings`` dataclass, its presets and checks."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..common import check_backbone, resolve_settings
from ..shared_settings import ModelSettings

__all__ = [
    "STUDY_HELP",
    "Experiment",
    "HeatmapLossSettings",
    "PRESETS",
    "heatmap_loss_settings",
    "ARMS",
    "CCE_ARM",
    "SCORES",
]


class Experiment(str, Enum):
    SIZE = "1"  #: SynthCMR with sex-related size differences
    MARKER = "2"  #: SynthCMR without size differences, a marker on male images
    CXR_SHORTCUT = "3"  #: SynthCXR with a shortcut marker tied to one class in training


@dataclass
class HeatmapLossSettings(ModelSettings):
    experiments: tuple[str, ...] = ("1", "2", "3")
    group_size: int = 8  #: models per arm and experiment
    lrs: tuple[float, ...] = (1e-3, 2e-3, 3e-3)  #: learning rates, cycled over a group's models
    backbone: str = "small-cnn"
    heatmap_weight: float = 1.0  #: w
    heatmap_form: str = "fraction"  #: "fraction" (share of the map outside the mask) or "raw" (the source's sum)
    classification: str = "mse"  #: SynthCMR: "mse" on the softmax (the source's) or "ce"
    cce_control: bool = True  #: SynthCMR: also train the source's control arm, cross-entropy without the map term
    accuracy_threshold: float = 0.95  #: SynthCMR models under this validation accuracy are discarded
    alpha: float = 0.05
    cmr_n: int = 800
    epochs: int = 8
    batch_size: int = 32
    cxr_n: int = 1200
    cxr_test_n: int = 400  #: images of each SynthCXR test set (no marker; inverted marker)
    cxr_epochs: int = 8
    shortcut_class: str = "Consolidation"
    shortcut_rate: float = 0.9  #: training/validation: the marker agrees with the class this often

    def __post_init__(self) -> None:
        super().__post_init__()
        bad = [e for e in self.experiments if e not in [x.value for x in Experiment]]
        if bad or not self.experiments:
            raise ValueError(f"parameter 'experiments': unknown {bad or 'empty list'}; use any of 1, 2, 3")
        if self.group_size < 1:
            raise ValueError(f"parameter 'group_size' must be >= 1, got {self.group_size}")
        if not self.lrs or any(lr <= 0 for lr in self.lrs):
            raise ValueError(f"parameter 'lrs' must be positive learning rates, got {self.lrs!r}")
        check_backbone(self.backbone)
        if self.heatmap_form not in ("fraction", "raw"):
            raise ValueError(f"parameter 'heatmap_form' must be 'fraction' or 'raw', got {self.heatmap_form!r}")
        if self.classification not in ("mse", "ce"):
            raise ValueError(f"parameter 'classification' must be 'mse' or 'ce', got {self.classification!r}")
        if not 0 <= self.accuracy_threshold <= 1 or not 0 < self.shortcut_rate <= 1:
            raise ValueError("parameters 'accuracy_threshold' and 'shortcut_rate' must lie in [0, 1]")
        if self.heatmap_weight <= 0:
            raise ValueError(
                f"parameter 'heatmap_weight' must be > 0 (the 'none' arm is w = 0), got {self.heatmap_weight}"
            )


#: Budgets on a 2-core CPU: smoke <= 90 s, default <= 4 min (small CNN, 64 px, 5 models per arm). On
#: these budgets a model trained with the heatmap loss reaches 90-95% validation accuracy rather than
#: the source's 95%, so the CPU profiles discard under 90% (smoke: 80%); ``full`` trains the source's
#: group size of ~30 models per arm at 128 px with its 95% threshold.
PRESETS = {
    "smoke": {
        "group_size": 3,
        "cmr_n": 480,
        "epochs": 8,
        "cxr_n": 600,
        "cxr_test_n": 200,
        "cxr_epochs": 5,
        "accuracy_threshold": 0.8,
    },
    "default": {
        "group_size": 5,
        "cmr_n": 800,
        "epochs": 8,
        "cxr_n": 800,
        "cxr_test_n": 300,
        "cxr_epochs": 5,
        "accuracy_threshold": 0.9,
    },
    "full": {
        "group_size": 30,
        "cmr_n": 3000,
        "image_size": 128,
        "epochs": 15,
        "cxr_n": 6000,
        "cxr_test_n": 1000,
        "cxr_epochs": 15,
        "accuracy_threshold": 0.95,
        "heatmap_form": "raw",
    },
}


def heatmap_loss_settings(profile: str = "default", **overrides) -> HeatmapLossSettings:
    """Settings for ``profile`` with every non-None override applied."""
    return resolve_settings(HeatmapLossSettings, PRESETS, profile, **overrides)


#: parameter descriptions of its own (the rest: shared_settings.PARAMETER_HELP); its notebook shows them
STUDY_HELP = {
    "experiments": "any of 1 (size differences), 2 (marker on male images), 3 (chest X-ray shortcut)",
    "group_size": "models per arm and experiment (the source: about 30)",
    "lrs": "learning rates, cycled over each group's models",
    "backbone": "small-cnn, or densenet121, resnet50, resnet101, vgg19",
    "heatmap_weight": "w: weight of the heatmap term in the 'heatmap loss' arm",
    "heatmap_form": "fraction (share of the map outside the mask) or raw (the source's sum)",
    "classification": "SynthCMR: mse on the softmax (the source's) or ce",
    "cce_control": "SynthCMR: also train the source's control arm (categorical cross-entropy, no map term)",
    "accuracy_threshold": "SynthCMR: discard models under this validation accuracy (the source: 0.95)",
    "alpha": "significance level of the tests",
    "cmr_n": "SynthCMR images per experiment (70/15/15 split)",
    "image_size": "pixels per side",
    "epochs": "maximum epochs per SynthCMR model",
    "cxr_n": "SynthCXR images of experiment 3's training set (70/15/15 split)",
    "cxr_test_n": "images of each of experiment 3's two test sets",
    "cxr_epochs": "maximum epochs per SynthCXR model",
    "shortcut_class": "experiment 3: the finding the marker agrees with in training",
    "shortcut_rate": "experiment 3: how often marker and finding agree in training",
    "data_seed": "seed of the generators",
}


#: the two arms of every experiment: the same loss without (w = 0) and with the map term
ARMS = ("none", "heatmap loss")

#: experiments 1 and 2: the source's control, a model trained with categorical cross-entropy alone
CCE_ARM = "cce"


#: the per-model scores compared between arms, per experiment
SCORES = {
    "1": ("heart overlap",),
    "2": ("heart overlap", "marker overlap (male)"),
    "3": ("shortcut AUROC (no marker)", "shortcut AUROC (inverted)", "map on marker"),
}
