"""Study 09: the parameters: the ``Settings`` dataclass, its presets and checks."""

from __future__ import annotations

from dataclasses import dataclass

from ..common import resolve_settings
from ..pylon import (
    VARIANTS,
    PylonSettings,
)

__all__ = ["ABLATIONS", "PylonAblationSettings", "PRESETS", "pylon_ablation_settings", "source_pylon_settings"]


#: Table 6.2's ablations (each changes one part of PYLON)
ABLATIONS = ("pylon-no-pyramid", "pylon-1-layer-up", "pylon-3x3-up", "pylon-3x3-head")


@dataclass
class PylonAblationSettings:
    profile: str = "default"
    dataset: str = "synth-cxr"
    data_root: str | None = None
    n: int = 480
    image_size: int = 64
    classes: str | tuple[str, ...] = "nih-boxes"  #: a preset ("nih-boxes", "all"...) or class names
    label_policy: str = "zeros"
    prevalence: float | None = 0.25
    encoder: str = "resnet18"
    epochs: int = 5
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0
    gap_seeds: tuple[int, ...] = (0, 1, 2)  #: seeds of PYLON and its +GAP variants (Table 6.1)
    ablations: tuple[str, ...] = ABLATIONS
    ablation_seeds: tuple[int, ...] = (0,)  #: seeds of each ablation (Table 6.2)
    target_dataset: str = "synth-cxr"
    target_root: str | None = None
    target_classes: str | tuple[str, ...] | None = None  #: None: the source's classes
    target_n: int = 300
    target_ap_fraction: float = 0.7
    target_left_fraction: float = 0.7
    n_readers: int = 3
    reader_sensitivity: float = 0.75
    reader_specificity: float = 0.97
    reader_box_jitter: float = 0.15
    reader_rule: str = "union"
    transfer_epochs: int = 6
    transfer_seeds: tuple[int, ...] = (0, 1)
    source: str = "auto"  #: "auto": notebook 08's weights when they fit, else trained here; "train"
    pretrained: bool = False
    device: str = "auto"
    data_seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        unknown = [m for m in self.ablations if m not in VARIANTS or not m.startswith("pylon")]
        if unknown:
            raise ValueError(f"parameter 'ablations': unknown {unknown}; use PYLON variants of {list(VARIANTS)}")
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
        if self.n_readers < 1:
            raise ValueError(f"parameter 'n_readers' must be at least 1, got {self.n_readers}")


#: Budgets on a 2-core CPU: smoke <= 90 s, default <= 4 min; ``full`` is the thesis's setting (GPU).
PRESETS = {
    "smoke": {
        "n": 300,
        "epochs": 2,
        "gap_seeds": (0, 1),
        "ablations": ("pylon-no-pyramid",),
        "ablation_seeds": (0,),
        "target_n": 200,
        "transfer_epochs": 2,
        "transfer_seeds": (0,),
    },
    "default": {},  # the field defaults below
    "full": {
        "n": 20000,
        "image_size": 256,
        "epochs": 30,
        "batch_size": 64,
        "lr": 1e-4,
        "encoder": "resnet50",
        "gap_seeds": (0, 1, 2, 3, 4),
        "ablation_seeds": (0, 1, 2, 3, 4),
        "target_n": 3000,
        "transfer_epochs": 30,
        "transfer_seeds": (0, 1, 2, 3, 4),
    },
}


def pylon_ablation_settings(profile: str = "default", **overrides) -> PylonAblationSettings:
    """Settings for ``profile`` with every non-None override applied."""
    return resolve_settings(PylonAblationSettings, PRESETS, profile, **overrides)


def source_pylon_settings(s: PylonAblationSettings, models: tuple[str, ...], seeds: tuple[int, ...], **changes):
    """Notebook 08's settings for part of this study: the shared fields of ``s``, then ``changes``."""
    fields = dict(
        profile=s.profile,
        dataset=s.dataset,
        data_root=s.data_root,
        n=s.n,
        image_size=s.image_size,
        classes=s.classes,
        label_policy=s.label_policy,
        prevalence=s.prevalence,
        models=models,
        encoder=s.encoder,
        epochs=s.epochs,
        batch_size=s.batch_size,
        lr=s.lr,
        weight_decay=s.weight_decay,
        seeds=seeds,
        pretrained=s.pretrained,
        device=s.device,
        data_seed=s.data_seed,
        progress=s.progress,
    )
    return PylonSettings(**{**fields, **changes})
