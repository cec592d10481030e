"""Study 01: weighted-BCE baselines (DenseNet-121, ResNet-101, VGG-19) with Grad-CAM (Sharma and Pradeep P. 2023, §4.5).

Each backbone is trained with weighted BCE on the CheXpert-five labels (Sharma and Pradeep P. (2023)'s uncertain-label
policy), evaluated on the held-out test split (per-class AUROC), and its Grad-CAM maps are
scored against the ground truth: point localisation accuracy on the source's truth boxes
(``CXRDataset.truth_boxes()``) and the share of heatmap mass inside the finding's mask.

Any source runs: ``dataset="nih"`` (or ``chexpert``, ``mimic``, ``vindr``, ``mura``) with
``data_root``; ``image_size``, ``classes``, ``label_policy`` and ``data_seed`` reach the reader,
the SynthCXR-only settings (``n``, ``uncertain_rate``, ``prevalence``) do not. Where the test split
has no truth boxes (CheXpert, MIMIC, MURA) localisation is reported as not available (None in the
headline), and where there are no masks (every real source) so is the mask share. ``classes`` must
be one the source has: ``"chexpert5"`` exists for SynthCXR, CheXpert, MIMIC and NIH; VinDr-CXR
(no Edema) and MURA need ``"all"`` or a list. MURA's body-part task (seven one-hot classes) is
trained like any other: multi-label weighted BCE, one AUROC per body part (one-vs-rest).
"""

from .departures import baseline_departures
from .discussion import baseline_discussion
from .result import NOTEBOOK, BackboneRun, BaselineResult
from .run import run_baseline
from .settings import PRESETS, BaselineSettings, baseline_settings, model_settings

__all__ = [
    "NOTEBOOK",
    "model_settings",
    "baseline_departures",
    "BaselineSettings",
    "BackboneRun",
    "BaselineResult",
    "run_baseline",
    "baseline_settings",
    "PRESETS",
    "baseline_discussion",
]
