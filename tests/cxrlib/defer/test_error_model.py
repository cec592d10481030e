import numpy as np
import pytest
import scipy.special
import torch

from cxrlib.defer import ErrorModelConfig, fit_error_model, mistake_auroc, mistakes


def test_mistakes_by_hand():
    logits = np.array([[2.0, -1.0], [-0.5, 0.0], [1.0, 3.0]])
    labels = np.array([[1, 1], [0, 0], [np.nan, 0]])
    np.testing.assert_array_equal(mistakes(logits, labels), [[0, 1], [0, 0], [np.nan, 1]])
    np.testing.assert_array_equal(mistakes(logits, labels, "image"), [[1], [0], [1]])
    np.testing.assert_array_equal(mistakes(logits[:1], [[np.nan, np.nan]], "image"), [[np.nan]])


def test_an_image_level_error_model_has_one_output_for_every_finding():
    maps, logits, labels, spread = _split(600, 0)
    vm, vl, vy, _ = _split(200, 1)
    tm, tl, ty, _ = _split(300, 2)
    fitted = fit_error_model(maps, logits, labels, vm, vl, vy, ErrorModelConfig(target="image", epochs=60, seed=0))
    p = fitted.p_wrong(tm, tl)
    assert p.shape == (300, 1) and fitted.mistake_weight.shape == (1,)
    image_wrong = mistakes(tl, ty, "image")[:, 0]
    assert mistake_auroc(p[:, 0], image_wrong) > 0.7  # class 0's spread maps mark most image mistakes
    balanced = fit_error_model(
        maps, logits, labels, vm, vl, vy, ErrorModelConfig(target="image", balance="balanced", epochs=5)
    )
    wrong = np.nansum(mistakes(logits, labels, "image"))
    np.testing.assert_allclose(balanced.mistake_weight, [(600 - wrong) / wrong], rtol=1e-6)


def _split(n, seed):
    """Two classes, 4x4 maps: the classifier is wrong where class 0's map is spread out (a flat map),
    right where it is one peak; the probabilities carry nothing (all logits equal in size)."""
    rng = np.random.default_rng(seed)
    spread = rng.random(n) < 0.25
    maps = np.zeros((n, 2, 4, 4), np.float32)
    maps[:, 1] = rng.random((n, 4, 4))
    maps[~spread, 0, rng.integers(0, 4, (~spread).sum()), rng.integers(0, 4, (~spread).sum())] = 4.0
    maps[spread, 0] = 0.25 + 0.05 * rng.random((spread.sum(), 4, 4))
    logits = np.where(rng.random((n, 2)) < 0.5, 2.0, -2.0).astype(np.float32)
    answers = (logits > 0).astype(float)
    labels = answers.copy()
    labels[spread, 0] = 1 - answers[spread, 0]  # the spread-out maps mark the mistakes
    flip = rng.random(n) < 0.2
    labels[flip, 1] = 1 - answers[flip, 1]
    return maps, logits, labels, spread


def test_the_error_model_reads_mistakes_off_the_maps():
    maps, logits, labels, _ = _split(600, 0)
    vm, vl, vy, _ = _split(200, 1)
    tm, tl, ty, spread = _split(300, 2)
    config = ErrorModelConfig(epochs=80, patience=80, seed=0)
    fitted = fit_error_model(maps, logits, labels, vm, vl, vy, config)
    p = fitted.p_wrong(tm, tl)
    assert p.shape == (300, 2) and ((p >= 0) & (p <= 1)).all()
    assert mistake_auroc(p[:, 0], spread) > 0.95
    probs_only = fit_error_model(maps, logits, labels, vm, vl, vy, ErrorModelConfig(inputs="probs", epochs=40))
    assert mistake_auroc(probs_only.p_wrong(tm, tl)[:, 0], spread) < 0.7  # the probabilities say nothing here
    np.testing.assert_allclose(probs_only.p_wrong(tm * 0, tl), probs_only.p_wrong(tm, tl))  # and maps are ignored
    assert fitted.history["epoch"].iloc[-1] == 80 and 1 <= fitted.best_epoch <= 80


def test_balanced_training_shifts_the_output_and_the_correction_undoes_it():
    maps, logits, labels, _ = _split(600, 0)
    vm, vl, vy, _ = _split(200, 1)
    tm, tl, _, _ = _split(300, 2)
    unbalanced = fit_error_model(maps, logits, labels, vm, vl, vy, ErrorModelConfig(epochs=60))
    balanced = fit_error_model(maps, logits, labels, vm, vl, vy, ErrorModelConfig(epochs=60, balance="balanced"))
    wrong = np.nansum(mistakes(logits, labels), 0)
    np.testing.assert_allclose(balanced.mistake_weight, (600 - wrong) / wrong, rtol=1e-6)
    np.testing.assert_array_equal(unbalanced.mistake_weight, [1.0, 1.0])
    raw, corrected = balanced.p_wrong(tm, tl), balanced.p_wrong(tm, tl, prior_corrected=True)
    assert raw.mean() > unbalanced.p_wrong(tm, tl).mean() + 0.1
    assert abs(corrected.mean() - unbalanced.p_wrong(tm, tl).mean()) < 0.1
    # the correction is a shift of each class's logit by the log of its weight: the ranking is unchanged
    inner = (raw > 0.01) & (raw < 0.99) & (corrected > 0.01) & (corrected < 0.99)
    shift = scipy.special.logit(raw) - scipy.special.logit(corrected)
    np.testing.assert_allclose(shift[inner[:, 0], 0], np.log(balanced.mistake_weight[0]), atol=1e-3)


def test_training_is_reproducible():
    maps, logits, labels, _ = _split(200, 0)
    vm, vl, vy, _ = _split(100, 1)
    a = fit_error_model(maps, logits, labels, vm, vl, vy, ErrorModelConfig(epochs=5, seed=3))
    b = fit_error_model(maps, logits, labels, vm, vl, vy, ErrorModelConfig(epochs=5, seed=3))
    np.testing.assert_array_equal(a.p_wrong(vm, vl), b.p_wrong(vm, vl))


def test_error_model_input_errors():
    maps, logits, labels, _ = _split(50, 0)
    never_wrong = np.where(logits > 0, 1.0, 0.0)
    with pytest.raises(ValueError, match="cannot balance"):
        fit_error_model(maps, logits, never_wrong, maps, logits, labels, ErrorModelConfig(balance="balanced"))
    with pytest.raises(ValueError, match=r"\(N, K, h, w\)"):
        fit_error_model(maps[:, 0], logits, labels, maps, logits, labels)
    with pytest.raises(ValueError, match="no known label"):
        fit_error_model(maps, logits, labels * np.nan, maps, logits, labels)
    with pytest.raises(ValueError):
        ErrorModelConfig(inputs="pixels")
    with pytest.raises(ValueError):
        ErrorModelConfig(balance="oversample")
    assert torch.is_tensor(torch.as_tensor(maps))
