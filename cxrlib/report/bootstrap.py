"""Intervals by the bootstrap over patients: every resample draws patients with replacement and keeps
all of each drawn patient's images, so that images of one patient (correlated) never count as
independent evidence. AUROC on a resample is computed exactly from per-image weights (how often the
image's patient was drawn), for all resamples at once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PatientBootstrap", "weighted_auroc", "bootstrap_auroc", "bootstrap_mean_auroc", "BLOCK_ELEMENTS"]

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
        draws = rng.integers(0, len(unique), (n_resamples, len(unique)))
        counts = np.zeros((n_resamples, len(unique)), np.float32)
        np.add.at(counts, (np.arange(n_resamples)[:, None], draws), np.float32(1.0))
        return cls(counts[:, codes])

    def subset(self, rows: np.ndarray) -> PatientBootstrap:
        return PatientBootstrap(self.weights[:, rows])


def _codes(patients) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of the patient ids; an image without an id (None, NaN, "") is a patient of its own."""
    raw = np.asarray(patients, dtype=object)
    if raw.ndim != 1 or len(raw) == 0:
        raise ValueError("patients must be a non-empty (N,) array of patient ids")
    missing = [v is None or v == "" or (isinstance(v, float) and np.isnan(v)) for v in raw]
    values = np.array([f"\x00missing-{i}" if gone else str(v) for i, (v, gone) in enumerate(zip(raw, missing))])
    unique, codes = np.unique(values, return_inverse=True)
    return codes, unique


def weighted_auroc(scores, labels, weights) -> np.ndarray:
    """AUROC of ``scores (N,)`` against 0/1 ``labels (N,)`` for each row of ``weights (B, N)`` (or
    ``(N,)``): the weighted Mann–Whitney statistic, ties counted one half, exactly what
    ``sklearn.metrics.roc_auc_score(..., sample_weight=w)`` gives. NaN where a row has no weight on one
    of the two classes."""
    s, y = np.asarray(scores, np.float64), np.asarray(labels, np.float64)
    w = np.atleast_2d(np.asarray(weights))
    if s.shape != y.shape or s.ndim != 1 or w.shape[1] != len(s):
        raise ValueError(f"scores {s.shape}, labels {y.shape} and weights {w.shape} do not match")
    order = np.argsort(s, kind="mergesort")
    s, positive, negative = s[order], y[order] == 1, y[order] == 0
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # groups of tied scores
    rows = max(1, BLOCK_ELEMENTS // max(1, len(s)))
    return np.concatenate(
        [_weighted_auroc_block(w[b : b + rows, order], positive, negative, starts) for b in range(0, len(w), rows)]
    )


def _weighted_auroc_block(w: np.ndarray, positive: np.ndarray, negative: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """:func:`weighted_auroc` of the rows of ``w (b, N)``, its columns already in score order."""
    w = w.astype(np.float64, copy=False)
    pos = np.add.reduceat(w * positive, starts, axis=1)
    neg = np.add.reduceat(w * negative, starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    total_pos, total_neg = pos.sum(1), neg.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (pos * (below + 0.5 * neg)).sum(1) / (total_pos * total_neg)
    auc[(total_pos == 0) | (total_neg == 0)] = np.nan
    return auc


def bootstrap_auroc(scores, labels, bootstrap: PatientBootstrap, confidence: float = 0.95) -> dict[str, float]:
    """AUROC of ``scores (N,)`` against ``labels (N,)`` in {0, 1, NaN} (NaN left out) with a percentile
    interval over ``bootstrap``'s resamples (those that hold both classes; their number is
    ``resamples``)."""
    s, y = np.asarray(scores, np.float64), np.asarray(labels, np.float64)
    known = ~np.isnan(y)
    out = {"n": int(known.sum()), "positives": int((y[known] == 1).sum()), "auroc": np.nan}
    out |= {"low": np.nan, "high": np.nan, "resamples": 0}
    if out["positives"] == 0 or out["positives"] == out["n"]:
        return out
    out["auroc"] = float(weighted_auroc(s[known], y[known], np.ones(int(known.sum())))[0])
    values = weighted_auroc(s[known], y[known], bootstrap.weights[:, known])
    values = values[~np.isnan(values)]
    if len(values):
        alpha = (1 - confidence) / 2
        out["low"], out["high"] = (float(v) for v in np.quantile(values, [alpha, 1 - alpha]))
        out["resamples"] = len(values)
    return out


def bootstrap_mean_auroc(scores, labels, bootstrap: PatientBootstrap, confidence: float = 0.95) -> dict[str, float]:
    """The mean over classes of the AUROC of ``scores (N, K)`` against ``labels (N, K)`` in {0, 1, NaN},
    over the classes with both label values among their known ones (their number is ``classes``), with a
    percentile interval over the resamples in which every one of those classes has both values (their
    number is ``resamples``): the mean of one resample is over the same classes as the point estimate."""
    s, y = np.asarray(scores, np.float64), np.asarray(labels, np.float64)
    point, per_resample = [], []
    for k in range(y.shape[1]):
        known = ~np.isnan(y[:, k])
        positives = int((y[known, k] == 1).sum())
        if positives == 0 or positives == int(known.sum()):
            continue
        point.append(weighted_auroc(s[known, k], y[known, k], np.ones(int(known.sum())))[0])
        per_resample.append(weighted_auroc(s[known, k], y[known, k], bootstrap.weights[:, known]))
    out = {"mean_auroc": np.nan, "low": np.nan, "high": np.nan, "classes": len(point), "resamples": 0}
    if not point:
        return out
    out["mean_auroc"] = float(np.mean(point))
    values = np.stack(per_resample)  # (classes, B)
    values = values[:, ~np.isnan(values).any(0)].mean(0)
    if len(values):
        alpha = (1 - confidence) / 2
        out["low"], out["high"] = (float(v) for v in np.quantile(values, [alpha, 1 - alpha]))
        out["resamples"] = len(values)
    return out
