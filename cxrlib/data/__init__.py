"""Datasets: one contract (``CXRDataset``) for synthetic and real sources."""

from .cache import default_cache_dir
from .classes import class_presets, resolve_classes
from .dataset import BOX_COLUMNS, TABLE_COLUMNS, CXRDataset
from .decode import ImageDecodeError, decode_image
from .labels import POLICY_PRESETS, UncertainPolicy, apply_label_policy, resolve_policy
from .registry import available_sources, open_dataset, register_source
from .samples import nih_sample_root, open_nih_sample
from .sources import open_chexpert, open_mimic, open_mura, open_nih, open_vindr
from .splits import PatientLeakageError, check_patient_leakage, split_by_patient
from .synthetic import CHEXPERT5, NIH_BOX_CLASSES, SYNTH_CLASSES, ReaderSpec, ShortcutSpec, open_synth_cxr
from .synthetic_cmr import CMR_CLASSES, open_synth_cmr  # registers source "synth-cmr"
from .synthetic_msk import MSK_CLASSES, open_synth_msk  # registers source "synth-msk"

register_source("synth-cxr", needs_root=False)(open_synth_cxr)
for _name, _reader in {
    "chexpert": open_chexpert,
    "mimic": open_mimic,
    "nih": open_nih,
    "vindr": open_vindr,
    "mura": open_mura,
}.items():
    register_source(_name)(_reader)

__all__ = [
    "BOX_COLUMNS",
    "TABLE_COLUMNS",
    "CXRDataset",
    "default_cache_dir",
    "class_presets",
    "resolve_classes",
    "POLICY_PRESETS",
    "UncertainPolicy",
    "apply_label_policy",
    "resolve_policy",
    "available_sources",
    "open_dataset",
    "register_source",
    "PatientLeakageError",
    "check_patient_leakage",
    "split_by_patient",
    "ImageDecodeError",
    "decode_image",
    "open_chexpert",
    "open_mimic",
    "open_mura",
    "open_nih",
    "open_vindr",
    "CHEXPERT5",
    "NIH_BOX_CLASSES",
    "SYNTH_CLASSES",
    "ReaderSpec",
    "ShortcutSpec",
    "open_synth_cxr",
    "CMR_CLASSES",
    "open_synth_cmr",
    "MSK_CLASSES",
    "open_synth_msk",
    "nih_sample_root",
    "open_nih_sample",
]
