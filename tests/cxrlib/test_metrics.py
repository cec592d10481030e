import numpy as np
import pandas as pd
import pytest
import scipy.stats
import torch
from netcal.metrics import ECE
from sklearn.metrics import roc_auc_score
from torchvision.ops import box_iou

from cxrlib.metrics import (
    auroc,
    average_precision,
    expected_calibration_error,
    heatmap_mass_in_mask,
    iobb_scores,
    mean_confidence_interval,
    per_class_auroc,
    per_class_average_precision,
    per_class_ece,
    point_localization_accuracy,
    reliability_curve,
)

rng = np.random.default_rng(0)


@pytest.mark.parametrize("seed", range(5))
def test_auroc_matches_mann_whitney_with_ties(seed):
    r = np.random.default_rng(seed)
    y = r.integers(0, 2, 300).astype(float)
    s = np.round(r.normal(y * 0.8, 1.0), 1)  # rounding creates ties
    u = scipy.stats.mannwhitneyu(s[y == 1], s[y == 0]).statistic
    assert auroc(s, y) == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()), abs=1e-12)
    assert auroc(s, y) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_per_class_auroc_masks_nan_and_single_class():
    y = rng.integers(0, 2, (200, 3)).astype(float)
    s = rng.normal(y, 1.0)
    y[:50, 0] = np.nan
    y[:, 2] = 1.0
    out = per_class_auroc(s, y, ["a", "b", "c"])
    keep = ~np.isnan(y[:, 0])
    assert out["a"] == pytest.approx(roc_auc_score(y[keep, 0], s[keep, 0]))
    assert out["b"] == pytest.approx(roc_auc_score(y[:, 1], s[:, 1]))
    assert np.isnan(out["c"]) and out["mean"] == pytest.approx((out["a"] + out["b"]) / 2)
    assert np.isnan(auroc([0.1, 0.2], [np.nan, np.nan])) and np.isnan(auroc([], []))


@pytest.mark.parametrize("n_bins", [10, 15])
def test_binary_ece_matches_netcal(n_bins):
    p = rng.uniform(0, 1, 2000)
    y = (rng.uniform(0, 1, 2000) < p**1.5).astype(float)
    ours = expected_calibration_error(p, y, n_bins)
    ref = ECE(bins=n_bins).measure(p, y)
    assert ours == pytest.approx(ref, abs=1e-6)


def test_multiclass_top_label_ece_matches_netcal():
    logits = rng.normal(0, 2, (1500, 4))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = np.array([rng.choice(4, p=p) for p in probs**0.7 / (probs**0.7).sum(1, keepdims=True)])
    assert expected_calibration_error(probs, y, 15) == pytest.approx(ECE(bins=15).measure(probs, y), abs=1e-6)


def test_multilabel_ece_is_mean_of_binary_and_curve_is_consistent():
    p = rng.uniform(0, 1, (500, 3))
    y = (rng.uniform(0, 1, (500, 3)) < p).astype(float)
    y[:20, 1] = np.nan
    per = per_class_ece(p, y)
    assert expected_calibration_error(p, y, kind="marginal") == pytest.approx(per.mean())
    keep = ~np.isnan(y[:, 1])
    assert per[1] == pytest.approx(ECE(bins=15).measure(p[keep, 1], y[keep, 1]), abs=1e-6)
    curve = reliability_curve(p[:, 0], y[:, 0])
    assert curve.count.sum() == 500 and len(curve.edges) == 16
    assert curve.ece == pytest.approx(per[0])


def test_ece_of_perfectly_calibrated_bins_is_zero():
    p = np.repeat([0.1, 0.5, 0.9], 10)
    y = np.concatenate([[1] + [0] * 9, [1] * 5 + [0] * 5, [1] * 9 + [0]]).astype(float)
    assert expected_calibration_error(p, y, 10) == pytest.approx(0.0, abs=1e-12)


def test_point_localization_hand_built():
    maps = np.zeros((2, 2, 4, 4), np.float32)
    maps[0, 0, 0, 0] = 1.0  # top-left → image pixel region (0..8, 0..8) at 32 px
    maps[0, 1, 3, 3] = 1.0  # bottom-right
    maps[1, 0, 3, 0] = 1.0  # bottom-left
    boxes = pd.DataFrame(
        [
            ("a", "A", 0, 0, 10, 10),
            ("a", "B", 0, 0, 10, 10),  # A hit, B miss
            ("b", "A", 0, 20, 12, 12),
            ("b", "A", 20, 0, 5, 5),  # two boxes, the first is hit
        ],
        columns=["image", "class", "x", "y", "w", "h"],
    )
    table = point_localization_accuracy(maps, boxes, ["a", "b"], ["A", "B"], (32, 32))
    assert table.loc["A", "n"] == 2 and table.loc["A", "hits"] == 2
    assert table.loc["B", "n"] == 1 and table.loc["B", "hits"] == 0
    assert table.loc["weighted", "accuracy"] == pytest.approx(2 / 3)
    assert table.loc["macro", "accuracy"] == pytest.approx(0.5)


