"""Study 02: the parameters: the ``Settings`` dataclass, its presets and checks."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ...saliency import CDLatent
from ..common import (
    check_backbone,
    resolve_settings,
)
from ..shared_settings import ChestDataSettings, TrainingSettings

__all__ = ["STUDY_HELP", "Arm", "SaliencyLossSettings", "PRESETS", "saliency_loss_settings", "coherence_label"]


class Arm(str, Enum):
    CE = "ce"  #: weighted BCE
    CUSTOM = "custom"  #: weighted BCE + λ1·L_CD, from scratch (the source's Table 4.1 "Custom")
    MODIFIED = "modified"  #: CE's best weights, then the custom loss
    COHERENCE = "coherence"  #: weighted BCE + λ1·L_CD + λ2·L_SC, from scratch (the source's untrained full loss)


def coherence_label(lambda_sc: float) -> str:
    """The Coherence arm's name in tables: the Custom loss plus λ2·L_SC."""
    return f"Custom + L_SC (λ2={lambda_sc:g})"


@dataclass
class SaliencyLossSettings(ChestDataSettings, TrainingSettings):
    backbone: str = "densenet121"
    output_stride: int | None = 8
    arms: tuple[str, ...] = ("ce", "custom", "modified", "coherence")
    lambda_cd: float = 1.4  #: λ1, weight of the class-distinctiveness loss (the source's 1.4)
    cd_latent: str = "features"  #: what L_CD compares: "features" (map-pooled feature vectors) or "maps"
    lambda_sc: float = 10.0  #: λ2, weight of the spatial-coherence loss in the Coherence arm (the source gives none)
    lambda_grid: tuple[float, ...] = ()  #: further λ1 values for the Custom arm
    second_epochs: int = 3  #: epochs of the Modified arm's second stage

    def __post_init__(self) -> None:
        super().__post_init__()
        check_backbone(self.backbone)
        arms = [a.value for a in Arm]
        bad = [a for a in self.arms if a not in arms]
        if bad or not self.arms:
            raise ValueError(f"parameter 'arms': unknown {bad or 'empty list'}; use any of {arms}")
        if self.output_stride not in (None, 8, 16, 32):
            raise ValueError(f"parameter 'output_stride' must be 8, 16, 32 or None, got {self.output_stride!r}")
        if "coherence" in self.arms and self.lambda_sc <= 0:
            raise ValueError("parameter 'lambda_sc' must be > 0 for the coherence arm (or leave that arm out)")
        if self.cd_latent not in [v.value for v in CDLatent]:
            raise ValueError(
                f"parameter 'cd_latent' must be one of {[v.value for v in CDLatent]}, got {self.cd_latent!r}"
            )
        if self.lambda_cd < 0 or self.lambda_sc < 0 or any(v < 0 for v in self.lambda_grid):
            raise ValueError("parameters 'lambda_cd', 'lambda_sc' and 'lambda_grid' must be >= 0")
        if not self.seeds:
            raise ValueError("parameter 'seeds': give at least one seed")


#: On a 2-core CPU one DenseNet-121 epoch at 64 px and output stride 8 takes ~30 s, so three arms
#: over several seeds do not fit 4 minutes: the CPU profiles train the small CNN (average pooling +
#: linear head, so L_CD has the same closed form) over three seeds, which gives intervals; ``full``
#: trains the source's DenseNet-121 at 224 px with its Adam 1e-4 and a small λ1 grid.
PRESETS = {
    "smoke": {"n": 600, "epochs": 3, "second_epochs": 2, "backbone": "small-cnn", "seeds": (0, 1)},
    "default": {"n": 1500, "epochs": 8, "second_epochs": 4, "backbone": "small-cnn", "seeds": (0, 1, 2)},
    "full": {
        "pretrained": True,
        "n": 20000,
        "image_size": 224,
        "epochs": 15,
        "second_epochs": 5,
        "batch_size": 64,
        "lr": 1e-4,
        "seeds": (0, 1, 2, 3, 4),
        "backbone": "densenet121",
        "output_stride": 16,
        "lambda_grid": (0.5, 3.0),
    },
}


def saliency_loss_settings(profile: str = "default", **overrides) -> SaliencyLossSettings:
    """Settings for ``profile`` with every non-None override applied."""
    return resolve_settings(SaliencyLossSettings, PRESETS, profile, **overrides)


#: parameter descriptions of its own (the rest: shared_settings.PARAMETER_HELP); its notebook shows them
STUDY_HELP = {
    "backbone": "densenet121 (the source's), resnet101, vgg19, resnet50 or small-cnn",
    "output_stride": "8, 16 or 32 pixels per Grad-CAM cell; None: the backbone's own",
    "arms": "any of ce, custom, modified, coherence (custom + λ2·L_SC)",
    "lambda_cd": "λ1: weight of the class-distinctiveness loss (the source's 1.4)",
    "cd_latent": "what L_CD compares: features (each map pools the feature map) or maps (the maps themselves)",
    "lambda_sc": "λ2: weight of the spatial-coherence loss in the coherence arm",
    "lambda_grid": "further λ1 values for the Custom arm, e.g. 0.5,3.0",
    "epochs": "maximum epochs of CE and Custom (stops at the second LR reduction)",
    "second_epochs": "maximum epochs of the Modified arm's second stage",
}
