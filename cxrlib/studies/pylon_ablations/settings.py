"""Study 09: the parameters: the ``Settings`` dataclass, its presets and checks."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..common import resolve_settings
from ..pylon import (
    VARIANTS,
    PylonSettings,
)
from ..shared_settings import ModelSettings

__all__ = [
    "BASE",
    "GAP_VARIANTS",
    "GAP_BASELINES",
    "STUDY_HELP",
    "ABLATIONS",
    "PylonAblationSettings",
    "PRESETS",
    "pylon_ablation_settings",
    "source_pylon_settings",
]


#: the base model of the thesis's ablations: PYLON (UP1), one Conv1×1 in each UP module (its Fig. 6.2)
BASE = "pylon-up1"

#: Table 6.1 (B): PYLON (UP1) with a global average pooling in its PA or UP modules
GAP_VARIANTS = ("pylon-up1+gap-pa", "pylon-up1+gap-up")

#: Table 6.1 (A) and (C): PAN and DeepLabV3+ with and without the global pooling of their decoders
GAP_BASELINES = ("pan", "pan-no-gap-fpa", "pan-no-gap-gau", "pan-no-gap", "deeplabv3plus", "deeplabv3plus-no-gap")

#: Table 6.2's ablations, each against PYLON (UP1): (A) no pyramid, (B) a Conv 3×3 UP and the two-layer
#: UP of PYLON itself, (C) a Conv 3×3 head
ABLATIONS = ("pylon-up1-no-pyramid", "pylon-up1-3x3-up", "pylon", "pylon-up1-3x3-head")


@dataclass
class PylonAblationSettings(ModelSettings):
    dataset: str = "synth-cxr"
    data_root: str | None = None
    n: int = 360
    classes: str | tuple[str, ...] = "nih-boxes"  #: a preset ("nih-boxes", "all"...) or class names
    label_policy: str = "zeros"
    prevalence: float | None = 0.25
    encoder: str = "resnet18"
    epochs: int = 4
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0
    gap_seeds: tuple[int, ...] = (0, 1, 2)  #: seeds of PYLON (UP1) and its +GAP variants (Table 6.1)
    gap_baselines: tuple[str, ...] = ()  #: Table 6.1 (A), (C): PAN / DeepLabV3+ with and without GAP (256 px)
    ablations: tuple[str, ...] = ABLATIONS
    ablation_seeds: tuple[int, ...] = (0,)  #: seeds of each ablation (Table 6.2)
    target_dataset: str = "synth-cxr"
    target_root: str | None = None
    target_classes: str | tuple[str, ...] | None = None  #: None: the source's classes
    target_n: int = 240
    target_ap_fraction: float = 0.7
    target_left_fraction: float = 0.7
    n_readers: int = 3
    reader_sensitivity: float = 0.75
    reader_specificity: float = 0.97
    reader_box_jitter: float = 0.15
    reader_rule: str = "union"
    transfer_epochs: int = 5
    transfer_seeds: tuple[int, ...] = (0, 1)
    transfer_baselines: tuple[str, ...] = ()  #: Table 5.5's other arms without transfer: li2018, fpn
    augment: bool = False  #: the thesis's augmentation in every fit (source task and transfer)
    source: str = "auto"  #: "auto": notebook 08's weights when they fit, else trained here; "train"
    pretrained: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        unknown = [m for m in self.ablations if m not in VARIANTS or not m.startswith("pylon")]
        if unknown:
            raise ValueError(f"parameter 'ablations': unknown {unknown}; use PYLON variants of {list(VARIANTS)}")
        unknown = [m for m in self.gap_baselines if m not in GAP_BASELINES]
        if unknown:
            raise ValueError(f"parameter 'gap_baselines': unknown {unknown}; use any of {list(GAP_BASELINES)}")
        if any(m.startswith("pan") for m in self.gap_baselines) and self.image_size % 256:
            raise ValueError(
                f"parameter 'gap_baselines': PAN needs an image_size that is a multiple of 256, got {self.image_size}"
            )
        if self.image_size % 32:
            raise ValueError(
                f"parameter 'image_size' must be a multiple of 32 (the encoder's stride), got {self.image_size}"
            )
        for name in ("gap_seeds", "transfer_seeds"):
            if not getattr(self, name):
                raise ValueError(f"parameter '{name}' must name at least one seed")
        if self.source not in ("auto", "train"):
            raise ValueError(f"parameter 'source' must be 'auto' or 'train', got {self.source!r}")
        if self.reader_rule not in ("union", "majority"):
            raise ValueError(f"parameter 'reader_rule' must be 'union' or 'majority', got {self.reader_rule!r}")
        unknown = [m for m in self.transfer_baselines if m not in ("li2018", "fpn")]
        if unknown:
            raise ValueError(f"parameter 'transfer_baselines': unknown {unknown}; use li2018, fpn")
        if self.n_readers < 1:
            raise ValueError(f"parameter 'n_readers' must be at least 1, got {self.n_readers}")


#: Budgets on a 2-core CPU: smoke <= 90 s, default <= 4 min; ``full`` is the thesis's setting (GPU).
#: At 480 images and three GAP seeds the default took 302 s here, nearly all of it the 13 source-side fits
#: (about 20 s each; the transfer fits take 9-14 s): hence 360 images and 4 epochs, keeping three GAP
#: seeds (three pairs for map agreement, and a Student-t interval that says something). That took 229 s
#: on a fresh clone; a 240-image target and 5 transfer epochs leave more room under the 4 minutes.
PRESETS = {
    "smoke": {
        "n": 300,
        "epochs": 2,
        "gap_seeds": (0, 1),
        "ablations": ("pylon-up1-no-pyramid",),
        "ablation_seeds": (0,),
        "target_n": 200,
        "transfer_epochs": 2,
        "transfer_seeds": (0,),
    },
    "default": {},  # the field defaults below
    "full": {
        "pretrained": True,
        "n": 20000,
        "image_size": 256,
        "epochs": 30,
        "batch_size": 64,
        "lr": 1e-4,
        "encoder": "resnet50",
        "classes": "all",  # the thesis trains all 14 NIH classes and scores the 8 boxed ones
        "gap_seeds": (0, 1, 2, 3, 4),
        "gap_baselines": GAP_BASELINES,
        "ablation_seeds": (0, 1, 2, 3, 4),
        "target_n": 3000,
        "transfer_epochs": 30,
        "transfer_seeds": (0, 1, 2, 3, 4),
        "transfer_baselines": ("li2018", "fpn"),
        "augment": True,
    },
}


def pylon_ablation_settings(profile: str = "default", **overrides) -> PylonAblationSettings:
    """Settings for ``profile`` with every non-None override applied."""
    return resolve_settings(PylonAblationSettings, PRESETS, profile, **overrides)


def source_pylon_settings(s: PylonAblationSettings, models: tuple[str, ...], seeds: tuple[int, ...], **changes):
    """Notebook 08's settings for part of this study: every field the two studies share, as ``s`` has it,
    the ``models`` and ``seeds`` asked for, then ``changes``."""
    own = {f.name for f in dataclasses.fields(s)}
    fields = {f.name: getattr(s, f.name) for f in dataclasses.fields(PylonSettings) if f.name in own}
    fields.update(models=models, seeds=seeds)
    return PylonSettings(**{**fields, **changes})


#: parameter descriptions of its own (the rest: shared_settings.PARAMETER_HELP); its notebook shows them
STUDY_HELP = {
    "dataset": "source task: synth-cxr, or nih, vindr (needs data_root; the test split must have boxes)",
    "n": "SynthCXR images to generate for part 1 (70/15/15 patient split)",
    "image_size": "pixels per side (a multiple of 32)",
    "classes": "class preset (nih-boxes, all) or a list of class names",
    "encoder": "segmentation-models-pytorch encoder shared by every model (resnet18, resnet50...)",
    "epochs": "part 1: maximum epochs (stops at the second learning-rate reduction)",
    "lr": "Adam learning rate (both phases of two-phase transfer too)",
    "gap_seeds": "seeds of PYLON (UP1), its +GAP variants and the GAP baselines (Table 6.1)",
    "gap_baselines": "Table 6.1 (A), (C): pan, pan-no-gap-fpa, pan-no-gap-gau, pan-no-gap, deeplabv3plus...",
    "ablations": "Table 6.2, on PYLON (UP1): pylon-up1-no-pyramid, pylon-up1-3x3-up, pylon, pylon-up1-3x3-head",
    "ablation_seeds": "seeds of each ablation",
    "target_dataset": "transfer target: synth-cxr (shifted, read by simulated readers) or vindr",
    "target_root": "folder holding the real target dataset; None for synth-cxr",
    "target_classes": "the target's classes; None: the source's",
    "target_n": "SynthCXR target images to generate (small, as VinDr-CXR is beside NIH)",
    "target_ap_fraction": "SynthCXR target: share of AP views (the source has 0.3)",
    "target_left_fraction": "SynthCXR target: share of one-sided findings in the left lung (the source has 0.5)",
    "n_readers": "SynthCXR target: simulated readers per image (VinDr-CXR has three)",
    "reader_sensitivity": "SynthCXR target: each reader's chance to mark a true finding",
    "reader_specificity": "SynthCXR target: each reader's chance to leave an absent finding unmarked",
    "reader_box_jitter": "SynthCXR target: s.d. of each box edge, as a share of the box size",
    "reader_rule": "union (any reader, as the thesis on VinDr) or majority (two or more)",
    "transfer_epochs": "maximum epochs of each transfer fit (each phase of two-phase)",
    "transfer_seeds": "seeds of each transfer arm",
    "transfer_baselines": "Table 5.5's other arms without transfer: li2018, fpn",
    "augment": "True: the thesis's augmentation (rotation, flip, brightness/contrast, resized crop) in every fit",
    "source": "auto: notebook 08's saved PYLON and GMP when they fit, else trained here; train: always here",
    "pretrained": "True: start from ImageNet weights (must be in the hub cache)",
    "data_seed": "seed of the SynthCXR generator and patient split (the target uses data_seed + 1)",
}
