"""Study 03: the heatmap loss against dataset bias (the anonymous submission "Integrating feature
attribution methods into the loss function of deep learning classifiers"), three experiments.

The loss is a classification loss plus ``w ·`` the HiResCAM map's mass outside an allowed region
(:class:`~cxrlib.losses.HeatmapMaskLoss`). For each experiment a *group* of models is trained per arm
("none": ``w = 0``, the same loss code otherwise; "heatmap loss": ``w > 0``), model ``i`` with seed
``i`` and learning rate ``lrs[i mod len(lrs)]`` (the source varied learning rates). Each model is
scored on the test set, and the arms are compared as the source does: Shapiro–Wilk per group, then
a two-sided Mann–Whitney U test at level ``alpha`` with its rank-biserial effect size.

* **Experiment 1** (SynthCMR, sex-related size differences): models whose validation accuracy is
  under ``accuracy_threshold`` are discarded and counted; score: share of the labelled class's
  HiResCAM mass inside the heart.
* **Experiment 2** (SynthCMR without size differences, a marker in the corner of male images): the
  share inside the heart, and inside the marker on male test images.
* **Experiment 3** (beyond the source; SynthCXR, CheXpert five): a corner marker agrees with
  ``shortcut_class`` at ``shortcut_rate`` in training and validation; the models are tested on a
  set without the marker and on one where it is *inverted* (drawn on the negatives). Arms: weighted
  BCE with and without the mask loss on the thorax (lung fields + heart). Scores: the shortcut
  class's AUROC on both test sets and the share of its map on the marker.
"""

from .departures import heatmap_loss_departures
from .discussion import heatmap_loss_discussion
from .result import HeatmapLossResult, ModelScore, headline
from .run import run_heatmap_loss
from .settings import ARMS, PRESETS, SCORES, Experiment, HeatmapLossSettings, heatmap_loss_settings

__all__ = [
    "heatmap_loss_departures",
    "Experiment",
    "HeatmapLossSettings",
    "ModelScore",
    "HeatmapLossResult",
    "heatmap_loss_settings",
    "run_heatmap_loss",
    "PRESETS",
    "ARMS",
    "SCORES",
    "heatmap_loss_discussion",
    "headline",
]
