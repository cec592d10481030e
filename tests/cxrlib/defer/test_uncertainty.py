import numpy as np
import pytest
import scipy.special
import torch

from cxrlib.defer import laplace_probabilities, mc_dropout_probabilities
from cxrlib.models import build_model
from cxrlib.train import predict


@pytest.fixture(scope="module")
def model(synth):
    torch.manual_seed(0)
    return build_model("small-cnn", len(synth.classes), dropout=0.3)


def test_mc_dropout_is_reproducible_and_averages_around_the_prediction(synth, model):
    part = synth.take(np.arange(24))
    a = mc_dropout_probabilities(model, part, samples=50, seed=1, batch_size=10)
    b = mc_dropout_probabilities(model, part, samples=50, seed=1, batch_size=10)
    c = mc_dropout_probabilities(model, part, samples=50, seed=2, batch_size=10)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (24, len(synth.classes)) and not np.array_equal(a, c)
    plain = scipy.special.expit(predict(model, part).logits)
    assert np.abs(a - plain).max() < 0.1 and np.abs(a - plain).max() > 0  # sampled, yet near the point estimate
    assert not model.training


def test_mc_dropout_needs_dropout(synth):
    with pytest.raises(ValueError, match="dropout > 0"):
        mc_dropout_probabilities(build_model("small-cnn", len(synth.classes)), synth.take(np.arange(2)))


def test_laplace_probabilities(synth, model):
    q = laplace_probabilities(model, synth.take(np.arange(60)), synth.take(np.arange(60, 80)))
    assert q.shape == (20, len(synth.classes)) and ((q > 0) & (q < 1)).all()
    # the probit predictive pulls the probabilities towards 0.5, never across it
    p = scipy.special.expit(predict(model, synth.take(np.arange(60, 80))).logits)
    assert (np.sign(q - 0.5) == np.sign(p - 0.5)).all() and (np.abs(q - 0.5) <= np.abs(p - 0.5) + 1e-6).all()
