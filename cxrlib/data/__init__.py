"""Datasets: one contract (``CXRDataset``) for synthetic and real sources."""

from .cache import default_cache_dir
from .dataset import BOX_COLUMNS, TABLE_COLUMNS, CXRDataset
from .labels import POLICY_PRESETS, UncertainPolicy, apply_label_policy, resolve_policy
from .sources import available_sources, open_dataset, register_source
from .splits import PatientLeakageError, check_patient_leakage, split_by_patient
from .synthetic import (CHEXPERT5, NIH_BOX_CLASSES, SYNTH_CLASSES, ReaderSpec, ShortcutSpec,
                        open_synth_cxr)

register_source("synth-cxr", needs_root=False)(open_synth_cxr)

__all__ = [
    "BOX_COLUMNS", "TABLE_COLUMNS", "CXRDataset", "default_cache_dir",
    "POLICY_PRESETS", "UncertainPolicy", "apply_label_policy", "resolve_policy",
    "available_sources", "open_dataset", "register_source",
    "PatientLeakageError", "check_patient_leakage", "split_by_patient",
    "CHEXPERT5", "NIH_BOX_CLASSES", "SYNTH_CLASSES", "ReaderSpec", "ShortcutSpec", "open_synth_cxr",
]
