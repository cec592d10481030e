"""Study 04: losses against class imbalance (Sharma and Pradeep P. 2023, §3.4, 4.6; Lin et al. 2017; Yuan et al. 2021).

Three losses on the same data, backbone and seeds (Table 4.2 of the source):

* **CE**: weighted BCE (``pos_weight = n_negative / n_positive`` per class), the baseline of notebook 01.
* **Focal**: the multi-label sigmoid focal loss (``gamma``, optional ``alpha``), in place of the BCE.
* **AUC-M**: LibAUC's recipe (:func:`cxrlib.auc.auc_finetune`): weighted-BCE pre-training, a fresh
  head, then AUC-margin fine-tuning with PESG. The pre-training stage *is* the CE arm of the same seed
  (same initialisation, data order and configuration, hence the same weights on a CPU), so the arm
  fine-tunes a copy of the trained CE model and ``auc_finetune``'s own pre-training gets 0 epochs. Its
  difference to CE is therefore a paired one, seed by seed.

Each model is scored on the held-out test split: per-class and mean AUROC (logits) and average
precision; its Grad-CAM maps are compared with the CE model's of the same seed (cosine similarity on
the positive test findings, beside the similarity of two CE seeds as the reference) and scored by point
localisation on the truth boxes where the dataset has them.

**Prevalence sweep.** For one class (``sweep_class``) the *training* prevalence is set to each of
``sweep_prevalences`` by subsampling a fixed-size training set from a pool (positives and negatives
drawn in one random order, so the subsets are nested), every loss is trained on it and scored on the
untouched test split (AUROC and AUPRC of that class; the test prevalence is the AUPRC of chance). On
SynthCXR the pool is a second generated set in which that class has the prevalence that makes the
fixed training size largest; on a real source the pool is its own training split.

The test and validation logits of every loss and seed are saved as the artifact ``logits`` of this
notebook (:func:`cxrlib.artifacts.save_artifact`), with the settings that produced them, for the
calibration study (05) to load.
"""

from .departures import imbalance_loss_departures
from .discussion import imbalance_loss_discussion
from .result import NOTEBOOK, ImbalanceLossResult, LossRun, SweepRun, headline, map_cosine
from .run import (
    TRAINING_FIELDS,
    evaluate_loss_run,
    new_model,
    prevalence_subsets,
    run_imbalance_losses,
    train_losses,
    training_config,
)
from .settings import LOSS_LABELS, PRESETS, ImbalanceLossSettings, Loss, check_losses, imbalance_loss_settings

__all__ = [
    "imbalance_loss_departures",
    "NOTEBOOK",
    "Loss",
    "LOSS_LABELS",
    "TRAINING_FIELDS",
    "ImbalanceLossSettings",
    "LossRun",
    "SweepRun",
    "ImbalanceLossResult",
    "imbalance_loss_settings",
    "run_imbalance_losses",
    "training_config",
    "train_losses",
    "evaluate_loss_run",
    "prevalence_subsets",
    "map_cosine",
    "check_losses",
    "PRESETS",
    "imbalance_loss_discussion",
    "headline",
    "new_model",
]
