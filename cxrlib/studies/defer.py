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

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ..defer import (
    Balance,
    DeferralRule,
    ErrorInputs,
    ErrorModelConfig,
    Rule,
    build_deferral_net,
    check_cost,
    confidence_rule,
    cost_sweep,
    defer_splits,
    error_model_rule,
    fit_error_model,
    laplace_probabilities,
    mc_dropout_probabilities,
    mistake_auroc,
    mistakes,
    predictive_rule,
    reader_clinician,
    risk_coverage_curve,
    selective_accuracy,
    simulated_clinician,
    surrogate_probabilities,
    surrogate_rule,
    system_accuracy_curve,
    with_clinician,
)
from ..defer.splits import DEFER_SPLITS
from ..defer.surrogate import DeferralSurrogateLoss
from ..losses import WeightedBCELoss
from ..models import Backbone, build_model
from ..train import TrainConfig, fit, predict
from .common import backbone_output_stride, mean_ci, open_chest_dataset, resolve_settings, study_train_config
from .prose import fmt, join, percent, signed, with_ci
from .runinfo import describe_run

__all__ = ["RULE_LABELS", "DeferSettings", "DeferSeedRun", "DeferResult", "defer_settings", "run_defer"]

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
#: the balance table's columns and their keys in the headline
_BALANCE_KEYS = {
    "mistake AUROC": "mistake_auroc",
    "AURC": "aurc",
    "mean P̂(wrong)": "mean_p_wrong",
    "observed error rate": "observed_error_rate",
    "coverage at c": "coverage",
    "kept accuracy at c": "kept_accuracy",
}


@dataclass
class DeferSettings:
    profile: str = "default"
    dataset: str = "synth-cxr"
    data_root: str | None = None
    n: int = 2000
    image_size: int = 64
    classes: str | tuple[str, ...] = ("Pleural Effusion", "Pneumothorax", "Edema")
    label_policy: str = "ignore"  #: uncertain → unknown; images with no known label are dropped
    uncertain_rate: float = 0.0
    prevalence: float | None = 0.25
    fractions: tuple[float, ...] = (0.5, 0.2, 0.15, 0.15)  #: patients: classifier / error model / val / test
    clinician_sensitivity: float = 0.9
    clinician_specificity: float = 0.97
    weak_class: str = "Pneumothorax"  #: the class on which a second, weak clinician is simulated
    weak_sensitivity: float = 0.6
    weak_specificity: float = 0.75
    rules: tuple[str, ...] = ("error-model", "error-model-probs", "confidence", "mc-dropout", "laplace", "surrogate")
    error_balance: str = "none"  #: the error-model rule's training: none or balanced
    cost: float = 0.2  #: the cost c of the headline and the scorecard
    table_costs: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3, 0.4)
    backbone: str = "densenet121"
    output_stride: int | None = 8
    dropout: float = 0.2  #: before the classifier's linear layer (what MC dropout samples)
    mc_samples: int = 30
    epochs: int = 5
    error_epochs: int = 200  #: at most, for the error model (early stopping on val)
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-5
    seeds: tuple[int, ...] = (0, 1, 2)
    pretrained: bool = False
    device: str = "auto"
    data_seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        known = [b.value for b in Backbone]
        if self.backbone not in known:
            raise ValueError(f"parameter 'backbone': unknown {self.backbone!r}; use one of {known}")
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


@dataclass
class DeferSeedRun:
    """Everything one seed produced, on the test split."""

    seed: int
    rules: dict[str, DeferralRule]  #: rule value → rule (usual clinician)
    weak_rules: dict[str, DeferralRule]  #: the same, the surrogate trained against the weak clinician
    sweep: pd.DataFrame  #: cost_sweep of every rule (column ``rule``), usual clinician
    weak_sweep: pd.DataFrame  #: the same with the weak clinician
    per_class: pd.DataFrame  #: rows (rule, class): AURC, mistake AUROC, accuracy at each of COVERAGES
    curves: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]  #: (rule, class) → risk–coverage
    system_curves: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]  #: (rule, class) → system accuracy
    weak_system_curves: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]
    balance: pd.DataFrame  #: rows BALANCE_VARIANTS
    histories: dict[str, pd.DataFrame]  #: classifier, surrogate, surrogate (weak clinician), error model
    error_split_mistakes: dict[str, int]  #: the classifier's mistakes per class on the error-model split
    test_maps: np.ndarray | None = None  #: the classifier's Grad-CAM maps (N_test, K, h, w), first seed only
    surrogate_maps: np.ndarray | None = None  #: the surrogate's, first seed only


