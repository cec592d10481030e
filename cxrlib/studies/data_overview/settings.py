"""Study 00: the parameters: the ``Settings`` dataclass, its presets and checks."""

from __future__ import annotations

from dataclasses import dataclass

from ..common import resolve_settings

__all__ = ["DataSettings", "PRESETS", "data_settings"]


@dataclass
class DataSettings:
    profile: str = "default"
    dataset: str = "synth-cxr"
    data_root: str | None = None
    n: int = 2000
    image_size: int = 256
    seed: int = 0
    uncertain_rate: float = 0.1
    studies_per_patient: int = 3
    n_readers: int = 3
    size_sample: int = 400  #: images used to measure finding sizes
    nih_sample_root: str | None = None  #: the real NIH images to show (default: cxrlib/data/samples/nih)
    classes: str | tuple[str, ...] | None = None  #: a preset or class names; None: the source's default
    label_policy: str | None = None  #: None: the source's default policy
    progress: bool = True


PRESETS = {
    "smoke": {"n": 240, "image_size": 128, "size_sample": 120},
    "default": {"n": 2000, "image_size": 256},
    "full": {"n": 20000, "image_size": 512, "size_sample": 2000},
}


def data_settings(profile: str = "default", **overrides) -> DataSettings:
    """Settings for ``profile`` with every non-None override applied."""
    return resolve_settings(DataSettings, PRESETS, profile, **overrides)
