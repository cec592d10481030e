"""Learning to defer (the deferral study, STUDIES.md S6): four patient-disjoint splits, a simulated
clinician, the Grad-CAM error model, deferral rules over one interface, the Mozannar–Sontag surrogate,
and what deferral buys (coverage, kept-set accuracy and AUROC, system accuracy, risk–coverage, AURC).

- :mod:`~cxrlib.defer.splits`: :func:`defer_splits` (classifier train / error-model train / val / test).
- :mod:`~cxrlib.defer.clinician`: :func:`reader_clinician` (SynthCXR's readers), :func:`simulated_clinician`.
- :mod:`~cxrlib.defer.error_model`: :func:`fit_error_model` (maps + probabilities → P(wrong) per class).
- :mod:`~cxrlib.defer.uncertainty`: MC dropout and last-layer Laplace predictive probabilities.
- :mod:`~cxrlib.defer.surrogate`: :class:`DeferralNet` and L_CE (:class:`DeferralSurrogateLoss`).
- :mod:`~cxrlib.defer.rules`: :class:`DeferralRule` and one constructor per rule; defer when score > c;
  :func:`per_image` defers whole images (the source's unit).
- :mod:`~cxrlib.defer.metrics`: :func:`deferral_metrics`, :func:`cost_sweep`, :func:`risk_coverage_curve`, :func:`aurc`.
"""

from .clinician import WithClinician, reader_clinician, simulated_clinician, with_clinician
from .error_model import (
    Balance,
    ErrorInputs,
    ErrorModel,
    ErrorModelConfig,
    FittedErrorModel,
    fit_error_model,
    mistakes,
)
from .metrics import (
    METRICS,
    aurc,
    cost_sweep,
    deferral_metrics,
    kept_accuracy,
    mistake_auroc,
    risk_coverage_curve,
    selective_accuracy,
    system_accuracy_curve,
)
from .rules import (
    DeferralRule,
    DeferralUnit,
    Rule,
    any_wrong,
    check_cost,
    confidence_rule,
    error_model_rule,
    per_image,
    predictive_rule,
    surrogate_rule,
)
from .splits import DEFER_FRACTIONS, DEFER_SPLITS, DeferSplits, defer_splits
from .surrogate import (
    DeferralNet,
    DeferralSurrogateLoss,
    build_deferral_net,
    deferral_surrogate_loss,
    surrogate_probabilities,
)
from .uncertainty import laplace_probabilities, mc_dropout_probabilities

__all__ = [
    "DEFER_FRACTIONS",
    "DEFER_SPLITS",
    "DeferSplits",
    "defer_splits",
    "reader_clinician",
    "simulated_clinician",
    "with_clinician",
    "WithClinician",
    "Balance",
    "ErrorInputs",
    "ErrorModel",
    "ErrorModelConfig",
    "FittedErrorModel",
    "fit_error_model",
    "mistakes",
    "mc_dropout_probabilities",
    "laplace_probabilities",
    "DeferralNet",
    "DeferralSurrogateLoss",
    "build_deferral_net",
    "deferral_surrogate_loss",
    "surrogate_probabilities",
    "Rule",
    "DeferralRule",
    "DeferralUnit",
    "any_wrong",
    "per_image",
    "check_cost",
    "confidence_rule",
    "predictive_rule",
    "error_model_rule",
    "surrogate_rule",
    "METRICS",
    "kept_accuracy",
    "risk_coverage_curve",
    "aurc",
    "selective_accuracy",
    "system_accuracy_curve",
    "mistake_auroc",
    "deferral_metrics",
    "cost_sweep",
]
