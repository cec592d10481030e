"""Study 00: the parameters: the ``Settings`` dataclass, its presets and checks."""

from __future__ import annotations

from dataclasses import dataclass

from ..common import resolve_settings
from ..shared_settings import StudySettings

__all__ = ["STUDY_HELP", "DataSettings", "PRESETS", "data_settings"]


@dataclass
class DataSettings(StudySettings):
    dataset: str = "synth-cxr"
    data_root: str | None = None
    n: int = 2000
    image_size: int = 256
    uncertain_rate: float = 0.1
    studies_per_patient: int = 3
    n_readers: int = 3
    size_sample: int = 400  #: images used to measure finding sizes
    nih_sample_root: str | None = None  #: the real NIH images to show (default: cxrlib/data/samples/nih)
    classes: str | tuple[str, ...] | None = None  #: a preset or class names; None: the source's default
    label_policy: str | None = None  #: None: the source's default policy


PRESETS = {
    "smoke": {"n": 240, "image_size": 128, "size_sample": 120},
    "default": {"n": 2000, "image_size": 256},
    "full": {"n": 20000, "image_size": 512, "size_sample": 2000},
}


def data_settings(profile: str = "default", **overrides) -> DataSettings:
    """Settings for ``profile`` with every non-None override applied."""
    return resolve_settings(DataSettings, PRESETS, profile, **overrides)


#: parameter descriptions of its own (the rest: shared_settings.PARAMETER_HELP); its notebook shows them
STUDY_HELP = {
    "n": "SynthCXR images to generate",
    "image_size": "pixels per side",
    "studies_per_patient": "SynthCXR: studies (images) per patient",
    "n_readers": "SynthCXR: simulated readers who label and box every image",
    "size_sample": "images used to measure finding sizes",
    "nih_sample_root": "real NIH images to show; None: the sample shipped with cxrlib",
    "classes": "class preset or list of class names; None: the source's default",
    "label_policy": "uncertain labels: ones, zeros, ignore or a preset; None: the source's",
}
