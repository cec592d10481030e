"""A reliability report for any chest X-ray model in one call (:func:`reliability_report`), as HTML,
JSON or a notebook cell; ``python -m cxrlib.report`` does the same from the command line."""

from .bootstrap import PatientBootstrap, bootstrap_auroc, bootstrap_mean_auroc, weighted_auroc
from .gradcam import class_maps, layer_gradcam
from .report import SECTION_KEYS, ReliabilityReport, reliability_report
from .scoring import ChannelAdapter, Scores, score_dataset
from .section import ReportSection

__all__ = [
    "ChannelAdapter",
    "PatientBootstrap",
    "ReliabilityReport",
    "ReportSection",
    "SECTION_KEYS",
    "Scores",
    "bootstrap_auroc",
    "bootstrap_mean_auroc",
    "class_maps",
    "layer_gradcam",
    "reliability_report",
    "score_dataset",
    "weighted_auroc",
]
