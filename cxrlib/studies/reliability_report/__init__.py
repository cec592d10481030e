"""Study 10: the reliability report (:mod:`cxrlib.report`) applied to notebook 01's model.

The model is the first seed of one backbone that notebook 01 trains (DenseNet-121 by default), loaded from
01's saved weights when they were trained with these settings, and otherwise trained here with 01's code.
Its report is computed twice: on the test split of the data it was trained on (SynthCXR by default, which
has every kind of ground truth, so every section is filled; the validation split fits temperature
scaling and the last-layer Laplace), and on the 21 real NIH ChestX-ray14 images shipped with cxrlib,
which the model never saw (its classes in NIH's spelling; no validation split, so the model's own
probabilities only). Both reports are saved as self-contained HTML and JSON under
``results/reports/10_reliability_report/``.
"""

from .discussion import reliability_discussion
from .result import NOTEBOOK, ReliabilityResult, report_numbers
from .run import nih_names, open_nih_report_set, run_reliability, saved_model
from .settings import PRESETS, ModelSource, ReliabilitySettings, reliability_settings, training_settings

__all__ = [
    "NOTEBOOK",
    "PRESETS",
    "ModelSource",
    "ReliabilityResult",
    "ReliabilitySettings",
    "nih_names",
    "open_nih_report_set",
    "reliability_discussion",
    "reliability_settings",
    "report_numbers",
    "run_reliability",
    "saved_model",
    "training_settings",
]
