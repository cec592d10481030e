"""Study 08: PYLON against the GMP CAM baseline and segmentation decoders (Preechakul et al. 2022, ch. 5–6).

Every model shares one encoder (``encoder``, a segmentation-models-pytorch ResNet), plain BCE and
the thesis's schedule (Adam, ReduceLROnPlateau ×0.2 after 2 epochs without improvement, stop after
the second reduction, best validation loss). Each model's native class map (its head's output, no
ReLU) is scored against the truth boxes of the test split: point localisation accuracy per class,
weighted (pooled over boxes) and macro (mean over classes) as in Tables 5.1/5.3, IoBB (Table 5.2's
share of boxes with IoBB > 0.5) and AUROC (Table 5.4: weighted by positives and macro), as mean ±
95 % Student-t half-width over the training seeds.

``models`` names architectures of :data:`cxrlib.models.MAP_ARCHITECTURES` or PYLON ablations
(:data:`VARIANTS`: ``pylon-no-pyramid``, ``pylon-1-layer-up``, ``pylon-3x3-up``, ``pylon-3x3-head``,
``pylon+gap-pa``, ``pylon+gap-up``; Tables 6.1/6.2). ``dataset="nih"`` or ``"vindr"`` with
``data_root`` runs the same on real data (``classes="nih-boxes"`` for NIH).
"""

from .departures import pylon_departures
from .discussion import pylon_discussion
from .result import MAP_LABEL, NOTEBOOK, PylonResult, PylonRun, model_label
from .run import class_maps, evaluate_map_model, run_pylon, truth_box_area
from .settings import (
    COMPARABLE_AUROC,
    PRESETS,
    SMALL_LESION_AREA,
    VARIANT_LABELS,
    VARIANTS,
    PylonSettings,
    pylon_settings,
)

__all__ = [
    "pylon_departures",
    "PylonSettings",
    "PylonRun",
    "PylonResult",
    "run_pylon",
    "pylon_settings",
    "VARIANTS",
    "VARIANT_LABELS",
    "model_label",
    "class_maps",
    "evaluate_map_model",
    "truth_box_area",
    "PRESETS",
    "SMALL_LESION_AREA",
    "COMPARABLE_AUROC",
    "pylon_discussion",
    "NOTEBOOK",
    "MAP_LABEL",
]