def test_iobb_against_torchvision_intersections():
    maps = np.zeros((1, 1, 32, 32), np.float32)
    maps[0, 0, 4:12, 6:20] = 1.0  # predicted region: x 6..20, y 4..12 at native size
    gt = pd.DataFrame([("a", "A", 10.0, 0.0, 20.0, 10.0)], columns=["image", "class", "x", "y", "w", "h"])
    out = iobb_scores(maps, gt, ["a"], ["A"], (32, 32), threshold=0.5)
    pred = torch.tensor([[6.0, 4.0, 20.0, 12.0]])
    g = torch.tensor([[10.0, 0.0, 30.0, 10.0]])
    iou = box_iou(pred, g)[0, 0]
    a_pred, a_gt = 14 * 8, 20 * 10
    inter = iou * (a_pred + a_gt) / (1 + iou)
    assert out["iobb"].iloc[0] == pytest.approx(float(inter / a_pred), abs=1e-4)


def test_mass_in_mask():
    maps = torch.zeros(2, 4, 4)
    maps[0, :2, :2] = 1.0
    maps[1] = 1.0
    mask = torch.zeros(2, 16, 16, dtype=torch.bool)
    mask[:, :8, :8] = True
    share = heatmap_mass_in_mask(maps, mask)
    assert share[1] == pytest.approx(0.25, abs=1e-6)
    assert 0.8 < share[0] <= 1.0  # bilinear upsampling spreads a little mass over the edge


@pytest.mark.parametrize("n", [2, 5, 12])
def test_student_t_interval_matches_scipy(n):
    v = rng.normal(0.6, 0.05, n)
    mean, half = mean_confidence_interval(v)
    lo, hi = scipy.stats.t.interval(0.95, n - 1, loc=v.mean(), scale=scipy.stats.sem(v))
    assert mean == pytest.approx(v.mean()) and half == pytest.approx((hi - lo) / 2)
    assert np.isnan(mean_confidence_interval([0.5])[1])
    with pytest.raises(ValueError):
        mean_confidence_interval([])


def test_point_localization_breaks_plateau_ties_at_its_centre():
    maps = np.array([[[[0.0, 1.0], [0.0, 0.0]]]], np.float32)  # 2×2: top-right quadrant is the plateau
    box = pd.DataFrame([("a", "A", 50, 2, 12, 12)], columns=["image", "class", "x", "y", "w", "h"])
    table = point_localization_accuracy(maps, box, ["a"], ["A"], (64, 64))
    assert table.loc["A", "hits"] == 1  # plain argmax picks pixel (row 0, col 48): outside


# ----------------------------------------------------------------------------------------------
# Regressions from the review of issue 6 (each failed on the earlier code)
# ----------------------------------------------------------------------------------------------
def test_auroc_of_saturating_logits_ranks_like_the_logits():
    from cxrlib.train import Predictions

    r = np.random.default_rng(1)
    y = r.integers(0, 2, (400, 1)).astype(float)
    logits = np.clip(20 + 6 * y + r.normal(0, 4, y.shape), 17, 35).astype(np.float32)  # float32 sigmoid: all 1.0
    pred = Predictions(logits, y)
    expected = roc_auc_score(y[:, 0], logits[:, 0])
    assert pred.probs.dtype == np.float64
    assert per_class_auroc(pred.logits, pred.labels)["mean"] == pytest.approx(expected, abs=1e-12)
    assert per_class_auroc(pred.probs, pred.labels)["mean"] == pytest.approx(expected, abs=1e-12)
    assert (pred.probs < 1.0).all()


def test_float64_tensor_scores_are_not_narrowed():
    y = torch.tensor([0.0, 1.0, 0.0, 1.0], dtype=torch.float64)
    s = 1.0 + torch.tensor([0.0, 1e-12, 2e-12, 3e-12], dtype=torch.float64)  # equal in float32
    assert auroc(s, y) == pytest.approx(0.75)


