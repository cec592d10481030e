import itertools

import numpy as np
import pytest

from cxrlib.defer import (
    aurc,
    confidence_rule,
    cost_sweep,
    deferral_metrics,
    error_model_rule,
    kept_accuracy,
    per_image,
    risk_coverage_curve,
    selective_accuracy,
    system_accuracy_curve,
)


def _naive_aurc(score, wrong):
    """Keep the m lowest scores (in the given order for ties), m = 1..n; mean risk."""
    order = np.argsort(score, kind="stable")
    return np.mean([wrong[order[:m]].mean() for m in range(1, len(score) + 1)])


@pytest.mark.parametrize("seed", range(5))
def test_aurc_against_a_brute_force_reference(seed):
    rng = np.random.default_rng(seed)
    score = rng.random(40)
    wrong = (rng.random(40) < 0.3).astype(float)
    assert aurc(score, wrong) == pytest.approx(_naive_aurc(score, wrong), abs=1e-12)
    coverage, risk = risk_coverage_curve(score, wrong)
    np.testing.assert_allclose(coverage, np.arange(1, 41) / 40)
    assert risk[-1] == pytest.approx(wrong.mean())


def test_tied_scores_give_the_average_over_every_order():
    score = np.array([0.1, 0.5, 0.5, 0.5, 0.2, 0.9, 0.2])
    wrong = np.array([0, 1, 0, 1, 1, 0, 0], float)
    orders = [p for p in itertools.permutations(range(7)) if np.all(np.diff(score[list(p)]) >= 0)]
    reference = np.mean([np.mean([wrong[list(p)[:m]].mean() for m in range(1, 8)]) for p in orders])
    assert aurc(score, wrong) == pytest.approx(reference, abs=1e-12)
    assert aurc(score[::-1], wrong[::-1]) == pytest.approx(reference, abs=1e-12)


def test_aurc_of_perfect_and_reversed_rankings():
    wrong = np.array([0, 0, 0, 1, 1], float)
    assert aurc(wrong, wrong) == pytest.approx(np.mean([0, 0, 0, 1 / 4, 2 / 5]))
    assert aurc(-wrong, wrong) == pytest.approx(np.mean([1, 1, 2 / 3, 2 / 4, 2 / 5]))
    assert selective_accuracy(wrong, wrong, 0.6) == 1.0 and selective_accuracy(wrong, wrong, 1.0) == 0.6


def test_system_accuracy_curve_against_a_loop():
    rng = np.random.default_rng(1)
    score, model, clinician = rng.random(30), rng.random(30) < 0.8, rng.random(30) < 0.9
    coverage, accuracy = system_accuracy_curve(score, model, clinician)
    order = np.argsort(score)
    for m in range(31):
        kept, deferred = order[:m], order[m:]
        assert accuracy[m] == pytest.approx((model[kept].sum() + clinician[deferred].sum()) / 30)
    assert coverage[0] == 0 and coverage[-1] == 1


def _case():
    """Four images, two classes; the third image's second label unknown."""
    labels = np.array([[1, 0], [0, 0], [1, np.nan], [0, 1]], float)
    p_wrong = np.array([[0.1, 0.3], [0.5, 0.05], [0.15, 0.9], [0.25, 0.1]])
    logits = np.array([[2.0, -1.0], [1.0, -2.0], [-1.0, 3.0], [-3.0, 2.0]])  # class 0: image 1 wrong, image 2 wrong
    clinician = np.array([[1, 0], [1, 0], [1, 0], [0, 0]], float)  # wrong on image 1 (class A), 3 (class B)
    return error_model_rule(logits, p_wrong), labels, clinician


def test_deferral_metrics_by_hand():
    rule, labels, clinician = _case()
    table = deferral_metrics(rule, labels, clinician, 0.2, ["A", "B"])
    # class A: defer images 1 and 3 (0.5, 0.25 > 0.2); kept 0 (right), 2 (wrong); clinician wrong on 1, right on 3
    a = table.loc["A"]
    assert a["decisions"] == 4 and a["coverage"] == 0.5 and a["kept accuracy"] == 0.5
    assert a["system accuracy"] == 0.5 and a["model accuracy"] == 0.5 and a["clinician accuracy"] == 0.75
    assert a["cost-weighted loss"] == pytest.approx((0 + 0.2 + 1 + 0.2) / 4)
    # class B: image 2 unknown; defer image 0 (0.3); kept 1 (right), 3 (right); clinician right on 0
    b = table.loc["B"]
    assert b["decisions"] == 3 and b["coverage"] == pytest.approx(2 / 3) and b["kept accuracy"] == 1.0
    assert b["system accuracy"] == 1.0 and b["kept AUROC"] == 1.0
    pooled = table.loc["all"]
    assert pooled["decisions"] == 7 and pooled["coverage"] == pytest.approx(4 / 7)
    assert pooled["kept accuracy"] == pytest.approx(3 / 4) and pooled["system accuracy"] == pytest.approx(5 / 7)


