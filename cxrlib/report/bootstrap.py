"""Intervals by the bootstrap over patients: every resample draws patients with replacement and keeps
all of each drawn patient's images, so that images of one patient (correlated) never count as
independent evidence. AUROC on a resample is computed exactly from per-image weights (how often the
image's patient was drawn), for all resamples at once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "BLOCK_ELEMENTS",
    "PatientBootstrap",
    "ClassResamples",
    "weighted_auroc",
    "class_resamples",
    "percentile_interval",
    "mean_over_classes",
    "auroc_summary",
    "mean_summary",
    "bootstrap_auroc",
    "bootstrap_mean_auroc",
]

#: resamples are scored in blocks of at most this many (resample, image) weights, so that the working arrays
#: of :func:`weighted_auroc` stay near 100 MB whatever the test set's size (1,000 resamples of 50,000 images
#: are 5e7 weights: 400 MB in float64 for each of its half-dozen temporaries, were they made at once)
BLOCK_ELEMENTS = 2_000_000


@dataclass(frozen=True)
class PatientBootstrap:
    """``weights (B, N)``: how many times image ``n``'s patient was drawn in resample ``b`` (float32: whole
    numbers, exact, in half the memory of float64)."""

    weights: np.ndarray

    @classmethod
    def draw(cls, patients, n_resamples: int = 1000, seed: int = 0) -> PatientBootstrap:
        """Resample the distinct values of ``patients (N,)`` with replacement, ``n_resamples`` times (an
        image without a patient id counts as a patient of its own)
        (a ``numpy`` generator seeded with ``seed``: each resample draws ``P`` patient indices with
        ``rng.integers(0, P, P)``, patients in sorted order)."""
        if n_resamples < 1:
            raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
        codes, unique = _codes(patients)
        rng = np.random.default_rng(seed)
        weights = np.empty((n_resamples, len(codes)), np.float32)
        rows = max(1, BLOCK_ELEMENTS // max(len(unique), len(codes)))
        for start in range(0, n_resamples, rows):  # a block at a time: no (B, P) int64 draws beside the weights
            block = min(rows, n_resamples - start)
            draws = rng.integers(0, len(unique), (block, len(unique)))  # the same stream as all rows at once
            counts = np.zeros((block, len(unique)), np.float32)
            np.add.at(counts, (np.arange(block)[:, None], draws), np.float32(1.0))
            weights[start : start + block] = counts[:, codes]
        return cls(weights)

    @property
    def resamples(self) -> int:
        return int(self.weights.shape[0])


def _codes(patients) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of the patient ids; an image without an id (None, NaN, "") is a patient of its own."""
    raw = np.asarray(patients, dtype=object)
    if raw.ndim != 1 or len(raw) == 0:
        raise ValueError("patients must be a non-empty (N,) array of patient ids")
    missing = [v is None or v == "" or (isinstance(v, float) and np.isnan(v)) for v in raw]
    values = np.array([f"\x00missing-{i}" if gone else str(v) for i, (v, gone) in enumerate(zip(raw, missing))])
    unique, codes = np.unique(values, return_inverse=True)
    return codes, unique


