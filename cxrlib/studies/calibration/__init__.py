"""Study 05: calibration of the imbalance-loss models, temperature scaling and MIMO (Sharma and Pradeep P. 2023,
§3.5–3.6, 4.7; Guo et al. 2017; Naeini et al. 2015; Havasi et al. 2021).

**Temperature scaling (Table 4.3).** For every loss and seed of study 04 (weighted BCE, focal, AUC-M)
the validation logits fit one temperature for all classes and one per class
(:func:`cxrlib.calibration.fit_temperature`, Bernoulli NLL), and the test logits are scored before
and after: ECE with 15 equal-width bins (the source's metric; for sigmoid outputs the mean over classes
of each class's binary ECE), adaptive (equal-mass) ECE, NLL and Brier score (both means over classes),
and mean AUROC, which a positive temperature cannot change.

The logits are those study 04 saved (artifact ``logits`` of ``04_imbalance_losses``) when they were
produced by the same data and training settings as this run's (:data:`TRAINING_FIELDS`); otherwise
this study trains the same models itself (``logits_from="auto"``), and the run header says which.
``logits_from="load"`` insists on 04's logits, ``"train"`` always trains.

**MIMO against an ensemble.** A MIMO network of ``mimo_members`` members on the same backbone
(:func:`cxrlib.models.build_mimo`, weighted BCE on every member), trained with the same epochs as one
CE model, against the deep ensemble of the CE models of the first ``mimo_members`` seeds (probabilities
averaged) and against those models on their own: test AUROC, NLL, ECE and Brier score, forward passes
and wall time per test image. Times are measured on freshly built networks of each architecture (the
weights do not change the cost), best of a few passes over the test images.
"""

from .departures import calibration_departures
from .discussion import TEMPERATURE_BOUNDS, calibration_discussion
from .result import STAGES, CalibrationResult, LogitRun, headline
from .run import (
    NOTEBOOK,
    calibration_metrics,
    load_saved_runs,
    probability_ensemble,
    run_calibration,
    seconds_per_image,
)
from .settings import PRESETS, CalibrationSettings, LogitsFrom, calibration_settings

__all__ = [
    "calibration_departures",
    "load_saved_runs",
    "probability_ensemble",
    "NOTEBOOK",
    "LogitsFrom",
    "CalibrationSettings",
    "LogitRun",
    "CalibrationResult",
    "calibration_settings",
    "run_calibration",
    "calibration_metrics",
    "seconds_per_image",
    "PRESETS",
    "TEMPERATURE_BOUNDS",
    "calibration_discussion",
    "STAGES",
    "headline",
]
