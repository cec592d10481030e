"""Study 08: the parameters: the ``Settings`` dataclass, its presets and checks."""

from __future__ import annotations

from dataclasses import dataclass

from ..common import (
    resolve_settings,
)
from ..shared_settings import ChestDataSettings, TrainingSettings

__all__ = [
    "STUDY_HELP",
    "VARIANTS",
    "VARIANT_LABELS",
    "PylonSettings",
    "PRESETS",
    "pylon_settings",
    "SMALL_LESION_AREA",
    "COMPARABLE_AUROC",
]


#: model names the study understands: architecture and build options (PYLON's ablations of ch. 6)
VARIANTS: dict[str, tuple[str, dict]] = {
    "pylon": ("pylon", {}),
    "gmp": ("gmp", {}),
    "li2018": ("li2018", {}),
    "unet": ("unet", {}),
    "fpn": ("fpn", {}),
    "deeplabv3plus": ("deeplabv3plus", {}),
    "pan": ("pan", {}),
    "pylon-no-pyramid": ("pylon", {"pyramid": False}),
    "pylon-1-layer-up": ("pylon", {"up_layers": 1}),
    "pylon-3x3-up": ("pylon", {"up_kernel": 3}),
    "pylon-3x3-head": ("pylon", {"head_kernel": 3}),
    "pylon+gap-pa": ("pylon", {"gap_in_pa": True}),
    "pylon+gap-up": ("pylon", {"gap_in_up": True}),
    "pylon-light-up": ("pylon", {"light_up": True}),
    # the thesis's ablations are built on PYLON (UP1), one Conv1×1 in each UP module (Fig. 6.2)
    "pylon-up1": ("pylon", {"up_layers": 1}),
    "pylon-up1-no-pyramid": ("pylon", {"up_layers": 1, "pyramid": False}),
    "pylon-up1-3x3-up": ("pylon", {"up_layers": 1, "up_kernel": 3}),
    "pylon-up1-3x3-head": ("pylon", {"up_layers": 1, "head_kernel": 3}),
    "pylon-up1+gap-pa": ("pylon", {"up_layers": 1, "gap_in_pa": True}),
    "pylon-up1+gap-up": ("pylon", {"up_layers": 1, "gap_in_up": True}),
    # Table 6.1 (A) and (C): the baselines with their global pooling taken out, as the reference code does
    "pan-no-gap-fpa": ("pan", {"gap_in_fpa": False}),
    "pan-no-gap-gau": ("pan", {"gap_in_gau": False}),
    "pan-no-gap": ("pan", {"gap_in_fpa": False, "gap_in_gau": False}),
    "deeplabv3plus-no-gap": ("deeplabv3plus", {"image_pooling": False}),
    # §6.1: FPN with its own GroupNorm (the thesis's FPN baseline uses BatchNorm)
    "fpn-groupnorm": ("fpn", {"norm": "group"}),
}

#: how a reader meets each model (run headers): the thesis's names, the ablations spelled out
VARIANT_LABELS: dict[str, str] = {
    "pylon": "PYLON",
    "gmp": "GMP baseline",
    "li2018": "Li et al. 2018",
    "unet": "U-Net",
    "fpn": "FPN",
    "deeplabv3plus": "DeepLabV3+",
    "pan": "PAN",
    "pylon-no-pyramid": "PYLON without pyramid attention",
    "pylon-1-layer-up": "PYLON, one-layer UP",
    "pylon-3x3-up": "PYLON, 3×3 UP",
    "pylon-3x3-head": "PYLON, 3×3 head",
    "pylon+gap-pa": "PYLON + GAP in PA",
    "pylon+gap-up": "PYLON + GAP in UP",
    "pylon-light-up": "PYLON, light UP",
    "pylon-up1": "PYLON (UP1)",
    "pylon-up1-no-pyramid": "PYLON (no PY, UP1)",
    "pylon-up1-3x3-up": "PYLON (UP1, Conv 3×3 UP)",
    "pylon-up1-3x3-head": "PYLON (UP1, Head 3×3)",
    "pylon-up1+gap-pa": "PYLON (UP1) + GAP in PA",
    "pylon-up1+gap-up": "PYLON (UP1) + GAP in UP",
    "pan-no-gap-fpa": "PAN − GAP in FPA",
    "pan-no-gap-gau": "PAN − GAP in GAU",
    "pan-no-gap": "PAN − all GAP",
    "deeplabv3plus-no-gap": "DeepLabV3+ − all GAP",
    "fpn-groupnorm": "FPN (group norm)",
}