def test_average_precision_by_hand_and_against_sklearn():
    from sklearn.metrics import average_precision_score

    assert average_precision([0.9, 0.8, 0.7], [1, 0, 1]) == pytest.approx((1 + 2 / 3) / 2)
    s, y = rng.normal(0, 1, (300, 2)), rng.integers(0, 2, (300, 2)).astype(float)
    y[:10, 0] = np.nan
    out = per_class_average_precision(s, y, ["a", "b"])
    assert out["b"] == pytest.approx(average_precision_score(y[:, 1], s[:, 1]))
    assert np.isnan(average_precision([0.1, 0.2], [0.0, 0.0]))


def test_ece_of_a_class_without_labels_is_nan_and_left_out_of_the_mean():
    p = rng.uniform(0, 1, (300, 3))
    y = (rng.uniform(0, 1, (300, 3)) < p).astype(float)
    y[:, 2] = np.nan
    per = per_class_ece(p, y)
    assert np.isnan(per[2]) and np.isfinite(per[:2]).all()
    assert expected_calibration_error(p, y, kind="marginal") == pytest.approx(per[:2].mean())
    assert np.isnan(expected_calibration_error(p[:, 2], y[:, 2]))


def test_ece_kind_is_explicit_for_two_dimensional_labels():
    logits = rng.normal(0, 2, (800, 4))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    idx = np.array([rng.choice(4, p=q) for q in probs])
    onehot = np.eye(4)[idx]
    with pytest.raises(ValueError, match="kind="):
        expected_calibration_error(probs, onehot)
    top = expected_calibration_error(probs, onehot, kind="top-label")
    assert top == pytest.approx(ECE(bins=15).measure(probs, idx), abs=1e-6)
    assert top == pytest.approx(expected_calibration_error(probs, idx))
    marginal = expected_calibration_error(probs, onehot, kind="marginal")
    assert marginal == pytest.approx(per_class_ece(probs, onehot).mean())
    with pytest.raises(ValueError, match="unknown calibration kind"):
        expected_calibration_error(probs, onehot, kind="per-class")


@pytest.mark.parametrize("n_bins", [10, 15])
def test_ece_bins_agree_with_netcal_on_exact_edges(n_bins):
    edges = np.linspace(0, 1, n_bins + 1)
    p = np.concatenate([edges, edges[1:-1], rng.uniform(0, 1, 200)])
    y = (rng.uniform(0, 1, len(p)) < 0.5).astype(float)
    assert expected_calibration_error(p, y, n_bins) == pytest.approx(ECE(bins=n_bins).measure(p, y), abs=1e-9)


def test_localisation_inputs_are_checked_at_the_entry():
    maps = np.zeros((3, 2, 4, 4))
    box = pd.DataFrame([("a", "A", 0, 0, 4, 4)], columns=["image", "class", "x", "y", "w", "h"])
    with pytest.raises(ValueError, match="3 heatmaps but 2 image keys"):
        point_localization_accuracy(maps, box, ["a", "b"], ["A", "B"], (16, 16))
    with pytest.raises(ValueError, match="2 class maps but 3 classes"):
        iobb_scores(maps, box, ["a", "b", "c"], ["A", "B", "C"], (16, 16))
    with pytest.raises(ValueError, match="lack column"):
        point_localization_accuracy(maps, box.drop(columns="w"), ["a", "b", "c"], ["A", "B"], (16, 16))
    square = torch.rand(3, 3, 4, 4)  # B = K = 3: a (B, H, W) mask would broadcast over the wrong axis
    with pytest.raises(ValueError, match="leading"):
        heatmap_mass_in_mask(square, torch.ones(3, 16, 16, dtype=torch.bool))


def test_flat_maps_are_misses_not_centre_hits():
    """A map that is zero everywhere (or constant) has no peak. The earlier code put its 'peak' at the
    plateau centre, the image centre, where the heart is: a chance-level model scored on Cardiomegaly."""
    maps = np.zeros((3, 1, 4, 4))
    maps[1] = 0.7  # constant, not zero
    maps[2, 0, 1:3, 1:3] = 1.0  # a real peak at the centre
    centre = pd.DataFrame(
        [(k, "Cardiomegaly", 20, 20, 24, 24) for k in "abc"], columns=["image", "class", "x", "y", "w", "h"]
    )
    table = point_localization_accuracy(maps, centre, list("abc"), ["Cardiomegaly"], (64, 64))
    assert table.loc["Cardiomegaly", ["n", "hits", "flat"]].tolist() == [3, 1, 2]
    assert table.loc["weighted", "accuracy"] == pytest.approx(1 / 3)
    iobb = iobb_scores(maps, centre, list("abc"), ["Cardiomegaly"], (64, 64))
    assert iobb["iobb"].tolist()[:2] == [0.0, 0.0] and iobb["flat"].tolist() == [True, True, False]
    assert iobb["iobb"].iloc[2] > 0.5
    mass = heatmap_mass_in_mask(torch.zeros(1, 4, 4), torch.ones(1, 16, 16, dtype=torch.bool))
    assert float(mass[0]) == 0.0


