"""Study 06: a Bayesian last layer by the Laplace approximation (Vilter and Daglaroglou).

* **Table 1** (the source's): the source's 4-layer CNN (``vilter-cnn``) is trained on SynthMSK (7
  MURA body parts, softmax cross-entropy); a last-layer Laplace approximation (laplace-torch on the
  cached penultimate features, :class:`~cxrlib.bayes.LastLayerLaplace`) with a diagonal, full and
  Kronecker-factored Hessian, prior precision by ``prior_fit``; test accuracy, top-label ECE, NLL,
  fit time and prior-optimisation time against the MAP network. Reliability diagrams per method,
  CAM per body part (the source's Fig. 3).
* **Multi-label** (beyond the source): a small CNN with a sigmoid head (CheXpert five, plain BCE) on
  SynthCXR; per-class ECE and NLL of the MAP network, of the Bernoulli last-layer Laplace
  (:class:`~cxrlib.bayes.BernoulliLastLayerLaplace`, probit predictive) and of temperature scaling
  fitted on validation.
* **Out of distribution** (beyond the source): SynthCXR images fed to the MSK model; predictive
  entropy of MAP and of each Laplace, and how well it separates them from MSK test images (AUROC).
"""

from .departures import laplace_departures
from .discussion import laplace_discussion
from .result import LaplaceResult, headline
from .run import PAPER_HOURS, run_laplace
from .settings import HESSIANS, PRESETS, LaplaceSettings, laplace_settings

__all__ = [
    "laplace_departures",
    "LaplaceSettings",
    "LaplaceResult",
    "laplace_settings",
    "run_laplace",
    "HESSIANS",
    "PRESETS",
    "laplace_discussion",
    "headline",
    "PAPER_HOURS",
]
