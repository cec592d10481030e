"""Study 09: PYLON's ablations, the GAP instability and two-phase transfer (Preechakul et al. 2022, §5.6, ch. 6).

Part 1 (Tables 6.1 and 6.2) trains PYLON, its ablations (no pyramid, one-layer UP, 3×3 UP, 3×3
head) and PYLON with a global average pooling added to its PA or UP modules on the same SynthCXR task
as notebook 08, several seeds each, and scores every model's native map as there (point localisation,
IoBB, AUROC). The GAP claim is about *stability*: besides the spread of point accuracy over seeds,
:meth:`PylonAblationResult.seed_agreement` measures how much the maps of two seeds of the same model
agree on the boxed test findings.

Part 2 (Table 5.5) is the thesis's transfer from NIH to VinDr-CXR on synthetic data: the source is
SynthCXR with its exact boxes (notebook 08's first-seed PYLON and GMP when they fit, else trained
here); the target is a small, shifted SynthCXR set (other patients, more AP views and left-sided
findings) whose labels and boxes are those of three simulated readers, joined by union as for
VinDr-CXR (:func:`cxrlib.data.synthetic.readers_as_truth`). On the target: GMP and PYLON from
scratch, both fine-tuned from the source (all weights but the class head, which is new), and PYLON
by two-phase transfer (:func:`cxrlib.train.fit_two_phase`: encoder frozen, then everything, same
learning rate). ``target_dataset="vindr"`` with ``target_root`` runs the same on VinDr-CXR.
"""

from .departures import ablation_departures
from .discussion import AGREEMENT_MARGIN, ablation_discussion
from .result import THESIS, PylonAblationResult
from .run import (
    NOTEBOOK,
    TRANSFER_ARMS,
    open_transfer_target,
    run_pylon_ablations,
    run_transfer,
    saved_source,
    transfer_arms,
)
from .settings import (
    ABLATIONS,
    BASE,
    GAP_BASELINES,
    GAP_VARIANTS,
    PRESETS,
    PylonAblationSettings,
    pylon_ablation_settings,
    source_pylon_settings,
)

__all__ = [
    "ablation_departures",
    "saved_source",
    "PylonAblationSettings",
    "PylonAblationResult",
    "pylon_ablation_settings",
    "run_pylon_ablations",
    "ABLATIONS",
    "BASE",
    "GAP_BASELINES",
    "GAP_VARIANTS",
    "TRANSFER_ARMS",
    "transfer_arms",
    "PRESETS",
    "source_pylon_settings",
    "AGREEMENT_MARGIN",
    "ablation_discussion",
    "THESIS",
    "NOTEBOOK",
    "open_transfer_target",
    "run_transfer",
]
