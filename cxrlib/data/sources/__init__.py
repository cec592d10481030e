"""Readers of the five real datasets, each parsing the dataset's own files into the common contract."""

from .chexpert import CHEXPERT_CLASSES, CHEXPERT_COMPETITION, open_chexpert
from .common import COMMON_OPTIONS, ReaderOptions, reader_options
from .mimic import MIMIC_CLASSES, open_mimic
from .mura import MURA_BODY_PARTS, open_mura
from .nih import NIH_CLASSES, open_nih
from .vindr import VINDR_CLASSES, open_vindr

__all__ = [
    "COMMON_OPTIONS",
    "ReaderOptions",
    "reader_options",
    "CHEXPERT_CLASSES",
    "CHEXPERT_COMPETITION",
    "open_chexpert",
    "MIMIC_CLASSES",
    "open_mimic",
    "MURA_BODY_PARTS",
    "open_mura",
    "NIH_CLASSES",
    "open_nih",
    "VINDR_CLASSES",
    "open_vindr",
]