def test_bad_input_is_a_clear_error_not_a_nan():
    rule, labels, clinician = _case()
    with pytest.raises(ValueError, match="cost of deferring must lie in"):
        deferral_metrics(rule, labels, clinician, 0.0)
    with pytest.raises(ValueError, match="cost of deferring must lie in"):
        cost_sweep(rule, labels, clinician, [0.2, 1.0])
    with pytest.raises(ValueError, match="no clinician predictions"):
        deferral_metrics(rule, labels, None, 0.2)
    missing = clinician.copy()
    missing[1, 0] = np.nan
    with pytest.raises(ValueError, match="clinician has no prediction for 1 decision"):
        deferral_metrics(rule, labels, missing, 0.2)
    missing[2, 1] = np.nan  # where the label is unknown a missing answer is fine; the other one is not
    with pytest.raises(ValueError, match="for 1 decision"):
        deferral_metrics(rule, labels, missing, 0.2)
    with pytest.raises(ValueError, match="kept set is empty"):
        kept_accuracy([1, 0], [False, False])
    with pytest.raises(ValueError, match=r"keeps nothing of \['A', 'images'\]"):
        deferral_metrics(rule, labels, clinician, 0.08, ["A", "B"])
    with pytest.raises(ValueError, match="differ in shape"):
        deferral_metrics(rule, labels[:, :1], clinician, 0.2)


def test_images_row_and_sensitivities_by_hand():
    rule, labels, clinician = _case()
    table = deferral_metrics(rule, labels, clinician, 0.2, ["A", "B"])
    # deferred: (0, B), (1, A), (3, A): only image 2 is answered wholly by the model, and its A is wrong
    images = table.loc["images"]
    assert images["decisions"] == 4 and images["coverage"] == 0.25 and images["kept accuracy"] == 0.0
    # image 0 right (A by the model, B by the clinician), 1 wrong (the clinician's A), 2 wrong, 3 right
    assert images["system accuracy"] == 0.5 and images["model accuracy"] == 0.5
    assert images["clinician accuracy"] == 0.5  # wrong on image 1's A and image 3's B
    assert images["cost-weighted loss"] == pytest.approx((0.2 + 0.2 + 1 + 0.2) / 4)
    # positives (0, A), (2, A), (3, B), none deferred; the model misses (2, A)
    for row in ("all", "images"):
        assert table.loc[row, "kept sensitivity"] == pytest.approx(2 / 3)
        assert table.loc[row, "system sensitivity"] == pytest.approx(2 / 3)
    assert table.loc["B", "kept sensitivity"] == 1.0
    # A: kept positives (0) and (2), the model finds one; the clinician answers no A positive here
    assert table.loc["A", "kept sensitivity"] == 0.5 and table.loc["A", "system sensitivity"] == 0.5


def test_a_per_image_rule_keeps_or_defers_whole_images():
    rule, labels, clinician = _case()
    whole = per_image(rule)
    np.testing.assert_allclose(whole.deferral_score[:, 0], 1 - np.prod(1 - rule.deferral_score, 1))
    defer = whole.defer(0.4)  # scores 0.37, 0.525, 0.915, 0.325: images 1 and 2 deferred
    np.testing.assert_array_equal(defer, [[False, False], [True, True], [True, True], [False, False]])
    table = deferral_metrics(whole, labels, clinician, 0.4, ["A", "B"])
    assert table.loc["images", "coverage"] == 0.5 and table.loc["images", "kept accuracy"] == 1.0
    assert table.loc["A", "coverage"] == 0.5 and table.loc["B", "coverage"] == pytest.approx(2 / 3)
    # the source's cost model: a deferred image costs c, a kept image 1 if any of its answers is wrong
    assert table.loc["images", "cost-weighted loss"] == pytest.approx(2 * 0.4 / 4)


def test_cost_sweep_leaves_empty_kept_sets_out():
    rule, labels, clinician = _case()
    sweep = cost_sweep(rule, labels, clinician, [0.01, 0.08, 0.2], ["A", "B"])
    assert not sweep["kept accuracy"].isna().any()
    assert set(sweep.loc[sweep["cost"] == 0.08, "class"]) == {"B", "all"}  # A, so every image, keeps nothing
    assert sweep.loc[sweep["cost"] == 0.01, "class"].empty  # nothing kept anywhere at 0.01
    kept = cost_sweep(rule, labels, clinician, [0.01], ["A", "B"], keep_empty=True).set_index("class")
    assert (kept["coverage"] == 0).all() and kept["kept accuracy"].isna().all()
    assert kept.loc["all", "system accuracy"] == pytest.approx(5 / 7)  # the clinician answers everything
    at = sweep[(sweep["cost"] == 0.2)].set_index("class").drop(columns="cost")
    np.testing.assert_allclose(
        at.to_numpy(float), deferral_metrics(rule, labels, clinician, 0.2, ["A", "B"]).to_numpy(float)
    )


def test_kept_auroc_of_the_sweep_is_scikit_learns():
    from cxrlib.defer.metrics import _rank_auroc
    from cxrlib.metrics import auroc

    rng = np.random.default_rng(3)
    for _ in range(20):
        scores = np.round(rng.normal(size=50), 1)  # with ties
        labels = (rng.random(50) < 0.3).astype(float)
        assert _rank_auroc(scores, labels) == pytest.approx(auroc(scores, labels), abs=1e-12)
    assert np.isnan(_rank_auroc(np.arange(3.0), np.zeros(3)))


def test_confidence_coverage_over_a_sweep_is_monotone():
    rng = np.random.default_rng(2)
    logits = rng.normal(0, 2, (300, 2))
    labels = (rng.random((300, 2)) < 0.5).astype(float)
    sweep = cost_sweep(confidence_rule(logits), labels, labels, np.linspace(0.05, 0.45, 9))
    coverage = sweep[sweep["class"] == "all"]["coverage"].to_numpy()
    assert np.all(np.diff(coverage) >= 0)
    assert (sweep[sweep["class"] == "all"]["system accuracy"] >= sweep[sweep["class"] == "all"]["model accuracy"]).all()