@dataclass
class DeferResult:
    """What :func:`run_defer` returns: every seed's runs on the one test split, the test labels and both
    clinicians' answers; tables (:meth:`summary`, :meth:`cost_table`, :meth:`matched_coverage`,
    :meth:`balance_table`, :meth:`weak_table`), figures and the discussion are computed from them."""

    settings: DeferSettings
    classes: list[str]
    runs: list[DeferSeedRun]
    test_data: object = None
    labels: np.ndarray | None = None  #: test labels (N, K)
    clinician: np.ndarray | None = None  #: the clinician's test answers (N, K)
    weak_clinician: np.ndarray | None = None
    headline: dict = field(default_factory=dict)
    run: dict = field(default_factory=dict)
    _cache: dict = field(default_factory=dict, repr=False)

    # -- what was run ------------------------------------------------------------------------------
    @property
    def rule_names(self) -> list[str]:
        return list(self.runs[0].rules)

    def label(self, rule: str) -> str:
        return RULE_LABELS.get(rule, rule)

    def _sweeps(self, weak: bool = False) -> pd.DataFrame:
        """Every seed's cost sweep in one frame (column ``seed``), built once."""
        key = ("sweeps", weak)
        if key not in self._cache:
            frames = [(r.weak_sweep if weak else r.sweep).assign(seed=r.seed) for r in self.runs]
            self._cache[key] = pd.concat(frames, ignore_index=True)
        return self._cache[key]

    def _per_class(self) -> pd.DataFrame:
        return pd.concat([r.per_class.assign(seed=r.seed) for r in self.runs], ignore_index=True)

    def no_deferral(self) -> pd.DataFrame:
        """Per class and ``"all"``: accuracy of the classifier, of the surrogate's own predictions and of
        the clinician(s) on the test split (mean over seeds)."""
        labels, rows = self.labels, {}
        names = [*self.classes, "all"]
        for name in names:
            cols = [self.classes.index(name)] if name != "all" else list(range(len(self.classes)))
            y = labels[:, cols]
            known = ~np.isnan(y)
            row = {}
            for rule, what in ((Rule.ERROR_MODEL.value, "classifier"), (Rule.SURROGATE.value, "surrogate")):
                if rule in self.rule_names:
                    accs = [(r.rules[rule].predictions[:, cols] == y)[known].mean() for r in self.runs]
                    row[f"{what} accuracy"] = np.mean(accs)
            row["clinician accuracy"] = (self.clinician[:, cols] == y)[known].mean()
            row["weak clinician accuracy"] = (self.weak_clinician[:, cols] == y)[known].mean()
            row["positives"] = int(np.nansum(y))
            row["decisions"] = int(known.sum())
            rows[name] = row
        return pd.DataFrame(rows).T

    # -- tables ------------------------------------------------------------------------------------
    def seed_values(self, rule: str, cost: float, column: str, name: str = "all", weak: bool = False) -> np.ndarray:
        """``column`` of :data:`~cxrlib.defer.METRICS` for ``rule`` at ``cost`` on class ``name``, one value
        per seed. Where a seed deferred every decision its coverage is 0, its system accuracy the
        clinician's and its loss ``cost``; its kept-set metrics are NaN (undefined, left out of means)."""
        sweep = self._sweeps(weak)
        rows = sweep[(sweep["rule"] == rule) & np.isclose(sweep["cost"], cost) & (sweep["class"] == name)]
        values = []
        for run in self.runs:
            hit = rows.loc[rows["seed"] == run.seed, column]
            values.append(float(hit.iloc[0]) if len(hit) else _all_deferred(self, run, rule, cost, name, column, weak))
        return np.asarray(values)

    def _at(self, rule: str, cost: float, name: str = "all", weak: bool = False) -> dict[str, tuple[float, float]]:
        """Mean ± half-width over seeds of each metric of ``rule`` at ``cost`` on ``name``; a kept-set
        metric over the seeds where it is defined, and absent where it is defined for none."""
        out = {}
        for column in ("coverage", "kept accuracy", "kept AUROC", "system accuracy", "cost-weighted loss"):
            values = self.seed_values(rule, cost, column, name, weak)
            if np.isfinite(values).any():
                out[column] = mean_ci(values)
        return out

    def cost_table(self, costs: tuple[float, ...] | None = None) -> pd.DataFrame:
        """Per rule and cost (rows), every decision pooled: coverage, kept-set accuracy and AUROC (mean over
        classes), system accuracy and the cost-weighted loss; mean ± 95% half-width over seeds, as text
        ("nothing kept" where every seed deferred everything)."""
        costs = costs or self.settings.table_costs
        rows = []
        for rule in self.rule_names:
            for cost in costs:
                at = self._at(rule, cost)
                row = {"rule": self.label(rule), "c": cost}
                for column in ("coverage", "kept accuracy", "kept AUROC", "system accuracy", "cost-weighted loss"):
                    row[column] = _cell(at.get(column), "nothing kept" if "kept" in column else "undefined")
                rows.append(row)
        return pd.DataFrame(rows).set_index(["rule", "c"])

    def summary(self) -> pd.DataFrame:
        """One row per rule: AURC and mistake AUROC (means over classes), accuracy at 80% and 90% coverage,
        and at the headline cost: coverage, kept accuracy and system accuracy; mean ± 95% over seeds."""
        per_class = self._per_class()
        c = self.settings.cost
        rows = []
        for rule in self.rule_names:
            part = per_class[per_class["rule"] == rule].groupby("seed")
            at = self._at(rule, c)
            rows.append(
                {
                    "rule": self.label(rule),
                    "AURC": _cell(mean_ci(part["AURC"].mean().to_numpy())),
                    "mistake AUROC": _cell(mean_ci(part["mistake AUROC"].mean().to_numpy())),
                    "accuracy at 80% coverage": _cell(mean_ci(part["accuracy at 0.8"].mean().to_numpy())),
                    "accuracy at 90% coverage": _cell(mean_ci(part["accuracy at 0.9"].mean().to_numpy())),
                    f"coverage (c={c:g})": _cell(at.get("coverage")),
                    f"kept accuracy (c={c:g})": _cell(at.get("kept accuracy"), "nothing kept"),
                    f"system accuracy (c={c:g})": _cell(at.get("system accuracy")),
                }
            )
        return pd.DataFrame(rows).set_index("rule")

    def per_class_aurc(self) -> pd.DataFrame:
        """AURC per rule (rows) and class (columns), mean over seeds (lower is better)."""
        table = self._per_class().groupby(["rule", "class"])["AURC"].mean().unstack()[self.classes]
        return table.loc[self.rule_names].rename(index=self.label)

    def matched_coverage(self, other: str, rule: str = Rule.ERROR_MODEL.value) -> pd.DataFrame:
        """Accuracy on the kept set at each of :data:`COVERAGES` (mean over classes): ``rule``, ``other``
        and their paired difference per seed, mean ± 95% half-width."""
        per_class = self._per_class()
        rows = []
        for q in COVERAGES:
            column = f"accuracy at {q:g}"
            a = per_class[per_class["rule"] == rule].groupby("seed")[column].mean()
            b = per_class[per_class["rule"] == other].groupby("seed")[column].mean()
            diff = (a - b).to_numpy()
            rows.append(
                {
                    "coverage": q,
                    self.label(rule): mean_ci(a.to_numpy())[0],
                    self.label(other): mean_ci(b.to_numpy())[0],
                    "difference": mean_ci(diff)[0],
                    "difference ±95%": mean_ci(diff)[1],
                }
            )
        return pd.DataFrame(rows).set_index("coverage")

    def balance_table(self) -> pd.DataFrame:
        """The error model trained unbalanced vs balanced (and balanced with the prior shift undone):
        mistake AUROC and AURC (means over classes), mean P̂(wrong) against the observed error rate,
        coverage and kept accuracy at the headline cost; mean ± 95% over seeds."""
        frame = pd.concat([r.balance.assign(seed=r.seed) for r in self.runs])
        rows = []
        for variant in self.balance_variants:
            part = frame[frame.index == variant]
            row = {"error model": variant}
            for column in part.columns.drop("seed"):
                values = part[column].to_numpy(float)
                row[column] = _cell(mean_ci(values) if np.isfinite(values).any() else None, "nothing kept")
            rows.append(row)
        return pd.DataFrame(rows).set_index("error model")

    @property
    def balance_variants(self) -> list[str]:
        """The error-model variants of :meth:`balance_table` that every seed could train (balancing needs
        a mistake and a correct answer of every class in the error model's split)."""
        return [v for v in BALANCE_VARIANTS if all(v in r.balance.index for r in self.runs)]

    def weak_table(self) -> pd.DataFrame:
        """On the weak class at the headline cost, per rule: coverage and system accuracy with the usual
        clinician and with the weak one (the surrogate trained against it); the model alone and each
        clinician alone in the last rows."""
        c, k = self.settings.cost, self.settings.weak_class
        rows = []
        for rule in self.rule_names:
            usual, weak = self._at(rule, c, k), self._at(rule, c, k, weak=True)
            rows.append(
                {
                    "rule": self.label(rule),
                    "coverage, usual clinician": _cell(usual.get("coverage")),
                    "system accuracy, usual clinician": _cell(usual.get("system accuracy")),
                    "coverage, weak clinician": _cell(weak.get("coverage")),
                    "system accuracy, weak clinician": _cell(weak.get("system accuracy")),
                }
            )
        base = self.no_deferral().loc[k]
        alone = (float(base["classifier accuracy"]), np.nan)
        rows.append(
            {
                "rule": "no deferral (classifier alone)",
                "system accuracy, usual clinician": _cell(alone),
                "system accuracy, weak clinician": _cell(alone),
            }
        )
        rows.append(
            {
                "rule": "clinician alone",
                "system accuracy, usual clinician": _cell((float(base["clinician accuracy"]), np.nan)),
                "system accuracy, weak clinician": _cell((float(base["weak clinician accuracy"]), np.nan)),
            }
        )
        return pd.DataFrame(rows).set_index("rule").fillna("")

    # -- figures -----------------------------------------------------------------------------------
    def sweep_figure(self, name: str):
        """Coverage against kept-set accuracy, kept-set AUROC and system accuracy over the cost sweep, and
        coverage against the cost, for every rule on class ``name`` (``"all"``: every decision)."""
        from .. import plots

        sweep = self._sweeps()
        part = sweep[sweep["class"] == name]
        mean = part.groupby(["rule", "cost"])[["coverage", "kept accuracy", "kept AUROC", "system accuracy"]].mean()
        mean = mean.reset_index()
        mean["rule"] = mean["rule"].map(self.label)
        base = self.no_deferral().loc[name]
        references = {
            "classifier alone": float(base["classifier accuracy"]),
            "clinician alone": float(base["clinician accuracy"]),
        }
        title = f"{name}: the cost sweep c ∈ (0, 0.5), mean over {len(self.runs)} seed(s)"
        return plots.deferral_sweep(mean, references, title=title, order=[self.label(r) for r in self.rule_names])

    def risk_coverage_figure(self):
        """Risk (error rate among the kept decisions) against coverage, per class, every rule; mean over seeds."""
        from .. import plots

        panels = {
            name: {self.label(rule): _mean_curve(self.runs, "curves", rule, name) for rule in self.rule_names}
            for name in self.classes
        }
        return plots.coverage_curves(panels, "risk (error rate of the kept decisions)", "Risk–coverage curves")

    def weak_figure(self):
        """System accuracy against coverage on the weak class, with the usual and with the weak clinician."""
        from .. import plots

        k = self.settings.weak_class
        panels = {
            "usual clinician": {self.label(r): _mean_curve(self.runs, "system_curves", r, k) for r in self.rule_names},
            "weak clinician": {
                self.label(r): _mean_curve(self.runs, "weak_system_curves", r, k) for r in self.rule_names
            },
        }
        base = self.no_deferral().loc[k]
        references = {
            "usual clinician": {"clinician alone": float(base["clinician accuracy"])},
            "weak clinician": {"clinician alone": float(base["weak clinician accuracy"])},
        }
        return plots.coverage_curves(
            panels, "system accuracy", f"{k}: model + clinician, by coverage", references=references
        )

    def overlay_figure(self, name: str | None = None, per_side: int = 3):
        """Test images of class ``name`` (default: the class the error model defers most at the headline
        cost) deferred vs kept at the headline cost, per rule, with the Grad-CAM map of that class (the
        classifier's; the surrogate's own for the surrogate). First seed."""
        from .. import plots

        run, c = self.runs[0], self.settings.cost
        if run.test_maps is None:
            return None
        if name is None:
            defer = run.rules[Rule.ERROR_MODEL.value].defer(c)
            known = ~np.isnan(self.labels)
            name = self.classes[int(np.argmax((defer & known).sum(0)))]
        k = self.classes.index(name)
        y = self.labels[:, k]
        rows, maps = {}, {}
        for rule_name, rule in run.rules.items():
            known = np.flatnonzero(~np.isnan(y))
            score = rule.deferral_score[known, k]
            deferred = known[np.argsort(-score, kind="stable")][: (score > c).sum()][:per_side]
            kept = known[np.argsort(score, kind="stable")][: (score <= c).sum()]
            kept = [i for i in kept if y[i] == 1][:per_side] or list(kept[:per_side])
            picks = [(int(i), True) for i in deferred] + [(int(i), False) for i in kept]
            rows[self.label(rule_name)] = [
                (
                    i,
                    f"{'deferred' if d else 'kept'}: y={int(y[i])}, ŷ={int(rule.predictions[i, k])}\n"
                    f"score {rule.deferral_score[i, k]:.2f}",
                    d,
                )
                for i, d in picks
            ]
            use = run.surrogate_maps if rule_name == Rule.SURROGATE.value else run.test_maps
            maps[self.label(rule_name)] = use[:, k]
        images = torch.stack([self.test_data[i]["image"] for i in range(len(self.test_data))])
        return plots.deferral_examples(images, maps, rows, title=f"{name}: deferred vs kept at c = {c:g}")

    def histories(self) -> dict[str, pd.DataFrame]:
        return {
            f"{name} seed {r.seed}": h for r in self.runs for name, h in r.histories.items() if name != "error model"
        }

    def discussion(self) -> str:
        return defer_discussion(self)


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def _cell(value: tuple[float, float] | None, missing: str = "undefined", digits: int = 3) -> str:
    """``mean ± half`` as text; ``missing`` when there is no value."""
    if value is None or not np.isfinite(value[0]):
        return missing
    mean, half = value
    return f"{mean:.{digits}f}" + (f" ± {half:.{digits}f}" if np.isfinite(half) else "")


