"""Study 02: saliency-guided training with the class-distinctiveness loss (Sharma and Pradeep P. 2023,
§3.1–3.3, 4.3–4.5).

Three arms on the same data, backbone and seeds (Table 4.1 of the source):

* **CE**: weighted BCE alone (the baseline of notebook 01).
* **Custom**: weighted BCE ``+ λ1 · L_CD`` (class distinctiveness of the Grad-CAM maps of all K
  classes, closed form in the same forward pass), optionally ``+ λ2 · L_SC`` (spatial coherence),
  trained from scratch; ``lambda_grid`` adds further λ1 values.
* **Modified**: the two-stage pipeline: the CE arm's best weights, then the custom loss with a fresh
  optimizer for ``second_epochs`` (one :func:`~cxrlib.train.fit_two_stage` per seed, whose first
  stage *is* the CE arm).

Beyond the source's AUROC, every arm is scored on what the synthetic truth allows: Grad-CAM point
localisation on the truth boxes, the share of Grad-CAM mass inside the finding's mask, and, on the
test set, the class-distinctiveness value itself, the maps' mass and the share of flat maps (a loss
that rewarded vanishing maps would show there). Time per training epoch is reported as a ratio to CE.
"""

from .departures import saliency_loss_departures
from .discussion import saliency_loss_discussion
from .result import ArmRun, SaliencyLossResult, headline
from .run import run_saliency_losses
from .settings import PRESETS, Arm, SaliencyLossSettings, saliency_loss_settings

__all__ = [
    "saliency_loss_departures",
    "Arm",
    "SaliencyLossSettings",
    "ArmRun",
    "SaliencyLossResult",
    "saliency_loss_settings",
    "run_saliency_losses",
    "PRESETS",
    "saliency_loss_discussion",
    "headline",
]
