"""Study 07: the parameters: the ``Settings`` dataclass, its presets and checks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...defer import (
    Balance,
    DeferralUnit,
    Rule,
    check_cost,
)
from ...defer.splits import DEFER_SPLITS
from ...models import Backbone
from ..common import resolve_settings
from ..shared_settings import ChestDataSettings, TrainingSettings

__all__ = [
    "STUDY_HELP",
    "DeferSettings",
    "PRESETS",
    "defer_settings",
    "RULE_LABELS",
    "SWEEP_COSTS",
    "COVERAGES",
    "BALANCE_VARIANTS",
    "BALANCE_KEYS",
    "UNIT_COLUMNS",
]


#: how each rule is named in tables and figures
RULE_LABELS = {
    Rule.ERROR_MODEL.value: "error model",
    Rule.ERROR_MODEL_PROBS.value: "error model (probs only)",
    Rule.CONFIDENCE.value: "confidence",
    Rule.MC_DROPOUT.value: "MC dropout",
    Rule.LAPLACE.value: "Laplace",
    Rule.SURROGATE.value: "surrogate (L_CE)",
}


#: the costs of the sweep: the source's range (0, 0.5)
SWEEP_COSTS = tuple(float(c) for c in np.round(np.arange(0.01, 0.50, 0.01), 2))


#: the coverages at which the rules are compared with each other
COVERAGES = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


BALANCE_VARIANTS = ("unbalanced", "balanced", "balanced, prior-corrected")


#: the unit comparison's columns: (column of the cost sweep, its row) → heading
UNIT_COLUMNS = {
    ("coverage", "images"): "images answered by the model alone",
    ("coverage", "all"): "decisions kept",
    ("kept accuracy", "all"): "kept accuracy (decisions)",
    ("system accuracy", "images"): "system accuracy (images)",
    ("system accuracy", "all"): "system accuracy (decisions)",
    ("system sensitivity", "all"): "system sensitivity",
}

#: the balance table's columns and their keys in the headline
BALANCE_KEYS = {
    "mistake AUROC": "mistake_auroc",
    "AURC": "aurc",
    "mean P̂(wrong)": "mean_p_wrong",
    "observed error rate": "observed_error_rate",
    "coverage at c": "coverage",
    "kept accuracy at c": "kept_accuracy",
}


@dataclass
class DeferSettings(ChestDataSettings, TrainingSettings):
    n: int = 2000
    classes: str | tuple[str, ...] = ("Pleural Effusion", "Pneumothorax", "Edema")
    label_policy: str = "ignore"  #: uncertain → unknown; images with no known label are dropped
    uncertain_rate: float = 0.0
    fractions: tuple[float, ...] = (0.5, 0.2, 0.15, 0.15)  #: patients: classifier / error model / val / test
    clinician_sensitivity: float = 0.9
    clinician_specificity: float = 0.97
    weak_class: str = "Pneumothorax"  #: the class on which a second, weak clinician is simulated
    weak_sensitivity: float = 0.6
    weak_specificity: float = 0.75
    unit: str = "image"  #: what is deferred: the whole image (the source's) or each finding on its own
    rules: tuple[str, ...] = ("error-model", "error-model-probs", "confidence", "mc-dropout", "laplace", "surrogate")
    error_balance: str = "none"  #: the error-model rule's training: none or balanced
    cost: float = 0.2  #: the cost c of the headline and the scorecard
    table_costs: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3, 0.4)
    backbone: str = "densenet121"
    output_stride: int | None = 8
    dropout: float = 0.2  #: before the classifier's linear layer (what MC dropout samples)
    mc_samples: int = 30
    error_epochs: int = 200  #: at most, for the error model (early stopping on val)

    def __post_init__(self) -> None:
        super().__post_init__()
        known = [b.value for b in Backbone]
        if self.backbone not in known:
            raise ValueError(f"parameter 'backbone': unknown {self.backbone!r}; use one of {known}")
        if self.unit not in [u.value for u in DeferralUnit]:
            raise ValueError(f"parameter 'unit' must be one of {[u.value for u in DeferralUnit]}, got {self.unit!r}")
        rules = [r.value for r in Rule]
        bad = [r for r in self.rules if r not in rules]
        if bad or Rule.ERROR_MODEL.value not in self.rules:
            raise ValueError(
                f"parameter 'rules': unknown {bad}; use any of {rules}, 'error-model' (the study's subject) included"
            )
        if self.error_balance not in [b.value for b in Balance]:
            raise ValueError(f"parameter 'error_balance' must be one of {[b.value for b in Balance]}")
        if len(self.fractions) != len(DEFER_SPLITS) or any(f <= 0 for f in self.fractions):
            raise ValueError(f"parameter 'fractions': four positive shares for {list(DEFER_SPLITS)}")
        if not np.isclose(sum(self.fractions), 1.0):
            raise ValueError(f"parameter 'fractions' must sum to 1, got {self.fractions}")
        for name in ("clinician_sensitivity", "clinician_specificity", "weak_sensitivity", "weak_specificity"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"parameter {name!r} must lie in [0, 1], got {getattr(self, name)!r}")
        for name, costs in (("cost", [self.cost]), ("table_costs", self.table_costs)):
            try:
                [check_cost(c) for c in costs]
            except ValueError as err:
                raise ValueError(f"parameter {name!r}: {err}") from None
        if not isinstance(self.classes, str) and self.weak_class not in self.classes:
            raise ValueError(f"parameter 'weak_class': {self.weak_class!r} is not one of {list(self.classes)}")
        if not 0.0 < self.dropout < 1.0:
            raise ValueError("parameter 'dropout' must lie in (0, 1): MC dropout samples it")
        if self.mc_samples < 1 or self.error_epochs < 1 or self.epochs < 1:
            raise ValueError("parameters 'mc_samples', 'error_epochs' and 'epochs' must be >= 1")
        if not self.seeds:
            raise ValueError("parameter 'seeds': give at least one seed")


#: CPU profiles: the small CNN at 64 px, output stride 8 (8×8 Grad-CAM maps); three networks per seed
#: (the classifier, the surrogate, and the surrogate against the weak clinician), which fits 4 minutes on
#: 2 cores with three seeds. ``full``: the source's DenseNet-121 at 224 px.
PRESETS = {
    "smoke": {"n": 1200, "epochs": 4, "backbone": "small-cnn", "seeds": (0, 1), "mc_samples": 20},
    "default": {"n": 2000, "epochs": 5, "backbone": "small-cnn", "seeds": (0, 1, 2)},
    "full": {
        "pretrained": True,
        "n": 20000,
        "image_size": 224,
        "epochs": 15,
        "batch_size": 64,
        "lr": 1e-4,
        "seeds": (0, 1, 2, 3, 4),
        "backbone": "densenet121",
        "output_stride": 16,
    },
}


def defer_settings(profile: str = "default", **overrides) -> DeferSettings:
    """Settings for ``profile`` with every non-None override applied."""
    return resolve_settings(DeferSettings, PRESETS, profile, **overrides)


#: parameter descriptions of its own (the rest: shared_settings.PARAMETER_HELP); its notebook shows them
STUDY_HELP = {
    "dataset": "synth-cxr, or mimic, chexpert, nih (needs data_root; a clinician is then drawn from the labels)",
    "n": "SynthCXR images to generate (split by patient into four parts)",
    "classes": "the findings (the source's: Pleural Effusion, Pneumothorax, Edema), a list or a preset",
    "label_policy": "uncertain labels: ignore (unknown; images with no known label are dropped), ones, zeros",
    "fractions": "shares of the patients: classifier train, error-model train, validation, test",
    "clinician_sensitivity": "the simulated clinician's sensitivity, every class",
    "clinician_specificity": "the simulated clinician's specificity, every class",
    "weak_class": "the class on which a second, weaker clinician is simulated",
    "weak_sensitivity": "the weak clinician's sensitivity on that class",
    "weak_specificity": "the weak clinician's specificity on that class",
    "unit": "what is deferred: image (the whole image, the source's) or finding (each finding on its own)",
    "rules": "any of error-model, error-model-probs, confidence, mc-dropout, laplace, surrogate",
    "error_balance": "the error-model rule's training: none or balanced (both are compared below)",
    "cost": "the cost c of the headline numbers and the scorecard",
    "table_costs": "the costs of the table of results",
    "backbone": "small-cnn, or densenet121 (the source's), resnet50, resnet101, vgg19",
    "output_stride": "8, 16 or 32 pixels per Grad-CAM cell; None: the backbone's own",
    "dropout": "dropout before the classifier's linear layer (what MC dropout samples)",
    "mc_samples": "MC dropout samples per image",
    "epochs": "maximum epochs of the classifier and of the surrogate",
    "error_epochs": "maximum epochs of the error model (early stopping on validation)",
    "data_seed": "seed of the SynthCXR generator, the patient split and the simulated clinicians",
}
