"""What deferral buys: coverage, accuracy, AUROC and sensitivity on the kept set, accuracy and
sensitivity of model + clinician, the cost-weighted loss, and risk–coverage curves with the area under
them (AURC); per class, every decision pooled, and per image (the source's unit).

Labels are ``(N, K)`` with NaN for unknown; a decision whose label is unknown counts nowhere (neither
kept nor deferred). The clinician's predictions are ``(N, K)`` (:mod:`cxrlib.defer.clinician`). A
kept-set metric of an empty kept set is undefined: the functions that compute one raise
``ValueError`` rather than return NaN, and :func:`cost_sweep` leaves such points out (or, asked to
keep them, fills their kept-set metrics with NaN).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.stats

from ..metrics import auroc
from .rules import DeferralRule, check_cost

__all__ = [
    "METRICS",
    "kept_accuracy",
    "risk_coverage_curve",
    "system_accuracy_curve",
    "aurc",
    "selective_accuracy",
    "mistake_auroc",
    "deferral_metrics",
    "cost_sweep",
]

#: the columns of :func:`deferral_metrics` and :func:`cost_sweep`
METRICS = (
    "coverage",
    "kept accuracy",
    "kept AUROC",
    "system accuracy",
    "cost-weighted loss",
    "model accuracy",
    "clinician accuracy",
    "kept sensitivity",
    "system sensitivity",
)


def _vector(x, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).ravel()
    if np.isnan(a).any():
        raise ValueError(f"{what} contain NaN; leave unknown labels out first")
    return a


def kept_accuracy(correct, keep) -> float:
    """Share of correct decisions among the kept ones (``correct``, ``keep``: ``(n,)`` bool or 0/1).

    Raises ``ValueError`` when nothing is kept (the accuracy of an empty set is undefined)."""
    c, k = _vector(correct, "correct"), np.asarray(keep, bool).ravel()
    if c.shape != k.shape:
        raise ValueError(f"correct {c.shape} and keep {k.shape} differ in shape")
    if not k.any():
        raise ValueError("the kept set is empty (everything was deferred): its accuracy is undefined")
    return float(c[k].mean())


def _expected_prefix_sums(deferral_score, values: Sequence[np.ndarray]) -> list[np.ndarray]:
    """For each of ``values`` ``(n,)``, the expected sum over the ``m`` decisions kept first (lowest
    ``deferral_score`` first), ``m = 1..n``, with tied scores kept in a random order (within a tie each
    kept decision contributes the tie's mean)."""
    s = _vector(deferral_score, "deferral scores")
    if not len(s):
        raise ValueError("no decisions to rank")
    order = np.argsort(s, kind="stable")
    _, starts, counts = np.unique(s[order], return_index=True, return_counts=True)
    group = np.repeat(np.arange(len(starts)), counts)
    m = np.arange(1, len(s) + 1)
    sums = []
    for v in values:
        v = v[order]
        totals = np.add.reduceat(v, starts)
        before = np.concatenate([[0.0], np.cumsum(totals)[:-1]])
        sums.append(before[group] + (m - starts[group]) * (totals / counts)[group])
    return sums


def _binary(x, what: str, n: int) -> np.ndarray:
    a = _vector(x, what)
    if a.shape != (n,):
        raise ValueError(f"{what} {a.shape} and deferral scores ({n},) differ in shape")
    if not np.isin(a, (0.0, 1.0)).all():
        raise ValueError(f"{what} must be 0 or 1")
    return a


def risk_coverage_curve(deferral_score, wrong) -> tuple[np.ndarray, np.ndarray]:
    """The risk–coverage curve of keeping the decisions with the lowest ``deferral_score`` first.

    ``deferral_score (n,)``, ``wrong (n,)`` (1 where the kept answer would be wrong). Returns
    ``coverage (n,)`` = ``m / n`` and ``risk (n,)``: the error rate among the ``m`` kept, for
    ``m = 1..n``. Tied scores are kept in a random order, and the risk is its expectation (within a
    tie, each kept decision is wrong at the tie's error rate), so the curve does not depend on how the
    input happens to be ordered.
    """
    s = _vector(deferral_score, "deferral scores")
    (errors,) = _expected_prefix_sums(s, [_binary(wrong, "mistakes", len(s))])
    m = np.arange(1, len(s) + 1)
    return m / len(s), errors / m


def system_accuracy_curve(deferral_score, model_right, clinician_right) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy of model + clinician when the ``m`` decisions with the lowest ``deferral_score`` are kept
    (answered by the model) and the rest deferred, for ``m = 0..n``: ``coverage (n + 1,)`` = ``m / n``
    and ``accuracy (n + 1,)`` (at coverage 0 the clinician's, at 1 the model's). Ties as in
    :func:`risk_coverage_curve`."""
    s = _vector(deferral_score, "deferral scores")
    model = _binary(model_right, "model answers right", len(s))
    clinician = _binary(clinician_right, "clinician answers right", len(s))
    kept_model, kept_clinician = _expected_prefix_sums(s, [model, clinician])
    right = np.concatenate([[clinician.sum()], kept_model + clinician.sum() - kept_clinician])
    return np.arange(len(s) + 1) / len(s), right / len(s)


def aurc(deferral_score, wrong) -> float:
    """Area under the risk–coverage curve: the mean risk over coverages ``1/n, 2/n, ..., 1`` (lower is
    better; a perfect ranking of ``e`` mistakes among ``n`` gets close to ``e²/(2n²)``, a random one
    the error rate)."""
    return float(risk_coverage_curve(deferral_score, wrong)[1].mean())


def selective_accuracy(deferral_score, wrong, coverage: float) -> float:
    """Accuracy among the ``round(coverage · n)`` (at least one) decisions kept first, ``0 < coverage <= 1``."""
    if not 0.0 < float(coverage) <= 1.0:
        raise ValueError(f"coverage must lie in (0, 1], got {coverage!r}")
    _, risk = risk_coverage_curve(deferral_score, wrong)
    m = max(1, int(round(float(coverage) * len(risk))))
    return float(1.0 - risk[m - 1])


def mistake_auroc(deferral_score, wrong) -> float:
    """How well the deferral score ranks the model's mistakes above its correct answers (AUROC; NaN
    when there is no mistake or no correct answer)."""
    return auroc(deferral_score, wrong)


def _rank_auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """AUROC by the Mann–Whitney statistic (ties count half, as scikit-learn's): the same number as
    :func:`cxrlib.metrics.auroc`, for the many small kept sets of a sweep; NaN with one label value."""
    positive = labels == 1
    n1 = int(positive.sum())
    n0 = len(labels) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = scipy.stats.rankdata(scores)
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _checked(rule: DeferralRule, labels, clinician) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=np.float64)
    if y.shape != rule.shape:
        raise ValueError(f"labels {y.shape} and the rule's predictions {rule.shape} differ in shape")
    known = ~np.isnan(y)
    if not np.isin(y[known], (0.0, 1.0)).all():
        raise ValueError("labels must be 0, 1 or NaN")
    if not known.any():
        raise ValueError("no decision has a known label")
    if clinician is None:
        raise ValueError("no clinician predictions: the deferred decisions would have no answer")
    m = np.asarray(clinician, dtype=np.float64)
    if m.shape != y.shape:
        raise ValueError(f"clinician predictions {m.shape} and labels {y.shape} differ in shape")
    missing = known & np.isnan(m)
    if missing.any():
        raise ValueError(
            f"the clinician has no prediction for {int(missing.sum())} decision(s) with a known label; "
            "every deferred decision needs one"
        )
    return y, m


def _sensitivities(y, prediction, defer, clinician) -> tuple[float, float]:
    """Over known decisions ``(n,)``: the model's sensitivity on the kept positives and the system's
    (kept answered by the model, deferred by the clinician) on every positive; NaN without positives.
    The false-negative rate is one minus either."""
    positive = y == 1
    kept = positive & ~defer
    answer = np.where(defer, clinician, prediction)
    kept_sensitivity = float((prediction[kept] == 1).mean()) if kept.any() else np.nan
    system_sensitivity = float((answer[positive] == 1).mean()) if positive.any() else np.nan
    return kept_sensitivity, system_sensitivity


def _one_class(y, prediction, score, defer, clinician, cost) -> dict[str, float]:
    """Metrics of one class's known decisions (``(n,)`` each; ``score`` None: no AUROC); the kept-set
    metrics are NaN when nothing is kept."""
    keep = ~defer
    model_right = prediction == y
    clinician_right = clinician == y
    kept_sensitivity, system_sensitivity = _sensitivities(y, prediction, defer, clinician)
    return {
        "decisions": len(y),
        "coverage": keep.mean(),
        "kept accuracy": model_right[keep].mean() if keep.any() else np.nan,
        "kept AUROC": _rank_auroc(score[keep], y[keep]) if score is not None and keep.any() else np.nan,
        "system accuracy": np.where(keep, model_right, clinician_right).mean(),
        "cost-weighted loss": np.where(keep, ~model_right, cost).mean(),
        "model accuracy": model_right.mean(),
        "clinician accuracy": clinician_right.mean(),
        "kept sensitivity": kept_sensitivity,
        "system sensitivity": system_sensitivity,
    }


def _images(y, prediction, defer, clinician, cost) -> dict[str, float]:
    """Metrics per image over ``(N, K)`` arrays (labels NaN where unknown; images with no known label
    left out). An image is kept when none of its known decisions is deferred, and right when every
    known finding is answered right: by the model where kept, by the clinician where deferred. Its
    loss is ``cost`` if anything of it is deferred plus 1 if a kept answer is wrong (the source's cost
    model, per image, for a per-image rule). Sensitivities are over the positive decisions."""
    known = ~np.isnan(y)
    has = known.any(1)
    y, prediction, defer, clinician, known = (a[has] for a in (y, prediction, defer, clinician, known))
    defer = defer & known
    deferred = defer.any(1)
    keep = ~deferred
    model_wrong = ((prediction != y) & known).any(1)
    answer = np.where(defer, clinician, prediction)
    kept_wrong = ((prediction != y) & known & ~defer).any(1)
    kept_sensitivity, system_sensitivity = _sensitivities(y[known], prediction[known], defer[known], clinician[known])
    return {
        "decisions": int(has.sum()),
        "coverage": keep.mean(),
        "kept accuracy": 1.0 - model_wrong[keep].mean() if keep.any() else np.nan,
        "kept AUROC": np.nan,
        "system accuracy": 1.0 - ((answer != y) & known).any(1).mean(),
        "cost-weighted loss": (cost * deferred + kept_wrong).mean(),
        "model accuracy": 1.0 - model_wrong.mean(),
        "clinician accuracy": 1.0 - ((clinician != y) & known).any(1).mean(),
        "kept sensitivity": kept_sensitivity,
        "system sensitivity": system_sensitivity,
    }


def deferral_metrics(
    rule: DeferralRule, labels, clinician, cost: float, classes: Sequence[str] | None = None
) -> pd.DataFrame:
    """One row per class, ``"all"`` (every decision pooled; its kept AUROC is the mean over classes) and
    ``"images"`` (per image: ``decisions`` counts images, coverage the images answered wholly by the
    model, accuracies whether every known finding of an image is right) at ``cost`` (``0 < cost <
    1``): ``decisions`` (known labels), then :data:`METRICS`. *System accuracy* answers kept decisions
    with the model and deferred ones with the clinician; the *cost-weighted loss* is ``mean(kept · model
    wrong + deferred · cost)``; *kept AUROC* is NaN where the kept decisions of a class have one label
    value only; the *sensitivities* (one minus the false-negative rate) are those of the model on the
    kept positives and of model + clinician on every positive.

    Raises ``ValueError`` for a cost outside (0, 1), a missing clinician (None, or NaN for a decision
    with a known label), labels of another shape, or a class whose kept set is empty.
    """
    table = cost_sweep(rule, labels, clinician, [cost], classes, keep_empty=True)
    empty = table.loc[table["coverage"] == 0, "class"].tolist()
    if empty:
        raise ValueError(
            f"rule {rule.name!r} keeps nothing of {empty} at cost {cost}: the kept set is empty, so its accuracy "
            "and AUROC are undefined (a higher cost keeps more)"
        )
    return table.drop(columns="cost").set_index("class")


def cost_sweep(
    rule: DeferralRule,
    labels,
    clinician,
    costs: Sequence[float],
    classes: Sequence[str] | None = None,
    keep_empty: bool = False,
) -> pd.DataFrame:
    """:func:`deferral_metrics` at every cost, long format (``cost``, ``class`` and the metrics), per class,
    ``"all"`` and ``"images"``. A (cost, class) whose kept set is empty is left out, not filled with
    NaN, unless ``keep_empty`` (then its kept-set metrics are NaN); for ``"all"`` and ``"images"`` the
    pooled decisions count (one class keeping nothing leaves its own row out only)."""
    costs = [check_cost(c) for c in costs]
    y, m = _checked(rule, labels, clinician)
    classes = list(classes) if classes is not None else [str(k) for k in range(y.shape[1])]
    if len(classes) != y.shape[1]:
        raise ValueError(f"{len(classes)} class names for {y.shape[1]} label columns")
    present = [k for k in range(y.shape[1]) if (~np.isnan(y[:, k])).any()]
    frames = []
    for cost in costs:
        defer = rule.defer(cost)
        rows, pooled = [], []
        for k in present:
            known = ~np.isnan(y[:, k])
            parts = (y[known, k], rule.predictions[known, k], rule.scores[known, k], defer[known, k], m[known, k])
            rows.append({"cost": cost, "class": classes[k], **_one_class(*parts, cost)})
            pooled.append(parts)
        aucs = [row["kept AUROC"] for row in rows]
        everything = _one_class(*(np.concatenate(p) for p in zip(*pooled, strict=True)), cost)
        everything["kept AUROC"] = np.nanmean(aucs) if np.isfinite(aucs).any() else np.nan
        images = _images(y, rule.predictions, defer, m, cost)
        images["kept AUROC"] = everything["kept AUROC"]
        rows += [{"cost": cost, "class": "all", **everything}, {"cost": cost, "class": "images", **images}]
        frames.append(pd.DataFrame(rows, columns=["cost", "class", "decisions", *METRICS]))
    table = pd.concat(frames, ignore_index=True)
    return table if keep_empty else table[table["coverage"] > 0].reset_index(drop=True)
