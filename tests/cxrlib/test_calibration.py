import numpy as np
import pytest
import torch
from netcal.scaling import TemperatureScaling as NetcalTemperatureScaling
from scipy.special import expit

from cxrlib.calibration import TemperatureMode, fit_temperature, sigmoid_nll
from cxrlib.metrics import expected_calibration_error, per_class_auroc


def _calibrated(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits of a known, perfectly calibrated model and labels drawn from it."""
    r = np.random.default_rng(seed)
    z = r.normal(0, 2, (n, k))
    return z, (r.uniform(size=z.shape) < expit(z)).astype(float)


def test_temperature_recovers_three_on_logits_made_overconfident_by_three():
    z, y = _calibrated(20000, 5, 0)
    for mode in ("global", "per-class"):
        ts = fit_temperature(3 * z, y, mode)
        assert np.allclose(ts.temperature, 3.0, rtol=0.06), (mode, ts.temperature)
        assert ts.nll_after < ts.nll_before
    scaled = fit_temperature(3 * z, y).apply(3 * z)
    before = expected_calibration_error(expit(3 * z), y, kind="marginal")
    after = expected_calibration_error(expit(scaled), y, kind="marginal")
    assert after < before / 3


def test_per_class_temperatures_follow_each_class():
    z, y = _calibrated(8000, 3, 1)
    ts = fit_temperature(z * np.array([0.5, 1.0, 4.0]), y, "per-class")
    assert ts.temperature.shape == (3,) and ts.mode is TemperatureMode.PER_CLASS
    assert np.allclose(ts.temperature, [0.5, 1.0, 4.0], rtol=0.08)


def test_temperature_agrees_with_netcal_and_a_brute_force_grid():
    r = np.random.default_rng(2)
    z = r.normal(0, 3, 3000)
    y = (r.uniform(size=3000) < expit(z / 2.2 + 0.1)).astype(float)
    ours = float(fit_temperature(z, y).temperature)
    ref = NetcalTemperatureScaling()
    ref.fit(expit(z), y)  # netcal fits the inverse temperature (a weight on the logits) from probabilities
    assert ours == pytest.approx(1 / float(ref.weights[0]), rel=1e-3)
    grid = np.linspace(1.0, 4.0, 30001)
    best = grid[np.argmin([sigmoid_nll(z / t, y) for t in grid[::10]]) * 10]
    fine = grid[max(0, np.searchsorted(grid, best) - 20) : np.searchsorted(grid, best) + 20]
    best = fine[np.argmin([sigmoid_nll(z / t, y) for t in fine])]
    assert ours == pytest.approx(best, abs=2e-4)


def test_unknown_labels_are_ignored():
    z, y = _calibrated(3000, 2, 3)
    y_nan = y.copy()
    y_nan[:500, 0] = np.nan
    z_moved = z.copy()
    z_moved[:500, 0] = 40.0  # whatever the logits of unknown labels, nothing changes
    for mode in ("global", "per-class"):
        a = fit_temperature(2 * z, y_nan, mode)
        b = fit_temperature(np.where(np.isnan(y_nan), 2 * z_moved, 2 * z), y_nan, mode)
        assert np.allclose(a.temperature, b.temperature)
    keep = ~np.isnan(y_nan[:, 0])
    per = fit_temperature(2 * z, y_nan, "per-class").temperature
    assert per[0] == pytest.approx(float(fit_temperature(2 * z[keep, 0], y[keep, 0]).temperature), rel=1e-6)


def test_temperature_scaling_never_changes_auroc():
    z, y = _calibrated(2000, 4, 4)
    logits = z * np.array([3.0, 0.3, 1.0, 8.0]) + 0.5
    for mode in ("global", "per-class"):
        scaled = fit_temperature(logits, y, mode).apply(logits)
        assert np.allclose(per_class_auroc(scaled, y), per_class_auroc(logits, y), atol=1e-12)


def test_apply_keeps_tensors_as_tensors():
    z, y = _calibrated(1000, 3, 5)
    ts = fit_temperature(torch.tensor(2 * z, dtype=torch.float32), torch.tensor(y), "per-class")
    out = ts.apply(torch.tensor(2 * z, dtype=torch.float32))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    assert np.allclose(out.numpy(), 2 * z / ts.temperature, rtol=1e-5)
    assert isinstance(ts.apply(2 * z), np.ndarray)
    with pytest.raises(ValueError, match="3 classes"):
        ts.apply(np.zeros((4, 2)))


def test_bad_input_is_refused():
    z, y = _calibrated(100, 2, 6)
    bad = z.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        fit_temperature(bad, y)
    with pytest.raises(ValueError, match="one shape"):
        fit_temperature(z, y[:, :1])
    with pytest.raises(ValueError, match="no known"):
        fit_temperature(z, np.full_like(y, np.nan))
    half = y.copy()
    half[:, 1] = np.nan
    with pytest.raises(ValueError, match=r"\['Edema'\]"):
        fit_temperature(z, half, "per-class", classes=["Atelectasis", "Edema"])
    with pytest.raises(ValueError, match="0, 1 or NaN"):
        fit_temperature(z, y * 2)
    with pytest.raises(ValueError, match="unknown temperature mode"):
        fit_temperature(z, y, "platt")


def test_sigmoid_nll_leaves_unknown_labels_out_and_refuses_what_it_cannot_score():
    z = np.array([[2.0, -1.0], [0.5, 3.0]])
    y = np.array([[1.0, np.nan], [0.0, 1.0]])
    known = ~np.isnan(y)
    assert sigmoid_nll(z, y) == pytest.approx(sigmoid_nll(z[known], y[known]))  # NaN was returned before
    expected = np.mean([np.log1p(np.exp(-2.0)), np.log1p(np.exp(0.5)), np.log1p(np.exp(-3.0))])
    assert sigmoid_nll(z, y) == pytest.approx(expected)
    with pytest.raises(ValueError, match="no known label"):
        sigmoid_nll(z, np.full_like(y, np.nan))
    with pytest.raises(ValueError, match="0, 1 or NaN"):
        sigmoid_nll(z, np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="differ in shape"):
        sigmoid_nll(z, y[:1])
    with pytest.raises(ValueError, match="finite"):
        sigmoid_nll(np.array([np.inf, 0.0]), np.array([1.0, 0.0]))
