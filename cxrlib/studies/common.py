"""What every study shares: profiles, settings resolution and opening its dataset."""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any, TypeVar

from ..data import CXRDataset, open_dataset

__all__ = ["Profile", "resolve_settings", "open_study_dataset"]

T = TypeVar("T")


class Profile(str, Enum):
    SMOKE = "smoke"  #: CI: tiny images, few epochs, minutes on a 2-core CPU in all
    DEFAULT = "default"  #: a CPU build of the book
    FULL = "full"  #: paper scale, for a GPU box


def resolve_settings(cls: type[T], presets: dict[str, dict[str, Any]], profile: str, **overrides: Any) -> T:
    """Build a settings dataclass from a profile's preset, then apply every override that is not None.

    Raises ``ValueError`` for an unknown profile or an override the settings do not have.
    """
    try:
        profile = Profile(profile).value
    except ValueError:
        raise ValueError(f"unknown profile {profile!r}; use one of {[p.value for p in Profile]}") from None
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"{cls.__name__} has no setting(s) {unknown}; settings are {sorted(names)}")
    values = {**presets.get(profile, {}), **{k: v for k, v in overrides.items() if v is not None}}
    return cls(profile=profile, **values)


def open_study_dataset(dataset: str, data_root: str | None, synth_options: dict[str, Any],
                       real_options: dict[str, Any] | None = None) -> CXRDataset:
    """``synth-cxr`` gets the study's generator options; a real source gets ``data_root`` and its options."""
    if dataset == "synth-cxr":
        return open_dataset(dataset, **synth_options)
    return open_dataset(dataset, root=data_root, **(real_options or {}))
