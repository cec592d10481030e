"""The parameters every study shares, declared once: each study's ``Settings`` extends these dataclasses
(the papermill parameters stay flat: a study's notebook sees one flat list of fields) and re-declares a
field only where its default differs.

- :class:`StudySettings`: the profile, the image size, the data seed and progress bars.
- :class:`ModelSettings`: the device a study's networks run on (every study but the data overview).
- :class:`ChestDataSettings`: which chest X-ray source and how it is opened (SynthCXR's size, classes,
  label policy, uncertain share and prevalence, or a real source's folder).
- :class:`TrainingSettings` (a :class:`ModelSettings`): the training loop's epochs, batch size,
  learning rate, weight decay, seeds and ImageNet start.

Their checks run in ``__post_init__`` (a study's own ``__post_init__`` calls ``super().__post_init__()``
first), and :data:`PARAMETER_HELP` holds the one-line descriptions the notebooks' parameter cells show
for them (``papermill --help-notebook``); a study states its own where its meaning is narrower
(:data:`STUDY_HELP` in its settings module; a test compares every notebook's cell with them).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "StudySettings",
    "ModelSettings",
    "ChestDataSettings",
    "TrainingSettings",
    "PARAMETER_HELP",
    "OUTPUT_STRIDES",
]

#: the output strides a backbone's last feature map may have (None: the backbone's own)
OUTPUT_STRIDES = (None, 8, 16, 32)

#: ``--help-notebook`` descriptions of the shared parameters
PARAMETER_HELP = {
    "profile": "smoke | default | full: the preset the other parameters start from",
    "image_size": "pixels per side of the images the models see",
    "device": "auto (a GPU when there is one), cpu or cuda",
    "data_seed": "seed of the SynthCXR generator and of the patient split",
    "progress": "progress bars (the book build turns them off)",
    "dataset": "synth-cxr, or chexpert, mimic, nih, vindr, mura (needs data_root)",
    "data_root": "folder holding the real dataset's files; None for synth-cxr",
    "n": "SynthCXR images to generate (70/15/15 patient split)",
    "classes": "class preset (chexpert5, all, nih-boxes) or a list of class names",
    "label_policy": "uncertain labels: ones, zeros, ignore, or a preset (sharma2023, libauc)",
    "uncertain_rate": "SynthCXR: share of labels reported uncertain (-1)",
    "prevalence": "SynthCXR: prevalence of every class; None: per-class defaults",
    "epochs": "maximum epochs per model (stops at the second LR reduction)",
    "batch_size": "images per training step",
    "lr": "Adam learning rate",
    "weight_decay": "Adam weight decay",
    "seeds": "training seeds; several give 95% Student-t intervals",
    "pretrained": "True: start from ImageNet weights (must be in torch's cache)",
}


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass
class StudySettings:
    profile: str = "default"
    image_size: int = 64
    data_seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        _check(self.image_size >= 16, f"parameter 'image_size' must be >= 16 pixels, got {self.image_size}")
        _check(self.data_seed >= 0, f"parameter 'data_seed' must be >= 0, got {self.data_seed}")
        if hasattr(self, "output_stride"):
            _check(
                self.output_stride in OUTPUT_STRIDES,
                f"parameter 'output_stride' must be 8, 16, 32 or None, got {self.output_stride!r}",
            )


@dataclass
class ModelSettings(StudySettings):
    device: str = "auto"


@dataclass
class ChestDataSettings(StudySettings):
    dataset: str = "synth-cxr"
    data_root: str | None = None
    n: int = 1500
    classes: str | tuple[str, ...] = "chexpert5"  #: a preset ("chexpert5", "all"...) or class names
    label_policy: str = "sharma2023"
    uncertain_rate: float = 0.1
    prevalence: float | None = 0.25

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.n >= 1, f"parameter 'n' must be >= 1, got {self.n}")
        _check(
            0.0 <= self.uncertain_rate <= 1.0,
            f"parameter 'uncertain_rate' must lie in [0, 1], got {self.uncertain_rate}",
        )


@dataclass
class TrainingSettings(ModelSettings):
    epochs: int = 5
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-5
    seeds: tuple[int, ...] = (0, 1, 2)
    pretrained: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.epochs >= 1, f"parameter 'epochs' must be >= 1, got {self.epochs}")
        _check(self.batch_size >= 1, f"parameter 'batch_size' must be >= 1, got {self.batch_size}")
        _check(self.lr > 0, f"parameter 'lr' must be > 0, got {self.lr}")
        _check(self.weight_decay >= 0, f"parameter 'weight_decay' must be >= 0, got {self.weight_decay}")
