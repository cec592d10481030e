import numpy as np
import pytest
import scipy.special

from cxrlib.defer import (
    DeferralRule,
    DeferralUnit,
    any_wrong,
    check_cost,
    confidence_rule,
    error_model_rule,
    per_image,
    predictive_rule,
    surrogate_rule,
)

P = np.array([[0.05, 0.3], [0.5, 0.9], [0.85, 0.15], [0.6, 0.99]])


def test_confidence_rule_on_hand_built_probabilities():
    rule = confidence_rule(scipy.special.logit(P))
    np.testing.assert_array_equal(rule.predictions, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_allclose(rule.deferral_score, [[0.05, 0.3], [0.5, 0.1], [0.15, 0.15], [0.4, 0.01]], atol=1e-12)
    # defer when min(p, 1 - p) > c: at c = 0.2, the 0.3, 0.5 and 0.4 decisions go to the clinician
    defer = rule.defer(0.2)
    assert defer.sum() == 3 and 1 - defer.mean() == 5 / 8
    assert rule.defer(0.49).sum() == 1  # only p = 0.5 is left
    assert rule.defer(0.02).sum() == 7  # every score but p = 0.99's 0.01 is above 0.02


def test_predictive_rule_scores_the_classifiers_own_prediction():
    logits = scipy.special.logit(P)
    predictive = np.array([[0.3, 0.3], [0.5, 0.7], [0.55, 0.1], [0.45, 0.9]])
    rule = predictive_rule(logits, predictive, "mc")
    np.testing.assert_array_equal(rule.predictions, confidence_rule(logits).predictions)
    # wrong = q where the prediction is 0, 1 - q where it is 1 (even where q and p disagree on the side)
    np.testing.assert_allclose(rule.deferral_score, [[0.3, 0.3], [0.5, 0.3], [0.45, 0.1], [0.55, 0.1]])
    assert rule.defer(0.35).sum() == 3


def test_error_model_rule_keeps_what_the_error_model_trusts():
    p_wrong = np.array([[0.1, 0.6], [0.25, 0.05], [0.2, 0.19], [0.9, 0.0]])
    rule = error_model_rule(scipy.special.logit(P), p_wrong)
    np.testing.assert_array_equal(rule.defer(0.2), p_wrong > 0.2)
    assert 1 - rule.defer(0.2).mean() == 5 / 8 and 1 - rule.defer(0.5).mean() == 6 / 8


def test_surrogate_rule_is_mozannar_and_sontag_at_zero_cost():
    g = np.array([[[0.7, 0.1, 0.2], [0.2, 0.2, 0.6]]])  # (N=1, K=2, 3)
    rule = surrogate_rule(g)
    # class 0: P(model wrong) = 0.1 / 0.8, P(clinician right) = 0.2 / 0.8; class 1: 0.5 and 1.5 -> 1
    np.testing.assert_allclose(rule.deferral_score, [[0.125 - 0.75, 0.5 - 0.0]])
    np.testing.assert_array_equal(rule.predictions, [[0, 0]])
    rng = np.random.default_rng(0)
    g = rng.dirichlet(np.ones(3), size=(200, 4))
    rule = surrogate_rule(g)
    np.testing.assert_array_equal(rule.deferral_score > 0, g[..., 2] > g[..., :2].max(-1))
    np.testing.assert_allclose(scipy.special.expit(rule.scores), g[..., 1] / (g[..., 0] + g[..., 1]))


def test_any_wrong_is_inclusion_exclusion_over_independent_findings():
    p = np.random.default_rng(0).random((20, 3))
    a, b, c = p.T
    by_hand = a + b + c - a * b - a * c - b * c + a * b * c
    np.testing.assert_allclose(any_wrong(p), by_hand)


def test_per_image_rules_share_one_score_per_image():
    logits = np.array([[2.0, -1.0], [0.1, -3.0]])
    rule = per_image(confidence_rule(logits))
    assert rule.unit is DeferralUnit.IMAGE
    assert (rule.deferral_score[:, 0] == rule.deferral_score[:, 1]).all()
    image_model = error_model_rule(logits, np.array([[0.3], [0.1]]))
    assert image_model.unit is DeferralUnit.IMAGE
    np.testing.assert_array_equal(image_model.defer(0.2), [[True, True], [False, False]])
    with pytest.raises(ValueError, match="already defers whole images"):
        per_image(rule)
    with pytest.raises(ValueError, match=r"one number per image, \(2,\)"):
        per_image(confidence_rule(logits), image_score=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="one deferral score per image"):
        DeferralRule("x", rule.predictions, rule.scores, np.array([[0.1, 0.2], [0.3, 0.3]]), DeferralUnit.IMAGE)
    g = np.random.default_rng(1).dirichlet(np.ones(3), size=(5, 2))
    finding, image = surrogate_rule(g), surrogate_rule(g, unit="image")
    with pytest.raises(ValueError, match="not a probability"):
        per_image(finding)
    model_wrong = np.minimum(g[..., 0], g[..., 1]) / (g[..., 0] + g[..., 1])
    clinician_wrong = 1 - np.clip(g[..., 2] / (g[..., 0] + g[..., 1]), 0, 1)
    np.testing.assert_allclose(image.deferral_score[:, 0], any_wrong(model_wrong) - any_wrong(clinician_wrong))
    np.testing.assert_array_equal(image.predictions, finding.predictions)


@pytest.mark.parametrize("cost", [0, 1, -0.1, 1.5, float("nan"), "cheap", None])
def test_cost_outside_the_open_unit_interval_is_an_error(cost):
    with pytest.raises(ValueError, match=r"cost of deferring"):
        check_cost(cost)
    with pytest.raises(ValueError, match=r"cost of deferring"):
        confidence_rule(np.zeros((2, 1))).defer(cost)


def test_rules_reject_bad_inputs():
    with pytest.raises(ValueError, match="contain NaN"):
        confidence_rule(np.array([[np.nan]]))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        error_model_rule(np.zeros((2, 2)), np.full((2, 2), 1.5))
    with pytest.raises(ValueError, match="differ in shape"):
        predictive_rule(np.zeros((2, 2)), np.zeros((2, 3)), "x")
    with pytest.raises(ValueError, match=r"\(N, K, 3\)"):
        surrogate_rule(np.full((2, 2), 0.5))
    with pytest.raises(ValueError, match="sum to 1"):
        surrogate_rule(np.full((1, 1, 3), 0.5))
    with pytest.raises(ValueError, match="predictions must be 0 or 1"):
        DeferralRule("x", np.full((1, 1), 0.5), np.zeros((1, 1)), np.zeros((1, 1)))
