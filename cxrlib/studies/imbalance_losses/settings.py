"""Study 04: the parameters: the ``Settings`` dataclass, its presets and checks."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ...models import Backbone
from ..common import (
    resolve_settings,
)
from ..shared_settings import ChestDataSettings, TrainingSettings

__all__ = [
    "STUDY_HELP",
    "Loss",
    "AUCRecipe",
    "ImbalanceLossSettings",
    "check_losses",
    "PRESETS",
    "imbalance_loss_settings",
    "LOSS_LABELS",
]


class AUCRecipe(str, Enum):
    LIBAUC = "libauc"  #: LibAUC's: the CE model, a fresh head, AUC-M with PESG (lr 0.1) for a few epochs
    SOURCE = "source"  #: the report's: AUC-M trained from the start like every loss (Adam at ``lr``, ``epochs``)


class Loss(str, Enum):
    WBCE = "wbce"  #: weighted BCE (the source's cross-entropy)
    FOCAL = "focal"  #: sigmoid focal loss
    AUCM = "aucm"  #: AUC-margin loss (DeepAUC), trained as ``auc_recipe`` says


@dataclass
class ImbalanceLossSettings(ChestDataSettings, TrainingSettings):
    prevalence: float | None = None  #: None: SynthCXR's CheXpert-like per-class defaults
    backbone: str = "densenet121"
    output_stride: int | None = 8
    losses: tuple[str, ...] = ("wbce", "focal", "aucm")
    focal_gamma: float = 2.0
    focal_alpha: float | None = None  #: weight of the positives in the focal loss (None: unweighted)
    auc_recipe: str = "libauc"  #: "libauc" (CE, fresh head, PESG) or "source" (Adam from the start, every loss's)
    auc_margin: float = 1.0  #: AUC-M margin m
    auc_lr: float = 0.1  #: PESG learning rate of the fine-tuning (LibAUC's 0.1), divided by 10 after each epoch
    auc_epochs: int = 2  #: epochs of AUC-M fine-tuning after the CE stage (LibAUC's CheXpert recipe: 2)
    sweep_class: str | None = "Pleural Effusion"  #: None: no prevalence sweep
    sweep_prevalences: tuple[float, ...] = (0.01, 0.05, 0.2, 0.5)
    sweep_seeds: tuple[int, ...] = (0,)

    def __post_init__(self) -> None:
        super().__post_init__()
        known = [b.value for b in Backbone]
        if self.backbone not in known:
            raise ValueError(f"parameter 'backbone': unknown {self.backbone!r}; use one of {known}")
        check_losses(self.losses)
        if self.output_stride not in (None, 8, 16, 32):
            raise ValueError(f"parameter 'output_stride' must be 8, 16, 32 or None, got {self.output_stride!r}")
        if self.focal_gamma < 0:
            raise ValueError(f"parameter 'focal_gamma' must be >= 0, got {self.focal_gamma}")
        if self.focal_alpha is not None and not 0 <= self.focal_alpha <= 1:
            raise ValueError(f"parameter 'focal_alpha' must lie in [0, 1] or be None, got {self.focal_alpha}")
        if self.auc_recipe not in [r.value for r in AUCRecipe]:
            raise ValueError(
                f"parameter 'auc_recipe' must be one of {[r.value for r in AUCRecipe]}, got {self.auc_recipe!r}"
            )
        if self.auc_margin <= 0 or self.auc_lr <= 0 or self.auc_epochs < 1:
            raise ValueError("parameters 'auc_margin' and 'auc_lr' must be > 0 and 'auc_epochs' >= 1")
        if not self.seeds:
            raise ValueError("parameter 'seeds': give at least one seed")
        if self.sweep_class is not None:
            bad = [p for p in self.sweep_prevalences if not 0 < p < 1]
            if bad or not self.sweep_prevalences:
                raise ValueError(
                    f"parameter 'sweep_prevalences' needs values strictly between 0 and 1, got {self.sweep_prevalences}"
                )
            if not self.sweep_seeds:
                raise ValueError("parameter 'sweep_seeds': give at least one seed (or sweep_class=None: no sweep)")


def check_losses(losses) -> None:
    names = [v.value for v in Loss]
    bad = [v for v in losses if v not in names]
    if bad or not losses:
        raise ValueError(f"parameter 'losses': unknown {bad or 'empty list'}; use any of {names}")


#: On a 2-core CPU one DenseNet-121 epoch at 64 px and output stride 8 takes ~30 s, so three losses
#: over several seeds plus a prevalence sweep do not fit 4 minutes: the CPU profiles train the small CNN
#: (output stride 8: 8×8 Grad-CAM maps) over several seeds, which gives intervals and (``default``) the
#: three CE members the calibration study (05) ensembles (with fewer seeds 05 trains the missing ones);
#: ``full`` trains the source's DenseNet-121 at 224 px with its Adam 1e-4, batch 64 and 5 epochs, over
#: five seeds and a three-seed sweep.
PRESETS = {
    "smoke": {"n": 500, "epochs": 3, "backbone": "small-cnn", "seeds": (0, 1), "sweep_prevalences": (0.02, 0.5)},
    "default": {"n": 1500, "epochs": 5, "backbone": "small-cnn", "seeds": (0, 1, 2)},
    "full": {
        "pretrained": True,
        "n": 20000,
        "image_size": 224,
        "epochs": 5,
        "batch_size": 64,
        "lr": 1e-4,
        "seeds": (0, 1, 2, 3, 4),
        "sweep_seeds": (0, 1, 2),
        "backbone": "densenet121",
        "output_stride": 16,
        "auc_recipe": "source",
    },
}


def imbalance_loss_settings(profile: str = "default", **overrides) -> ImbalanceLossSettings:
    """Settings for ``profile`` with every non-None override applied."""
    return resolve_settings(ImbalanceLossSettings, PRESETS, profile, **overrides)


#: parameter descriptions of its own (the rest: shared_settings.PARAMETER_HELP); its notebook shows them
STUDY_HELP = {
    "prevalence": "SynthCXR: prevalence of every class; None: CheXpert-like per-class defaults",
    "backbone": "densenet121 (the source's), resnet101, vgg19, resnet50 or small-cnn",
    "output_stride": "8, 16 or 32 pixels per Grad-CAM cell; None: the backbone's own",
    "losses": "any of wbce (weighted CE), focal, aucm (AUC-M fine-tuning of the CE model)",
    "focal_gamma": "γ of the focal loss (0: plain BCE)",
    "focal_alpha": "weight of the positives in the focal loss, in [0, 1]; None: unweighted",
    "auc_recipe": "DeepAUC: libauc (CE model, fresh head, PESG) or source (Adam from the start)",
    "auc_margin": "margin m of the AUC-M loss",
    "auc_lr": "PESG learning rate of the AUC-M fine-tuning (divided by 10 after each epoch)",
    "auc_epochs": "epochs of AUC-M fine-tuning after the CE stage",
    "epochs": "maximum epochs of CE and focal (stops at the second LR reduction)",
    "lr": "Adam learning rate (CE and focal)",
    "weight_decay": "weight decay (Adam, and PESG)",
    "sweep_class": "class whose training prevalence is swept; None: no sweep",
    "sweep_prevalences": "training prevalences of the sweep, e.g. 0.01,0.05,0.2,0.5",
    "sweep_seeds": "training seeds at each prevalence of the sweep",
    "data_seed": "seed of the SynthCXR generator, the patient split and the sweep's subsets",
}


#: how tables and figures name each loss
LOSS_LABELS = {Loss.WBCE.value: "CE", Loss.FOCAL.value: "Focal", Loss.AUCM.value: "AUC-M"}
