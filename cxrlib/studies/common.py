"""What every study shares: profiles, settings resolution and opening its dataset."""

from __future__ import annotations

from typing import Any

from ..data import CXRDataset, open_dataset
from ..data.sources.common import COMMON_OPTIONS
from .parameters import PRESET, ParameterError, Profile, coerce_parameter, resolve_settings

__all__ = ["Profile", "PRESET", "ParameterError", "coerce_parameter", "resolve_settings", "open_study_dataset"]


def open_study_dataset(
    dataset: str, data_root: str | None, *, options: dict[str, Any], synth_options: dict[str, Any] | None = None
) -> CXRDataset:
    """Open a study's dataset: SynthCXR or any real source, with one set of options.

    ``options`` are reader options every source takes (``image_size``, ``classes``,
    ``label_policy``, ``seed``, ``progress``...; see ``cxrlib.data.sources.common.COMMON_OPTIONS``);
    a None value is left out (the source's default). ``synth_options`` are SynthCXR-only generator
    options (``n``, ``studies_per_patient``, ``shortcut``...): they go to ``synth-cxr`` only; for a
    real source they are not passed, and their names are listed in ``ds.info["study_options_not_used"]``.
    A real source needs ``data_root``.
    """
    unknown = sorted(set(options) - set(COMMON_OPTIONS))
    if unknown:
        raise ValueError(
            f"study options {unknown} are not common reader options {list(COMMON_OPTIONS)}; "
            "pass SynthCXR-only options as synth_options"
        )
    given = {k: v for k, v in options.items() if v is not None}
    if dataset == "synth-cxr":
        return open_dataset(dataset, **given, **(synth_options or {}))
    ds = open_dataset(dataset, root=data_root, **given)
    ds.info["study_options_not_used"] = sorted(synth_options or {})
    return ds
