"""The bootstrap over patients against scikit-learn and a brute-force bootstrap that copies images."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from cxrlib.report.bootstrap import PatientBootstrap, bootstrap_auroc, bootstrap_mean_auroc, weighted_auroc


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    patients = rng.integers(0, 40, n).astype(str)
    labels = (rng.random(n) < 0.3).astype(float)
    scores = np.round(labels * 0.8 + rng.normal(0, 0.6, n), 1)  # rounded: many ties
    return scores, labels, patients


def _brute_force_resamples(patients, n_resamples, seed):
    """The rows of each resample, drawn as PatientBootstrap.draw draws them, each drawn patient's images copied."""
    rng = np.random.default_rng(seed)
    unique = np.unique(patients)
    for _ in range(n_resamples):
        drawn = unique[rng.integers(0, len(unique), len(unique))]
        yield np.concatenate([np.flatnonzero(patients == p) for p in drawn])


def test_weighted_auroc_equals_scikit_learn_with_ties_and_weights():
    scores, labels, _ = _data()
    weights = np.random.default_rng(1).integers(0, 4, (5, len(scores))).astype(float)
    ours = weighted_auroc(scores, labels, weights)
    for row, value in zip(weights, ours):
        assert value == pytest.approx(roc_auc_score(labels, scores, sample_weight=row), abs=1e-12)
    assert np.isnan(weighted_auroc(scores, np.zeros_like(labels), np.ones(len(scores))))[0]


def test_intervals_equal_a_brute_force_bootstrap_that_copies_each_drawn_patients_images():
    scores, labels, patients = _data()
    labels[::17] = np.nan  # unknown labels are left out
    ours = bootstrap_auroc(scores, labels, PatientBootstrap.draw(patients, 200, seed=3))
    values = []
    for rows in _brute_force_resamples(patients, 200, seed=3):
        known = rows[~np.isnan(labels[rows])]
        if 0 < labels[known].sum() < len(known):
            values.append(roc_auc_score(labels[known], scores[known]))
    low, high = np.quantile(values, [0.025, 0.975])
    known = ~np.isnan(labels)
    assert ours["auroc"] == pytest.approx(roc_auc_score(labels[known], scores[known]))
    assert (ours["low"], ours["high"]) == pytest.approx((low, high), abs=1e-12)
    assert ours["resamples"] == len(values) and ours["n"] == known.sum()


def test_the_mean_auroc_interval_equals_a_brute_force_bootstrap_over_the_same_classes():
    rng = np.random.default_rng(5)
    n = 90
    patients = rng.integers(0, 30, n).astype(str)
    labels = (rng.random((n, 3)) < [0.3, 0.15, 0.0]).astype(float)  # the third class has no positive
    labels[::11, 0] = np.nan
    scores = np.round(labels * 0.9 + rng.normal(0, 0.7, (n, 3)), 1)
    ours = bootstrap_mean_auroc(scores, labels, PatientBootstrap.draw(patients, 150, seed=4))
    values = []
    for rows in _brute_force_resamples(patients, 150, seed=4):
        aurocs = []
        for k in (0, 1):  # the classes scored on the whole split
            known = rows[~np.isnan(labels[rows, k])]
            if 0 < labels[known, k].sum() < len(known):
                aurocs.append(roc_auc_score(labels[known, k], scores[known, k]))
        if len(aurocs) == 2:  # a resample counts only where every scored class has both values
            values.append(np.mean(aurocs))
    known = [~np.isnan(labels[:, k]) for k in (0, 1)]
    point = np.mean([roc_auc_score(labels[known[k], k], scores[known[k], k]) for k in (0, 1)])
    assert ours["mean_auroc"] == pytest.approx(point) and ours["classes"] == 2
    assert (ours["low"], ours["high"]) == pytest.approx(tuple(np.quantile(values, [0.025, 0.975])), abs=1e-12)
    assert ours["resamples"] == len(values)


def test_resamples_scored_in_blocks_equal_all_at_once(monkeypatch):
    """Large test sets are scored a block of resamples at a time (bounded memory): the same numbers."""
    import cxrlib.report.bootstrap as bootstrap

    scores, labels, patients = _data()
    weights = PatientBootstrap.draw(patients, 37, seed=2).weights
    whole = weighted_auroc(scores, labels, weights)
    monkeypatch.setattr(bootstrap, "BLOCK_ELEMENTS", 5 * len(scores))  # blocks of 5 resamples, the last of 2
    assert np.array_equal(weighted_auroc(scores, labels, weights), whole, equal_nan=True)
    # the resamples are drawn a block at a time too, from the same random stream
    assert np.array_equal(PatientBootstrap.draw(patients, 37, seed=2).weights, weights)


def test_a_patient_is_drawn_with_all_of_its_images():
    patients = np.array(["a", "a", "b", "c", "c", "c"])
    weights = PatientBootstrap.draw(patients, 50, seed=0).weights
    assert weights.shape == (50, 6)
    assert (weights[:, 0] == weights[:, 1]).all() and (weights[:, 3] == weights[:, 5]).all()
    assert (weights[:, [0, 2, 3]].sum(1) == 3).all()  # three patients drawn per resample
    with pytest.raises(ValueError, match="n_resamples"):
        PatientBootstrap.draw(patients, 0)


def test_a_class_with_one_label_value_has_no_auroc():
    out = bootstrap_auroc(np.arange(5.0), np.ones(5), PatientBootstrap.draw(np.arange(5), 10))
    assert np.isnan(out["auroc"]) and out["positives"] == 5 and out["resamples"] == 0