@dataclass
class PylonSettings(ChestDataSettings, TrainingSettings):
    n: int = 800
    classes: str | tuple[str, ...] = "nih-boxes"  #: a preset ("nih-boxes", "all"...) or class names
    label_policy: str = "zeros"
    uncertain_rate: float = 0.0
    models: tuple[str, ...] = ("pylon", "gmp")
    encoder: str = "resnet18"
    epochs: int = 6
    weight_decay: float = 0.0
    augment: bool = False
    seeds: tuple[int, ...] = (0, 1)

    def __post_init__(self) -> None:
        super().__post_init__()
        unknown = [m for m in self.models if m not in VARIANTS]
        if unknown or not self.models:
            raise ValueError(f"parameter 'models': unknown {unknown or 'empty list'}; use any of {list(VARIANTS)}")
        if any(VARIANTS[m][0] == "pan" for m in self.models) and self.image_size % 256:
            raise ValueError(
                f"parameter 'models': PAN's pyramid halves the stride-32 map three times, so it needs an image_size "
                f"that is a multiple of 256, got {self.image_size}"
            )
        if self.image_size % 32:
            raise ValueError(
                f"parameter 'image_size' must be a multiple of 32 (the encoder's stride), got {self.image_size}"
            )
        if not self.seeds:
            raise ValueError("parameter 'seeds' must name at least one seed")


#: Budgets on a 2-core CPU: smoke <= 90 s, default <= 4 min. ResNet-18 from scratch at 64 px is what
#: fits: PYLON's maps are 16×16 there, the GMP baseline's 2×2. ``default`` adds the two cheapest other
#: baselines (Li 2018, FPN); at 800 images and 6 epochs its eight fits took 346 s of a 352-s run here
#: (PYLON 46 s a seed, GMP 56, Li 2018 30, FPN 41), hence 600 images and 5 epochs (U-Net takes about
#: 90 s a seed, DeepLabV3+ 30 s, PAN needs 256 px). ``full`` (a GPU box) is the thesis's setting:
#: ResNet-50, 256 px, every baseline, augmentation, Adam 1e-4, five seeds.
PRESETS = {
    "smoke": {"n": 400, "image_size": 64, "epochs": 2, "models": ("pylon", "gmp"), "seeds": (0,)},
    "default": {"n": 600, "image_size": 64, "epochs": 5, "models": ("pylon", "gmp", "li2018", "fpn"), "seeds": (0, 1)},
    "full": {
        "pretrained": True,
        "n": 20000,
        "image_size": 256,
        "epochs": 30,
        "batch_size": 64,
        "lr": 1e-4,
        "encoder": "resnet50",
        "augment": True,
        "classes": "all",  # the thesis trains all 14 NIH classes and scores the 8 boxed ones
        "seeds": (0, 1, 2, 3, 4),
        "models": ("gmp", "li2018", "unet", "fpn", "deeplabv3plus", "pan", "pylon"),
    },
}


def pylon_settings(profile: str = "default", **overrides) -> PylonSettings:
    """Settings for ``profile`` with every non-None override applied."""
    return resolve_settings(PylonSettings, PRESETS, profile, **overrides)


#: parameter descriptions of its own (the rest: shared_settings.PARAMETER_HELP); its notebook shows them
STUDY_HELP = {
    "dataset": "synth-cxr, or nih, vindr (needs data_root; the test split must have boxes)",
    "image_size": "pixels per side (a multiple of 32; PAN needs a multiple of 256)",
    "classes": "class preset (nih-boxes, all) or a list of class names",
    "models": "pylon, gmp, li2018, unet, fpn, deeplabv3plus, pan, or an ablation: pylon-no-pyramid, pylon+gap-pa...",
    "encoder": "segmentation-models-pytorch encoder shared by every model (resnet18, resnet50...)",
    "epochs": "maximum epochs (stops at the second learning-rate reduction)",
    "augment": "True: the thesis's augmentation (rotation, flip, brightness/contrast, resized crop)",
    "pretrained": "True: start from ImageNet weights (must be in the hub cache)",
}


#: a class is a small-lesion class when its median truth box covers less than this share of the image
SMALL_LESION_AREA = 0.025


#: PYLON's AUROC counts as comparable to GMP's when it is at most this much lower
COMPARABLE_AUROC = 0.03
