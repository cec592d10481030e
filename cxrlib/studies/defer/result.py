"""Study 07: the result object: its tables, figures and the JSON (headline) it writes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ...defer import (
    DeferralRule,
    DeferralUnit,
    Rule,
)
from ...metrics import auroc
from ..common import mean_ci
from ..prose import bounded_ci, fmt, signed
from .figures import DeferFigures
from .settings import BALANCE_VARIANTS, COVERAGES, RULE_LABELS, DeferSettings

__all__ = ["DeferSeedRun", "DeferResult", "AT_COLUMNS", "COST_COLUMNS", "SENSITIVITY_COLUMNS"]

#: the metrics of a rule at one cost that the tables and the headline report
AT_COLUMNS = (
    "coverage",
    "kept accuracy",
    "kept AUROC",
    "kept sensitivity",
    "system accuracy",
    "system sensitivity",
    "cost-weighted loss",
)

#: :meth:`DeferResult.cost_table`'s two tables: accuracy and cost, then missed findings
COST_COLUMNS = ("coverage", "kept accuracy", "kept AUROC", "system accuracy", "cost-weighted loss")
SENSITIVITY_COLUMNS = ("coverage", "kept sensitivity", "system sensitivity")


@dataclass
class DeferSeedRun:
    """Everything one seed produced, on the test split."""

    seed: int
    rules: dict[str, DeferralRule]  #: rule value → rule (usual clinician)
    weak_rules: dict[str, DeferralRule]  #: the same, the surrogate trained against the weak clinician
    sweep: pd.DataFrame  #: cost_sweep of every rule (column ``rule``; empty kept sets as NaN), usual clinician
    weak_sweep: pd.DataFrame  #: the same with the weak clinician
    per_class: pd.DataFrame  #: rows (rule, class): AURC, mistake AUROC, accuracy at each of COVERAGES
    curves: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]  #: (rule, class) → risk–coverage
    system_curves: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]  #: (rule, class) → system accuracy
    weak_system_curves: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]
    balance: pd.DataFrame  #: rows BALANCE_VARIANTS
    units: pd.DataFrame  #: the error model per image and per finding at the headline cost (UNIT_COLUMNS)
    histories: dict[str, pd.DataFrame]  #: classifier, surrogate, surrogate (weak clinician), error model
    error_split_mistakes: dict[str, int]  #: the classifier's mistakes per class on the error-model split
    test_maps: np.ndarray | None = None  #: the classifier's Grad-CAM maps (N_test, K, h, w), first seed only
    surrogate_maps: np.ndarray | None = None  #: the surrogate's, first seed only


@dataclass
class DeferResult(DeferFigures):
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

    @property
    def pooled(self) -> str:
        """The sweep's row of the headline numbers: ``"images"`` when whole images are deferred (coverage
        counted in images, the source's), ``"all"`` (every decision pooled) when each finding is."""
        return "images" if DeferralUnit(self.settings.unit) is DeferralUnit.IMAGE else "all"

    @property
    def unit_noun(self) -> str:
        """What a coverage counts: "images" or "decisions"."""
        return "images" if self.pooled == "images" else "decisions"

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
        """Per class, ``"all"`` (every decision) and ``"images"`` (an image is right when every known
        finding is): accuracy of the classifier, of the surrogate's own predictions and of the
        clinician(s) on the test split, the classifier's AUROC and sensitivity (one minus its
        false-negative rate) and the clinician's sensitivity (AUROC: mean over classes in the pooled
        rows; mean over seeds throughout)."""
        labels, rows = self.labels, {}
        for name in [*self.classes, "all", "images"]:
            cols = [self.classes.index(name)] if name in self.classes else list(range(len(self.classes)))
            y = labels[:, cols]
            known = ~np.isnan(y)
            row = {}
            for rule, what in ((Rule.ERROR_MODEL.value, "classifier"), (Rule.SURROGATE.value, "surrogate")):
                if rule in self.rule_names:
                    accs = [_accuracy(r.rules[rule].predictions[:, cols], y, name == "images") for r in self.runs]
                    row[f"{what} accuracy"] = np.mean(accs)
            classifier = [r.rules[Rule.ERROR_MODEL.value] for r in self.runs]  # the classifier's own answers
            row["classifier AUROC"] = np.mean([_mean_auroc(c.scores[:, cols], y) for c in classifier])
            row["classifier sensitivity"] = np.mean([_sensitivity(c.predictions[:, cols], y) for c in classifier])
            row["clinician accuracy"] = _accuracy(self.clinician[:, cols], y, name == "images")
            row["clinician sensitivity"] = _sensitivity(self.clinician[:, cols], y)
            row["weak clinician accuracy"] = _accuracy(self.weak_clinician[:, cols], y, name == "images")
            row["positives"] = int(np.nansum(y))
            row["decisions"] = int(known.any(1).sum()) if name == "images" else int(known.sum())  # images: images
            rows[name] = row
        return pd.DataFrame.from_dict(rows, orient="index")  # one dtype per column: counts stay integers

    def unit_table(self) -> pd.DataFrame:
        """The error model deferring whole images (the source's) and deferring each finding, at the
        headline cost: images answered by the model alone, decisions kept, kept and system accuracy,
        system sensitivity; mean ± 95% over seeds."""
        frame = pd.concat([r.units.assign(seed=r.seed) for r in self.runs])
        rows = {}
        for unit in frame.index.unique():
            part = frame[frame.index == unit].drop(columns="seed")
            label = "per image (source)" if unit == DeferralUnit.IMAGE.value else "per finding"
            rows[label] = {
                column: _cell(
                    mean_ci(v) if np.isfinite(v := part[column].to_numpy(float)).any() else None, "nothing kept"
                )
                for column in part.columns
            }
        out = pd.DataFrame(rows)  # one column per unit, one row per measure: narrow enough for the page
        out.columns.name = f"error model, c = {self.settings.cost:g}"
        return out

    # -- tables ------------------------------------------------------------------------------------
    def seed_values(
        self, rule: str, cost: float, column: str, name: str | None = None, weak: bool = False
    ) -> np.ndarray:
        """``column`` of :data:`~cxrlib.defer.METRICS` for ``rule`` at ``cost`` on class ``name`` (default
        :attr:`pooled`), one value per seed. Where a seed deferred everything its coverage is 0, its
        system accuracy the clinician's and its loss ``cost``; its kept-set metrics are NaN (undefined,
        left out of means)."""
        sweep = self._sweeps(weak)
        name = name or self.pooled
        rows = sweep[(sweep["rule"] == rule) & np.isclose(sweep["cost"], cost) & (sweep["class"] == name)]
        return np.asarray([float(rows.loc[rows["seed"] == run.seed, column].iloc[0]) for run in self.runs])

    def _at(
        self, rule: str, cost: float, name: str | None = None, weak: bool = False
    ) -> dict[str, tuple[float, float]]:
        """Mean ± half-width over seeds of each metric of ``rule`` at ``cost`` on ``name`` (default
        :attr:`pooled`); a kept-set metric over the seeds where it is defined, and absent where it is
        defined for none."""
        out = {}
        for column in AT_COLUMNS:
            values = self.seed_values(rule, cost, column, name, weak)
            if np.isfinite(values).any():
                out[column] = mean_ci(values)
        return out

    def cost_table(
        self, costs: tuple[float, ...] | None = None, columns: tuple[str, ...] = COST_COLUMNS
    ) -> pd.DataFrame:
        """Per rule and cost (rows), pooled as :attr:`pooled` (every image, or every decision): coverage,
        kept-set accuracy and AUROC (mean over classes), system accuracy, the cost-weighted loss and the
        system's sensitivity (``columns`` of :data:`AT_COLUMNS`, default :data:`COST_COLUMNS`); mean ± 95%
        half-width over seeds, as text with two decimals ("nothing kept" where every seed deferred
        everything)."""
        costs = costs or self.settings.table_costs
        rows = []
        for rule in self.rule_names:
            for cost in costs:
                at = self._at(rule, cost)
                row = {"rule": self.label(rule), "c": cost}
                for column in columns:
                    missing = "nothing kept" if "kept" in column else "undefined"
                    row[column] = _cell(at.get(column), missing, digits=2)  # two decimals: five columns fit
                rows.append(row)
        return pd.DataFrame(rows).set_index(["rule", "c"])

    def summary(self) -> pd.DataFrame:
        """One row per rule: :meth:`ranking_summary`'s columns, then :meth:`cost_summary`'s."""
        return pd.concat([self.ranking_summary(), self.cost_summary()], axis=1)

    def ranking_summary(self) -> pd.DataFrame:
        """One row per rule: AURC and mistake AUROC (means over classes), accuracy at 80% and 90%
        coverage; mean ± 95% over seeds."""
        per_class = self._per_class()
        rows = []
        for rule in self.rule_names:
            part = per_class[per_class["rule"] == rule].groupby("seed")
            rows.append(
                {
                    "rule": self.label(rule),
                    "AURC": _cell(mean_ci(part["AURC"].mean().to_numpy())),
                    "mistake AUROC": _cell(mean_ci(part["mistake AUROC"].mean().to_numpy())),
                    "accuracy at 80% coverage": _cell(mean_ci(part["accuracy at 0.8"].mean().to_numpy())),
                    "accuracy at 90% coverage": _cell(mean_ci(part["accuracy at 0.9"].mean().to_numpy())),
                }
            )
        return pd.DataFrame(rows).set_index("rule")

    def cost_summary(self) -> pd.DataFrame:
        """One row per rule at the headline cost ``c``: coverage, kept accuracy and system accuracy."""
        c = self.settings.cost
        rows = []
        for rule in self.rule_names:
            at = self._at(rule, c)
            rows.append(
                {
                    "rule": self.label(rule),
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

    def matched_coverage_table(self, rule: str = Rule.ERROR_MODEL.value) -> pd.DataFrame:
        """Every other rule against ``rule`` at equal coverage, in one table: a first row with ``rule``'s
        kept accuracy at each of :data:`COVERAGES` (columns; mean over classes and seeds), then one row per
        other rule with the paired difference ``rule`` − other, mean ± 95% half-width over seeds (text, two
        decimals: the table must fit the page)."""
        tables = {other: self.matched_coverage(other, rule) for other in self.rule_names if other != rule}
        own = next(iter(tables.values()))  # every comparison carries ``rule``'s own accuracy
        rows = {self.label(rule): {q: fmt(own.loc[q, self.label(rule)]) for q in COVERAGES}}
        for other, table in tables.items():
            rows[f"− {self.label(other)}"] = {
                q: signed(table.loc[q, "difference"], table.loc[q, "difference ±95%"], digits=2) for q in COVERAGES
            }
        out = pd.DataFrame(rows).T
        out.columns = [f"{q:.0%}" for q in COVERAGES]
        out.columns.name = "kept"
        return out

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

    def histories(self) -> dict[str, pd.DataFrame]:
        return {
            f"{name} seed {r.seed}": h for r in self.runs for name, h in r.histories.items() if name != "error model"
        }


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def _cell(value: tuple[float, float] | None, missing: str = "undefined", digits: int = 3) -> str:
    """``mean ± half`` as text; ``missing`` when there is no value. Every quantity of this study's tables
    (accuracy, coverage, AUROC, AURC, a cost-weighted loss) lies in [0, 1]: an interval that reaches past
    either end is shown clipped, as ``mean [low, high]``."""
    if value is None or not np.isfinite(value[0]):
        return missing
    return bounded_ci(*value, digits=digits)


def _sensitivity(answers: np.ndarray, labels: np.ndarray) -> float:
    """Share of the known positives answered positive (one minus the false-negative rate); NaN without one."""
    positive = labels == 1
    return float((answers[positive] == 1).mean()) if positive.any() else float("nan")


def _mean_auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """AUROC of each column over its known labels, mean over the columns where it is defined."""
    values = [auroc(scores[~np.isnan(y), k], y[~np.isnan(y)]) for k, y in enumerate(labels.T)]
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def _accuracy(answers: np.ndarray, labels: np.ndarray, per_image: bool) -> float:
    """Share of known decisions answered right, or (``per_image``) of images with a known label whose
    every known decision is answered right."""
    known = ~np.isnan(labels)
    if not per_image:
        return float((answers == labels)[known].mean())
    wrong = ((answers != labels) & known).any(1)
    return float(1.0 - wrong[known.any(1)].mean())
