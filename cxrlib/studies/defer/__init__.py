"""Study 07: learning to defer with a Grad-CAM error model (Levin, Ruh and Yin's proposal; STUDIES.md S6).

The proposal: a DenseNet-121 on MIMIC-CXR (Pleural Effusion, Pneumothorax, Edema; images with only
uncertain labels dropped), a Grad-CAM map per prediction, an *error model* that reads the maps (and the
prediction) and estimates P(classifier wrong), trained on images the classifier never saw, and deferral
to the clinician when P(wrong) > c, c ∈ (0, 0.5). It reported no results; this study produces them.

Per seed, on four patient-disjoint splits (:func:`cxrlib.defer.defer_splits`):

* the classifier (binary cross-entropy, dropout before its linear layer), early-stopped on ``val``;
  its logits and Grad-CAM maps of all classes on the ``error``, ``val`` and ``test`` splits;
* the error model on the ``error`` split (maps + probabilities; and on the probabilities alone, which
  says what the maps add), unbalanced and balanced;
* MC dropout (and, where chosen, a multi-label last-layer Laplace) for the classifier's predictions;
* the Mozannar–Sontag surrogate (L_CE per class) trained end to end on ``train`` against the clinician;
  and trained again, from scratch, against a clinician weaker than the model on one class.

The clinician is simulated: on SynthCXR the generator's reader (per-class sensitivity / specificity
against the truth), elsewhere drawn from the labels; its answers exist for every image, so system
accuracy (model on the kept decisions, clinician on the deferred ones) is measured. Every rule is
scored over a sweep of the cost c, by risk–coverage curves and their area (AURC), and at matched
coverage; intervals are 95% Student-t over seeds.
"""

from .departures import defer_departures
from .discussion import MIN_SEEDS_FOR_VERDICT, defer_discussion
from .headline import headline
from .result import AT_COLUMNS, COST_COLUMNS, SENSITIVITY_COLUMNS, DeferResult, DeferSeedRun
from .run import run_defer
from .settings import (
    BALANCE_KEYS,
    BALANCE_VARIANTS,
    COVERAGES,
    PRESETS,
    RULE_LABELS,
    SWEEP_COSTS,
    DeferSettings,
    defer_settings,
)

__all__ = [
    "AT_COLUMNS",
    "COST_COLUMNS",
    "SENSITIVITY_COLUMNS",
    "defer_departures",
    "RULE_LABELS",
    "DeferSettings",
    "DeferSeedRun",
    "DeferResult",
    "defer_settings",
    "run_defer",
    "PRESETS",
    "defer_discussion",
    "MIN_SEEDS_FOR_VERDICT",
    "headline",
    "SWEEP_COSTS",
    "COVERAGES",
    "BALANCE_VARIANTS",
    "BALANCE_KEYS",
]