def weighted_auroc(scores, labels, weights, columns=None) -> np.ndarray:
    """AUROC of ``scores (n,)`` against 0/1 ``labels (n,)`` for each row of ``weights`` (or a single
    ``(n,)`` row): the weighted Mann–Whitney statistic, ties counted one half, exactly what
    ``sklearn.metrics.roc_auc_score(..., sample_weight=w)`` gives. NaN where a row has no weight on one
    of the two classes.

    ``weights`` is ``(B, n)``, or, with ``columns (n,)``, ``(B, N)`` of which image ``i`` of the scores is
    column ``columns[i]`` (a subset scored without copying the whole resample matrix). Resamples are scored
    :data:`BLOCK_ELEMENTS` weights at a time."""
    s, y = np.asarray(scores, np.float64), np.asarray(labels, np.float64)
    w = np.atleast_2d(np.asarray(weights))
    columns = np.arange(w.shape[1]) if columns is None else np.asarray(columns)
    if s.shape != y.shape or s.ndim != 1 or columns.shape != s.shape or (len(s) and columns.max() >= w.shape[1]):
        raise ValueError(f"scores {s.shape}, labels {y.shape}, weights {w.shape} and columns do not match")
    order = np.argsort(s, kind="mergesort")
    s, positive, negative, columns = s[order], y[order] == 1, y[order] == 0, columns[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # groups of tied scores
    if len(w) == 0 or len(s) == 0:
        return np.full(len(w), np.nan)
    rows = max(1, BLOCK_ELEMENTS // len(s))
    return np.concatenate(
        [_weighted_auroc_block(w[b : b + rows][:, columns], positive, negative, starts) for b in range(0, len(w), rows)]
    )


def _weighted_auroc_block(w: np.ndarray, positive: np.ndarray, negative: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """:func:`weighted_auroc` of the rows of ``w (b, n)``, its columns already in score order."""
    w = w.astype(np.float64, copy=False)
    pos = np.add.reduceat(w * positive, starts, axis=1)
    neg = np.add.reduceat(w * negative, starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    total_pos, total_neg = pos.sum(1), neg.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (pos * (below + 0.5 * neg)).sum(1) / (total_pos * total_neg)
    auc[(total_pos == 0) | (total_neg == 0)] = np.nan
    return auc


@dataclass(frozen=True)
class ClassResamples:
    """One class's AUROC on the whole split and on every resample.

    ``n``: known labels; ``positives``; ``auroc`` (NaN where the split has one label value only);
    ``values (B,)``: the AUROC of each resample, NaN where that resample lacks one of the two values
    (all NaN where ``auroc`` is)."""

    n: int
    positives: int
    auroc: float
    values: np.ndarray

    @property
    def scored(self) -> bool:
        return not np.isnan(self.auroc)


def class_resamples(scores, labels, bootstrap: PatientBootstrap, rows=None) -> ClassResamples:
    """:class:`ClassResamples` of ``scores (n,)`` against ``labels (n,)`` in {0, 1, NaN} (NaN left out);
    ``rows (n,)``: the bootstrap's image of each score, where they are a subset (default: all, in order)."""
    s, y = np.asarray(scores, np.float64), np.asarray(labels, np.float64)
    rows = np.arange(len(s)) if rows is None else np.asarray(rows)
    known = ~np.isnan(y)
    n, positives = int(known.sum()), int((y[known] == 1).sum())
    resamples = bootstrap.weights.shape[0]
    if positives == 0 or positives == n:
        return ClassResamples(n, positives, np.nan, np.full(resamples, np.nan))
    point = float(weighted_auroc(s[known], y[known], np.ones(n))[0])
    return ClassResamples(n, positives, point, weighted_auroc(s[known], y[known], bootstrap.weights, rows[known]))


def percentile_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, int]:
    """``(low, high, resamples)``: the central ``confidence`` interval of the finite ``values`` and their
    number; ``(nan, nan, 0)`` when there are none."""
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        return np.nan, np.nan, 0
    alpha = (1 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high), len(values)


def mean_over_classes(per_class: list[ClassResamples]) -> tuple[float, np.ndarray]:
    """The mean AUROC over the scored classes of ``per_class``, and its value on each resample: the mean
    over the same classes, NaN where one of them is undefined on that resample."""
    scored = [c for c in per_class if c.scored]
    if not scored:
        return np.nan, np.full(len(per_class[0].values) if per_class else 0, np.nan)
    return float(np.mean([c.auroc for c in scored])), np.stack([c.values for c in scored]).mean(0)


def bootstrap_auroc(scores, labels, bootstrap: PatientBootstrap, confidence: float = 0.95) -> dict[str, float]:
    """AUROC of ``scores (N,)`` against ``labels (N,)`` in {0, 1, NaN} (NaN left out) with a percentile
    interval over ``bootstrap``'s resamples (those that hold both classes; their number is
    ``resamples``)."""
    return auroc_summary(class_resamples(scores, labels, bootstrap), confidence)


def auroc_summary(one: ClassResamples, confidence: float = 0.95) -> dict[str, float]:
    """``n``, ``positives``, ``auroc``, ``low``, ``high`` and ``resamples`` of one class."""
    low, high, count = percentile_interval(one.values, confidence) if one.scored else (np.nan, np.nan, 0)
    return {"n": one.n, "positives": one.positives, "auroc": one.auroc, "low": low, "high": high, "resamples": count}


def bootstrap_mean_auroc(scores, labels, bootstrap: PatientBootstrap, confidence: float = 0.95) -> dict[str, float]:
    """The mean over classes of the AUROC of ``scores (N, K)`` against ``labels (N, K)`` in {0, 1, NaN},
    over the classes with both label values among their known ones (their number is ``classes``), with a
    percentile interval over the resamples in which every one of those classes has both values (their
    number is ``resamples``): the mean of one resample is over the same classes as the point estimate."""
    s, y = np.asarray(scores, np.float64), np.asarray(labels, np.float64)
    per_class = [class_resamples(s[:, k], y[:, k], bootstrap) for k in range(y.shape[1])]
    return mean_summary(per_class, confidence)


def mean_summary(per_class: list[ClassResamples], confidence: float = 0.95) -> dict[str, float]:
    """``mean_auroc``, ``low``, ``high``, ``classes`` (scored) and ``resamples`` of :func:`mean_over_classes`."""
    point, values = mean_over_classes(per_class)
    low, high, count = percentile_interval(values, confidence)
    scored = sum(c.scored for c in per_class)
    return {"mean_auroc": point, "low": low, "high": high, "classes": scored, "resamples": count}