def _all_deferred(
    result: DeferResult, run: DeferSeedRun, rule: str, cost: float, name: str, column: str, weak: bool
) -> float:
    """``column`` when every decision of ``name`` is deferred: coverage 0, the clinician's accuracy, a
    loss of ``cost`` per decision, the model's accuracy as ever, and no kept-set metric (NaN)."""
    if column == "coverage":
        return 0.0
    if column == "cost-weighted loss":
        return cost
    cols = list(range(len(result.classes))) if name == "all" else [result.classes.index(name)]
    y = result.labels[:, cols]
    known = ~np.isnan(y)
    if column in ("system accuracy", "clinician accuracy"):
        clinician = result.weak_clinician if weak else result.clinician
        return float((clinician[:, cols] == y)[known].mean())
    if column == "model accuracy":
        predictions = (run.weak_rules if weak else run.rules)[rule].predictions
        return float((predictions[:, cols] == y)[known].mean())
    return float("nan")


def _mean_curve(runs: list[DeferSeedRun], which: str, rule: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    curves = [getattr(r, which)[(rule, name)] for r in runs]
    return curves[0][0], np.mean([c[1] for c in curves], axis=0)


def _clinicians(s: DeferSettings, splits, classes: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per split, the usual clinician's answers and the weak one's (the usual with the weak class redrawn)."""
    k = classes.index(s.weak_class)
    out = {}
    for index, name in enumerate(DEFER_SPLITS):
        part = getattr(splits, name)
        if "reader_labels" in part.info:
            usual = reader_clinician(part)
        else:
            usual = simulated_clinician(
                part.labels, s.clinician_sensitivity, s.clinician_specificity, (s.data_seed, index), classes
            )
        weak = usual.copy()
        weak[:, k] = simulated_clinician(
            part.labels[:, [k]], s.weak_sensitivity, s.weak_specificity, (s.data_seed, 1000 + index)
        )[:, 0]
        out[name] = (usual, weak)
    return out


def _per_class_rows(rules: dict[str, DeferralRule], labels, clinician, classes) -> tuple[pd.DataFrame, dict, dict]:
    rows, curves, system = [], {}, {}
    for name, rule in rules.items():
        for k, c in enumerate(classes):
            known = ~np.isnan(labels[:, k])
            y = labels[known, k]
            right = rule.predictions[known, k] == y
            score = rule.deferral_score[known, k]
            curves[(name, c)] = risk_coverage_curve(score, ~right)
            system[(name, c)] = system_accuracy_curve(score, right, clinician[known, k] == y)
            row = {
                "rule": name,
                "class": c,
                "AURC": float(curves[(name, c)][1].mean()),
                "mistake AUROC": mistake_auroc(score, ~right),
                "model accuracy": float(right.mean()),
            }
            row.update({f"accuracy at {q:g}": selective_accuracy(score, ~right, q) for q in COVERAGES})
            rows.append(row)
    return pd.DataFrame(rows), curves, system


def _sweep(rules: dict[str, DeferralRule], labels, clinician, classes) -> pd.DataFrame:
    return pd.concat(
        [cost_sweep(rule, labels, clinician, SWEEP_COSTS, classes).assign(rule=name) for name, rule in rules.items()],
        ignore_index=True,
    )


def _weak_system_curves(rules, labels, clinician, classes, weak_class) -> dict:
    k = classes.index(weak_class)
    known = ~np.isnan(labels[:, k])
    y = labels[known, k]
    return {
        (name, weak_class): system_accuracy_curve(
            rule.deferral_score[known, k], rule.predictions[known, k] == y, clinician[known, k] == y
        )
        for name, rule in rules.items()
    }


def _balance_rows(fitted: dict, test_maps, test_logits, labels, cost, classes) -> pd.DataFrame:
    """Per variant: mistake AUROC, AURC, mean P̂(wrong), observed error rate, coverage and kept accuracy
    at ``cost`` (every decision pooled)."""
    wrong = mistakes(test_logits, labels)
    known = ~np.isnan(wrong)
    rows = {}
    for variant in BALANCE_VARIANTS:
        model = fitted.get(Balance.BALANCED.value if variant.startswith("balanced") else Balance.NONE.value)
        if model is None:  # balancing was impossible (a class without mistakes): the variant is left out
            continue
        p = model.p_wrong(test_maps, test_logits, prior_corrected=variant.endswith("corrected"))
        keep = (p <= cost) & known
        aurcs, aucs = [], []
        for k in range(len(classes)):
            col = known[:, k]
            aurcs.append(float(risk_coverage_curve(p[col, k], wrong[col, k])[1].mean()))
            aucs.append(mistake_auroc(p[col, k], wrong[col, k]))
        rows[variant] = {
            "mistake AUROC": float(np.nanmean(aucs)),
            "AURC": float(np.mean(aurcs)),
            "mean P̂(wrong)": float(p[known].mean()),
            "observed error rate": float(wrong[known].mean()),
            "coverage at c": float(keep.sum() / known.sum()),
            "kept accuracy at c": float(1 - wrong[keep].mean()) if keep.any() else np.nan,
        }
    return pd.DataFrame(rows).T


# ------------------------------------------------------------------------------------------------
# the run
# ------------------------------------------------------------------------------------------------
def run_defer(settings: DeferSettings) -> DeferResult:
    """Train and score every rule for every seed; see the module docstring."""
    t_start = time.perf_counter()
    s = settings
    ds = open_chest_dataset(
        s, readers={"n_readers": 1, "sensitivity": s.clinician_sensitivity, "specificity": s.clinician_specificity}
    )
    classes = list(ds.classes)
    if s.weak_class not in classes:
        raise ValueError(f"parameter 'weak_class': {s.weak_class!r} is not one of {classes}")
    splits = defer_splits(ds, dict(zip(DEFER_SPLITS, s.fractions, strict=True)), seed=s.data_seed)
    clinicians = _clinicians(s, splits, classes)
    test_labels = splits.test.labels
    rules_wanted = [Rule(r) for r in s.rules]
    stride = backbone_output_stride(s.backbone, s.output_stride)

    def config(seed: int, epochs: int) -> TrainConfig:
        return study_train_config(s, seed, epochs=epochs)

    def surrogate(seed: int, which: int) -> tuple[np.ndarray, pd.DataFrame, torch.nn.Module]:
        """Train the surrogate from scratch against clinician ``which`` (0: usual, 1: weak)."""
        torch.manual_seed(seed)
        net = build_deferral_net(
            s.backbone, len(classes), pretrained=s.pretrained, dropout=s.dropout, output_stride=stride
        )
        train = with_clinician(splits.train, clinicians["train"][which])
        val = with_clinician(splits.val, clinicians["val"][which])
        history = fit(net, train, val, DeferralSurrogateLoss(net), config(seed, s.epochs)).history
        return surrogate_probabilities(net, splits.test, device=s.device), history, net

    runs: list[DeferSeedRun] = []
    for seed in s.seeds:
        torch.manual_seed(seed)
        model = build_model(s.backbone, len(classes), pretrained=s.pretrained, dropout=s.dropout, output_stride=stride)
        histories = {
            "classifier": fit(model, splits.train, splits.val, WeightedBCELoss(), config(seed, s.epochs)).history
        }
        pred = {
            name: predict(model, getattr(splits, name), device=s.device, saliency="gradcam")
            for name in ("error", "val", "test")
        }
        test_maps, test_logits = pred["test"].maps, pred["test"].logits

        def error_model(inputs: ErrorInputs, balance: Balance, seed=seed, pred=pred):
            cfg = ErrorModelConfig(inputs=inputs.value, balance=balance.value, epochs=s.error_epochs, seed=seed)
            e, v = pred["error"], pred["val"]
            return fit_error_model(e.maps, e.logits, e.labels, v.maps, v.logits, v.labels, cfg)

        fitted = {}
        for balance in Balance:
            try:
                fitted[balance.value] = error_model(ErrorInputs.MAPS_AND_PROBABILITIES, balance)
            except ValueError as err:  # only the comparison's other variant may be impossible
                if balance.value == s.error_balance or "cannot balance" not in str(err):
                    raise
        histories["error model"] = fitted[s.error_balance].history
        rules: dict[str, DeferralRule] = {}
        surrogate_maps = None
        for rule in rules_wanted:
            label = rule.value
            if rule is Rule.ERROR_MODEL:
                p = fitted[s.error_balance].p_wrong(test_maps, test_logits)
                rules[label] = error_model_rule(test_logits, p, label)
            elif rule is Rule.ERROR_MODEL_PROBS:
                probs_only = error_model(ErrorInputs.PROBABILITIES, Balance(s.error_balance))
                rules[label] = error_model_rule(test_logits, probs_only.p_wrong(test_maps, test_logits), label)
            elif rule is Rule.CONFIDENCE:
                rules[label] = confidence_rule(test_logits, label)
            elif rule is Rule.MC_DROPOUT:
                q = mc_dropout_probabilities(model, splits.test, s.mc_samples, seed=seed, device=s.device)
                rules[label] = predictive_rule(test_logits, q, label)
            elif rule is Rule.LAPLACE:
                q = laplace_probabilities(model, splits.train, splits.test, device=s.device)
                rules[label] = predictive_rule(test_logits, q, label)
            elif rule is Rule.SURROGATE:
                g, histories["surrogate"], net = surrogate(seed, 0)
                rules[label] = surrogate_rule(g, label)
                if seed == s.seeds[0]:
                    surrogate_maps = predict(net, splits.test, device=s.device, saliency="gradcam").maps
        weak_rules = dict(rules)
        if Rule.SURROGATE in rules_wanted:
            g, histories["surrogate, weak clinician"], _ = surrogate(seed, 1)
            weak_rules[Rule.SURROGATE.value] = surrogate_rule(g, Rule.SURROGATE.value)
        usual, weak = clinicians["test"]
        per_class, curves, system = _per_class_rows(rules, test_labels, usual, classes)
        runs.append(
            DeferSeedRun(
                seed=seed,
                rules=rules,
                weak_rules=weak_rules,
                sweep=_sweep(rules, test_labels, usual, classes),
                weak_sweep=_sweep(weak_rules, test_labels, weak, classes),
                per_class=per_class,
                curves=curves,
                system_curves=system,
                weak_system_curves=_weak_system_curves(weak_rules, test_labels, weak, classes, s.weak_class),
                balance=_balance_rows(fitted, test_maps, test_logits, test_labels, s.cost, classes),
                histories=histories,
                error_split_mistakes=dict(
                    zip(
                        classes, np.nansum(mistakes(pred["error"].logits, pred["error"].labels), 0).astype(int).tolist()
                    )
                ),
                test_maps=test_maps if seed == s.seeds[0] else None,
                surrogate_maps=surrogate_maps,
            )
        )
    result = DeferResult(s, classes, runs, splits.test, test_labels, *clinicians["test"])
    result.run = describe_run(
        s,
        splits.sizes(),
        time.perf_counter() - t_start,
        classes=classes,
        grad_cam_grid=f"{runs[0].test_maps.shape[-2]}×{runs[0].test_maps.shape[-1]}",
        images_without_labels=splits.dropped,
    )
    result.headline = _headline(result)
    return result


# ------------------------------------------------------------------------------------------------
# headline numbers and the discussion written from them
# ------------------------------------------------------------------------------------------------
def _sweep_curve(result: DeferResult, rule: str) -> dict[str, list]:
    """Every decision pooled, per cost of the sweep: coverage (mean over seeds, 0 where a seed kept
    nothing) and kept accuracy (mean over the seeds that kept something; None where none did)."""
    costs, coverage, kept = [], [], []
    for cost in SWEEP_COSTS:
        cov = result.seed_values(rule, cost, "coverage")
        acc = result.seed_values(rule, cost, "kept accuracy")
        costs.append(cost)
        coverage.append(float(cov.mean()))
        kept.append(float(np.nanmean(acc)) if np.isfinite(acc).any() else None)
    return {"cost": costs, "coverage": coverage, "kept_accuracy": kept}


def _rule_headline(result: DeferResult, rule: str) -> dict:
    c = result.settings.cost
    per_class = result._per_class()
    per_seed = per_class[per_class["rule"] == rule].groupby("seed").mean(numeric_only=True)
    out = {"label": result.label(rule)}
    for column in ("coverage", "kept accuracy", "kept AUROC", "system accuracy", "cost-weighted loss"):
        values = result.seed_values(rule, c, column)
        mean, half = mean_ci(values) if np.isfinite(values).any() else (None, None)
        key = column.replace(" ", "_").replace("-", "_")
        out[f"{key}_at_c"], out[f"{key}_at_c_ci95"] = mean, half
    for column, key in (
        ("AURC", "aurc"),
        ("mistake AUROC", "mistake_auroc"),
        ("model accuracy", "accuracy_no_deferral"),
    ):
        out[key], out[f"{key}_ci95"] = mean_ci(per_seed[column].to_numpy())
    out["accuracy_at_coverage"] = {
        f"{round(100 * q)}": mean_ci(per_seed[f"accuracy at {q:g}"].to_numpy())[0] for q in COVERAGES
    }
    out["sweep"] = _sweep_curve(result, rule)
    return out


def _beats_no_deferral(result: DeferResult) -> dict:
    """Whether the error model's kept accuracy (mean over seeds) beats the classifier's accuracy without
    deferral at every cost of the sweep whose mean coverage is below 1 (and above 0)."""
    full = float(result.no_deferral().loc["all", "classifier accuracy"])
    curve = _sweep_curve(result, Rule.ERROR_MODEL.value)
    points = [
        (cost, cov, acc)
        for cost, cov, acc in zip(curve["cost"], curve["coverage"], curve["kept_accuracy"], strict=True)
        if acc is not None and cov < 1.0
    ]
    gains = [acc - full for _, _, acc in points]
    worst = int(np.argmin(gains)) if gains else None
    return {
        "accuracy_no_deferral": full,
        "costs_with_coverage_below_1": len(points),
        "at_every_coverage_below_1": bool(points) and min(gains) > 0,
        "smallest_gain": min(gains) if gains else None,
        "smallest_gain_at_cost": points[worst][0] if gains else None,
        "smallest_gain_at_coverage": points[worst][1] if gains else None,
        "failing_costs": [cost for (cost, _, _), g in zip(points, gains, strict=True) if g <= 0],
    }


def _matched(result: DeferResult, other: str) -> list[dict]:
    table = result.matched_coverage(other)
    return [
        {"coverage": q, "difference": float(row["difference"]), "difference_ci95": float(row["difference ±95%"])}
        for q, row in table.iterrows()
    ]


def _paired_balance(result: DeferResult, column: str) -> dict | None:
    """``column`` of the balanced error model minus the unbalanced one, paired over seeds (None when
    balancing was impossible)."""
    if "balanced" not in result.balance_variants:
        return None
    diff = [r.balance.loc["balanced", column] - r.balance.loc["unbalanced", column] for r in result.runs]
    mean, half = mean_ci(diff)
    return {"difference": mean, "ci95": half}


def _headline(result: DeferResult) -> dict:
    s = result.settings
    nd = result.no_deferral()
    balance = pd.concat([r.balance for r in result.runs]).groupby(level=0).mean()
    variants = result.balance_variants
    weak_rules = {}
    for rule in result.rule_names:
        usual, weak = result._at(rule, s.cost, s.weak_class), result._at(rule, s.cost, s.weak_class, weak=True)
        weak_rules[rule] = {
            "coverage_at_c": usual["coverage"][0],
            "system_accuracy_at_c": usual["system accuracy"][0],
            "coverage_at_c_weak": weak["coverage"][0],
            "system_accuracy_at_c_weak": weak["system accuracy"][0],
            "system_accuracy_at_c_weak_ci95": weak["system accuracy"][1],
        }
        for key, clinician in (("", False), ("_weak", True)):
            gain = result.seed_values(rule, s.cost, "system accuracy", s.weak_class, clinician) - result.seed_values(
                rule, s.cost, "model accuracy", s.weak_class, clinician
            )
            weak_rules[rule][f"gain_over_no_deferral{key}"], weak_rules[rule][f"gain_over_no_deferral{key}_ci95"] = (
                mean_ci(gain)
            )
    others = [
        r for r in (Rule.CONFIDENCE.value, Rule.SURROGATE.value, Rule.ERROR_MODEL_PROBS.value) if r in result.rule_names
    ]
    return {
        "run": result.run,
        "profile": s.profile,
        "classes": result.classes,
        "cost": s.cost,
        "accuracy_no_deferral": float(nd.loc["all", "classifier accuracy"]),
        "clinician_accuracy": float(nd.loc["all", "clinician accuracy"]),
        "per_class_accuracy_no_deferral": {c: float(nd.loc[c, "classifier accuracy"]) for c in result.classes},
        "per_class_clinician_accuracy": {c: float(nd.loc[c, "clinician accuracy"]) for c in result.classes},
        "error_split_mistakes": {
            c: float(np.mean([r.error_split_mistakes[c] for r in result.runs])) for c in result.classes
        },
        "rules": {rule: _rule_headline(result, rule) for rule in result.rule_names},
        "error_model_vs_no_deferral": _beats_no_deferral(result),
        "error_model_vs": {other: _matched(result, other) for other in others},
        "balance": {
            variant.replace(", ", "_").replace(" ", "_").replace("-", "_"): {
                key: float(balance.loc[variant, column]) for column, key in _BALANCE_KEYS.items()
            }
            for variant in variants
        },
        "balance_aurc_difference": _paired_balance(result, "AURC"),
        "balance_mistake_auroc_difference": _paired_balance(result, "mistake AUROC"),
        "weak_clinician": {
            "class": s.weak_class,
            "sensitivity": s.weak_sensitivity,
            "specificity": s.weak_specificity,
            "clinician_accuracy": float(nd.loc[s.weak_class, "weak clinician accuracy"]),
            "usual_clinician_accuracy": float(nd.loc[s.weak_class, "clinician accuracy"]),
            "classifier_accuracy": float(nd.loc[s.weak_class, "classifier accuracy"]),
            "rules": weak_rules,
        },
    }


def defer_discussion(result: DeferResult) -> str:
    """Paragraphs written from the numbers of ``result`` (Markdown)."""
    s, head, run = result.settings, result.headline, result.run
    rules, c = head["rules"], s.cost
    n_seeds = len(s.seeds)
    spread = "mean ± 95% half-width over seeds" if n_seeds > 1 else "one seed: no interval"
    lines = []
    acc, clin = head["per_class_accuracy_no_deferral"], head["per_class_clinician_accuracy"]
    better = [k for k in result.classes if clin[k] > acc[k]]
    worse = [k for k in result.classes if clin[k] <= acc[k]]
    mist = head["error_split_mistakes"]
    lines.append(
        f"**The set-up.** {s.backbone} on {s.dataset} at {s.image_size} px; patient-disjoint splits of "
        f"{run.get('n_train', '?')} images for the classifier, {run.get('n_error', '?')} for the error model, "
        f"{run.get('n_val', '?')} for validation and {run.get('n_test', '?')} for test; {n_seeds} seed(s) ({spread}). "
        f"Without deferral the classifier's test accuracy was {fmt(head['accuracy_no_deferral'])} over all "
        "decisions (" + ", ".join(f"{k} {fmt(acc[k])}" for k in result.classes) + "); the simulated clinician's was "
        f"{fmt(head['clinician_accuracy'])} ("
        + ", ".join(f"{k} {fmt(clin[k])}" for k in result.classes)
        + "). "
        + (
            f"The clinician is the more accurate on {join(better)}"
            if better
            else "The clinician is more accurate on no class"
        )
        + (f", the classifier on {join(worse)}. " if worse else ". ")
        + "The error model learns from the classifier's mistakes on its own split: on average "
        + ", ".join(f"{mist[k]:.0f} for {k}" for k in result.classes)
        + "."
    )
    parts = []
    for r in rules.values():
        kept = (
            f"kept accuracy {with_ci(r['kept_accuracy_at_c'], r['kept_accuracy_at_c_ci95'])}"
            if r["kept_accuracy_at_c"] is not None
            else "nothing kept"
        )
        parts.append(
            f"{r['label']} kept {with_ci(r['coverage_at_c'], r['coverage_at_c_ci95'])} of the decisions ({kept}; "
            f"system accuracy {with_ci(r['system_accuracy_at_c'], r['system_accuracy_at_c_ci95'])})"
        )
    lines.append(f"**At c = {c:g}** (every decision pooled): " + "; ".join(parts) + ".")
    beat = head["error_model_vs_no_deferral"]
    if beat["costs_with_coverage_below_1"] == 0:
        lines.append(
            "**Does the error model help at all?** At no cost of the sweep did it defer anything while keeping "
            "something, so the question has no answer in this run."
        )
    elif beat["at_every_coverage_below_1"]:
        lines.append(
            f"**Does the error model help at all?** Yes: at every one of the {beat['costs_with_coverage_below_1']} "
            f"costs of the sweep (c = 0.01 … 0.49) where it deferred something, the accuracy of the decisions it kept "
            f"(mean over seeds) was above the {fmt(beat['accuracy_no_deferral'])} of no deferral; the smallest gain, "
            f"{fmt(beat['smallest_gain'])}, came at c = {beat['smallest_gain_at_cost']:g} "
            f"(coverage {fmt(beat['smallest_gain_at_coverage'])})."
        )
    else:
        failing = beat["failing_costs"]
        lines.append(
            f"**Does the error model help at all?** Not everywhere: at {len(failing)} of the "
            f"{beat['costs_with_coverage_below_1']} costs of the sweep where it deferred something (c = "
            f"{', '.join(f'{x:g}' for x in failing[:6])}{' …' if len(failing) > 6 else ''}) the accuracy of what it "
            f"kept was not above the {fmt(beat['accuracy_no_deferral'])} of no deferral (smallest gain "
            f"{fmt(beat['smallest_gain'])} at coverage {fmt(beat['smallest_gain_at_coverage'])})."
        )
    lines += _versus_paragraphs(result)
    lines += _balance_paragraph(result)
    lines += _weak_paragraph(result)
    return "\n\n".join(lines)


#: fewer seeds give an interval too wide, or too often degenerate (two equal differences), to decide on
MIN_SEEDS_FOR_VERDICT = 3


def _decided(mean: float, half: float, n_seeds: int) -> str:
    """``"above"`` / ``"below"`` when the 95% interval of a paired difference excludes 0, ``"level"`` when it
    does not, ``"none"`` with fewer than :data:`MIN_SEEDS_FOR_VERDICT` seeds."""
    if n_seeds < MIN_SEEDS_FOR_VERDICT or half is None or not np.isfinite(half):
        return "none"
    return "above" if mean - half > 0 else "below" if mean + half < 0 else "level"


def _verdict(rows: list[dict], n_seeds: int) -> tuple[list[float], list[float], list[float]]:
    """Coverages where the paired difference is above 0, below 0, or cannot be told from 0 (all of them
    the last with too few seeds)."""
    if n_seeds < MIN_SEEDS_FOR_VERDICT:
        return [], [], [r["coverage"] for r in rows]
    above = [
        r["coverage"] for r in rows if np.isfinite(r["difference_ci95"]) and r["difference"] - r["difference_ci95"] > 0
    ]
    below = [
        r["coverage"] for r in rows if np.isfinite(r["difference_ci95"]) and r["difference"] + r["difference_ci95"] < 0
    ]
    neither = [r["coverage"] for r in rows if r["coverage"] not in above + below]
    return above, below, neither


def _versus_paragraphs(result: DeferResult) -> list[str]:
    head, lines = result.headline, []
    rules = head["rules"]
    em = rules[Rule.ERROR_MODEL.value]
    aurc = "; ".join(f"{r['label']} {with_ci(r['aurc'], r['aurc_ci95'])}" for r in rules.values())
    lines.append(
        "**Ranking the decisions (risk–coverage).** The area under the risk–coverage curve (mean over classes; lower "
        f"is better, a perfect ranking of this many mistakes gets close to 0) was {aurc}. The error model's AUROC for "
        "telling the classifier's mistakes from its correct answers was "
        f"{with_ci(em['mistake_auroc'], em['mistake_auroc_ci95'])}."
    )
    plain, n = [], len(result.runs)
    for other, rows in head["error_model_vs"].items():
        label = result.label(other)
        above, below, neither = _verdict(rows, n)
        diffs = ", ".join(f"{percent(r['coverage'])}: {r['difference']:+.3f}" for r in rows)
        if n < MIN_SEEDS_FOR_VERDICT:
            plain.append(
                f"Against {label}, the differences in kept accuracy (error model minus {label}) at coverage {diffs} "
                f"rest on {n} seed(s), too few for a verdict."
            )
            continue
        sentence = f"Against {label} (kept accuracy, error model minus {label}, paired over seeds: {diffs}): "
        verdicts = []
        if above:
            verdicts.append(f"the error model is better at coverage {', '.join(percent(q) for q in above)}")
        if below:
            verdicts.append(f"worse at {', '.join(percent(q) for q in below)}")
        if neither:
            verdicts.append(
                f"{'and ' if verdicts else ''}the two cannot be told apart at {', '.join(percent(q) for q in neither)}"
            )
        plain.append(sentence + "; ".join(verdicts) + ".")
    short = []
    for other in (Rule.CONFIDENCE.value, Rule.SURROGATE.value):
        if other not in head["error_model_vs"] or n < MIN_SEEDS_FOR_VERDICT:
            continue
        above, below, _ = _verdict(head["error_model_vs"][other], n)
        what = f"at coverage {', '.join(percent(q) for q in above)}" if above else "at none of the coverages tested"
        short.append(
            f"the error model beats {result.label(other)} {what}"
            + (f" and loses to it at {', '.join(percent(q) for q in below)}" if below else "")
        )
    if short:
        plain.append("In short: " + "; ".join(short) + ".")
    if plain:
        lines.append("**Does the error model beat the simpler rules?** " + " ".join(plain))
    if Rule.ERROR_MODEL_PROBS.value in rules:
        probs = rules[Rule.ERROR_MODEL_PROBS.value]
        rows = head["error_model_vs"].get(Rule.ERROR_MODEL_PROBS.value, [])
        above, below, _ = _verdict(rows, n)
        listed = ", ".join
        what = (
            f"with {n} seed(s) there is no verdict"
            if n < MIN_SEEDS_FOR_VERDICT
            else "the maps gave no measurable gain over the probabilities alone at any coverage tested"
            if not above and not below
            else (f"the maps did better at coverage {listed(percent(q) for q in above)}" if above else "")
            + ("; " if above and below else "")
            + (f"the probabilities alone did better at {listed(percent(q) for q in below)}" if below else "")
            + " (six coverages tested at 95% each: a single one is weak evidence)"
        )
        lines.append(
            f"**What do the maps add?** The same network fed the probabilities only had AURC "
            f"{with_ci(probs['aurc'], probs['aurc_ci95'])} and mistake AUROC "
            f"{with_ci(probs['mistake_auroc'], probs['mistake_auroc_ci95'])}, "
            f"against {with_ci(em['aurc'], em['aurc_ci95'])} and "
            f"{with_ci(em['mistake_auroc'], em['mistake_auroc_ci95'])} "
            f"with the Grad-CAM maps: {what} (matched-coverage test above)."
        )
    if Rule.SURROGATE.value in rules:
        sur = rules[Rule.SURROGATE.value]
        lines.append(
            "**The surrogate** is a network of its own, trained end to end with L_CE against the clinician; without "
            "deferral its own predictions were "
            f"{with_ci(sur['accuracy_no_deferral'], sur['accuracy_no_deferral_ci95'])} "
            f"accurate (the classifier's {fmt(head['accuracy_no_deferral'])}). It defers where it expects the "
            "clinician to beat its own answer by more than c, the clinician's errors counting against deferral, so "
            "its kept accuracy and its system accuracy answer different questions: read them together."
        )
    return lines


def _balance_paragraph(result: DeferResult) -> list[str]:
    b, c = result.headline["balance"], result.settings.cost
    if "balanced" not in b:
        return [
            "**Balanced or unbalanced training of the error model** (the source's open question) has no answer in "
            "this run: some class had no mistake (or no correct answer) in the error model's split of some seed, "
            "so there was nothing to balance."
        ]
    un, bal, cor = b["unbalanced"], b["balanced"], b["balanced_prior_corrected"]

    def kept(x):
        return (
            "nothing kept"
            if not np.isfinite(x.get("kept_accuracy", np.nan))
            else f"kept accuracy {fmt(x['kept_accuracy'])}"
        )

    head = result.headline
    aurc_diff, auc_diff = head["balance_aurc_difference"], head["balance_mistake_auroc_difference"]

    def verdict(d: dict, lower_is_better: bool) -> str:
        side = _decided(d["difference"], d["ci95"], len(result.runs))
        if side == "none":
            return f"{len(result.runs)} seed(s), no verdict"
        if side == "level":
            return "cannot be told apart"
        return "better with balancing" if (side == "below") == lower_is_better else "worse with balancing"

    ranking = verdict(aurc_diff, lower_is_better=True)
    shifted = bal["mean_p_wrong"] > un["mean_p_wrong"]
    threshold = (
        "its output has to be corrected before it is compared with a cost"
        if shifted
        else "here its output did not even rise on average"
    )
    advice = {
        "better with balancing": f"Balancing improved the ranking here; {threshold}.",
        "worse with balancing": f"Balancing made the ranking worse here; if it is used, {threshold}.",
        "cannot be told apart": f"Balancing bought no measurably better ranking here; if it is used, {threshold}.",
    }.get(
        ranking,
        f"Whether balancing changes the ranking has no verdict with this many seeds; if it is used, {threshold}.",
    )
    return [
        "**Balanced or unbalanced training of the error model** (the source's open question). The test error rate "
        f"was {fmt(un['observed_error_rate'])}. Trained unbalanced, the error model's mean P̂(wrong) was "
        f"{fmt(un['mean_p_wrong'])} and at c = {c:g} it kept {fmt(un['coverage'])} of the decisions ({kept(un)}); "
        f"balanced, its mean P̂(wrong) was {fmt(bal['mean_p_wrong'])} and it kept {fmt(bal['coverage'])} "
        f"({kept(bal)}). The ranking: AURC {fmt(un['aurc'])} unbalanced vs {fmt(bal['aurc'])} balanced "
        f"(paired difference {signed(aurc_diff['difference'], aurc_diff['ci95'])}: {ranking}), mistake AUROC "
        f"{fmt(un['mistake_auroc'])} vs {fmt(bal['mistake_auroc'])} (difference "
        f"{signed(auc_diff['difference'], auc_diff['ci95'])}: {verdict(auc_diff, lower_is_better=False)}). "
        "Undoing the prior shift (subtracting the log of the mistakes' weight from each logit) brings the balanced "
        f"model to a coverage of {fmt(cor['coverage'])} at the same c ({kept(cor)}). {advice}"
    ]


def _weak_paragraph(result: DeferResult) -> list[str]:
    w, c = result.headline["weak_clinician"], result.settings.cost
    alone = w["classifier_accuracy"]
    helped, hurt, level = [], [], []
    for rule, r in w["rules"].items():
        label = result.label(rule)
        side = _decided(r["gain_over_no_deferral_weak"], r["gain_over_no_deferral_weak_ci95"], len(result.runs))
        {"above": helped, "below": hurt}.get(side, level).append(label)
    details = ", ".join(
        f"{result.label(rule)} {fmt(r['system_accuracy_at_c_weak'])} (coverage {fmt(r['coverage_at_c_weak'])}; "
        f"{signed(r['gain_over_no_deferral_weak'], r['gain_over_no_deferral_weak_ci95'])} over its model alone)"
        for rule, r in w["rules"].items()
    )
    verdict = []
    if helped:
        verdict.append(f"still helped with {join(helped)}")
    if hurt:
        verdict.append(f"hurt with {join(hurt)}")
    if level:
        verdict.append(f"made no difference beyond the seed-to-seed spread with {join(level)}")
    weaker = w["clinician_accuracy"] < alone
    conclusion = (
        f"With {len(result.runs)} seed(s) there is no verdict on whether deferring to this clinician helped."
        if len(result.runs) < MIN_SEEDS_FOR_VERDICT
        else "Deferring to this clinician " + "; it ".join(verdict) + "."
    )
    sentence = (
        f"**{'A clinician weaker than the model' if weaker else 'A weaker clinician'} on {w['class']}** "
        f"(sensitivity {w['sensitivity']:g}, specificity {w['specificity']:g}: accuracy "
        f"{fmt(w['clinician_accuracy'])} there, against the classifier's {fmt(alone)}"
        + ("" if weaker else ", so in this run it is not weaker than the model")
        + f", and the usual clinician's {fmt(w['usual_clinician_accuracy'])}). System accuracy on "
        f"{w['class']} at c = {c:g}, and its gain over the same model without deferral (paired over seeds): "
        f"{details}. {conclusion} (A clinician less accurate than the model on average can still beat it on the "
        "decisions the model is least sure of: in this simulation the clinician's errors do not depend on the image.)"
    )
    if Rule.SURROGATE.value in w["rules"]:
        r = w["rules"][Rule.SURROGATE.value]
        change = r["coverage_at_c_weak"] - r["coverage_at_c"]
        sentence += (
            " The surrogate, trained again from scratch against the weak clinician, kept "
            f"{fmt(r['coverage_at_c_weak'])} of the {w['class']} decisions instead of {fmt(r['coverage_at_c'])}: "
            + (
                "it deferred less to the weaker clinician"
                if change >= 0.02
                else "it deferred about as much as before, although the clinician was weaker"
                if change > -0.02
                else "it deferred more, although the clinician was weaker"
            )
            + " (two networks trained from scratch, so part of the difference is training noise); the other rules do "
            "not know whom they defer to and deferred the same decisions as before."
        )
    return [sentence]