# ---------------------------------------------------------------------------------------------
# Adaptive ECE, Brier score, NLL
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_bins", [10, 15])
def test_adaptive_ece_matches_netcal_equal_mass_bins(n_bins):
    from cxrlib.metrics import adaptive_calibration_error

    r = np.random.default_rng(n_bins)
    p = r.beta(0.6, 0.6, 3000)  # mass piled at both ends, where equal-width bins are unequal
    y = (r.uniform(0, 1, 3000) < p**1.4).astype(float)
    ref = ECE(bins=n_bins, equal_intervals=False).measure(p, y)
    assert adaptive_calibration_error(p, y, n_bins) == pytest.approx(ref, abs=1e-9)
    assert expected_calibration_error(p, y, n_bins, binning="equal-mass") == pytest.approx(ref, abs=1e-9)
    curve = reliability_curve(p, y, n_bins, binning="equal-mass")
    assert curve.count.min() >= len(p) // n_bins - 1 and curve.count.max() <= len(p) // n_bins + 1


def test_adaptive_ece_per_class_and_ties():
    from cxrlib.metrics import adaptive_calibration_error

    r = np.random.default_rng(7)
    p = r.uniform(0, 1, (800, 3))
    y = (r.uniform(0, 1, (800, 3)) < p).astype(float)
    y[:40, 2] = np.nan
    per = [
        ECE(bins=15, equal_intervals=False).measure(p[~np.isnan(y[:, k]), k], y[~np.isnan(y[:, k]), k])
        for k in range(3)
    ]
    assert adaptive_calibration_error(p, y, kind="marginal") == pytest.approx(np.mean(per), abs=1e-9)
    # tied confidences leave empty bins instead of failing (scipy's binning, under netcal, raises here)
    tied = np.repeat([0.2, 0.7], 50)
    assert np.isfinite(adaptive_calibration_error(tied, (r.uniform(size=100) < tied).astype(float)))
    with pytest.raises(ValueError, match="unknown binning"):
        expected_calibration_error(p[:, 0], y[:, 0], binning="quantile-ish")


def test_brier_and_nll_match_scikit_learn_and_ignore_unknown_labels():
    from sklearn.metrics import brier_score_loss, log_loss

    from cxrlib.metrics import brier_score, negative_log_likelihood

    r = np.random.default_rng(8)
    p = r.uniform(0.01, 0.99, (500, 3))
    y = (r.uniform(0, 1, (500, 3)) < p).astype(float)
    assert brier_score(p[:, 0], y[:, 0]) == pytest.approx(brier_score_loss(y[:, 0], p[:, 0]))
    assert negative_log_likelihood(p[:, 0], y[:, 0]) == pytest.approx(log_loss(y[:, 0], p[:, 0]))
    y[:100, 1] = np.nan
    keep = ~np.isnan(y[:, 1])
    per_brier = [brier_score_loss(y[:, k], p[:, k]) for k in (0, 2)] + [brier_score_loss(y[keep, 1], p[keep, 1])]
    per_nll = [log_loss(y[:, k], p[:, k]) for k in (0, 2)] + [log_loss(y[keep, 1], p[keep, 1])]
    assert brier_score(p, y, kind="marginal") == pytest.approx(np.mean(per_brier))
    assert negative_log_likelihood(p, y, kind="marginal") == pytest.approx(np.mean(per_nll))
    # saturated probabilities stay finite
    assert np.isfinite(negative_log_likelihood(np.array([1.0, 0.0]), np.array([0.0, 1.0])))
    with pytest.raises(ValueError, match="kind='marginal'"):
        brier_score(p, y)
    with pytest.raises(ValueError, match="binary and marginal"):
        negative_log_likelihood(p / p.sum(1, keepdims=True), np.zeros(500), kind="top-label")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        brier_score(np.array([1.2, 0.3]), np.array([1.0, 0.0]))
    assert np.isnan(brier_score(np.array([0.3]), np.array([np.nan])))
