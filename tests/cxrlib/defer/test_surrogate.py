import math

import numpy as np
import pytest
import torch

from cxrlib.defer import (
    DeferralSurrogateLoss,
    build_deferral_net,
    deferral_surrogate_loss,
    surrogate_probabilities,
    surrogate_rule,
    with_clinician,
)
from cxrlib.models import require_map_model
from cxrlib.train import TrainConfig, fit, predict


def test_surrogate_loss_against_a_hand_computation():
    z = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 2.0, 0.5]]])  # one image, two classes
    labels = torch.tensor([[1.0, 0.0]])
    # class 0: uniform softmax, the clinician agrees: -log(1/3) - log(1/3); class 1: y = 0, the clinician disagrees
    log_g1 = z[0, 1] - torch.logsumexp(z[0, 1], 0)
    expected = (2 * math.log(3) - float(log_g1[0])) / 2
    got = deferral_surrogate_loss(z, labels, torch.tensor([[1.0, 1.0]]))
    assert float(got) == pytest.approx(expected, rel=1e-6)
    # an unknown label counts nowhere; a missing clinician answer earns the deferral output nothing
    unknown = deferral_surrogate_loss(z, torch.tensor([[1.0, float("nan")]]), torch.tensor([[1.0, 0.0]]))
    assert float(unknown) == pytest.approx(2 * math.log(3), rel=1e-6)
    no_answer = deferral_surrogate_loss(z, labels, torch.tensor([[float("nan"), 1.0]]))
    assert float(no_answer) == pytest.approx((math.log(3) - float(log_g1[0])) / 2, rel=1e-6)


def test_the_loss_is_minimised_by_the_consistent_softmax():
    """Expected L_CE over y ~ Bernoulli(eta) and a clinician right with probability r is minimised by
    g = (1 - eta, eta, r) / (1 + r) (Mozannar and Sontag 2020)."""
    eta, r = 0.3, 0.8
    z = torch.zeros(1, 1, 3, requires_grad=True)
    opt = torch.optim.Adam([z], lr=0.05)
    outcomes = [
        (1.0, 1.0, eta * r),
        (1.0, 0.0, eta * (1 - r)),
        (0.0, 0.0, (1 - eta) * r),
        (0.0, 1.0, (1 - eta) * (1 - r)),
    ]
    for _ in range(3000):
        loss = sum(w * deferral_surrogate_loss(z, torch.tensor([[y]]), torch.tensor([[m]])) for y, m, w in outcomes)
        opt.zero_grad()
        loss.backward()
        opt.step()
    g = torch.softmax(z.detach(), 2).numpy()
    np.testing.assert_allclose(g[0, 0], np.array([1 - eta, eta, r]) / (1 + r), atol=2e-3)
    rule = surrogate_rule(g)
    assert rule.deferral_score[0, 0] == pytest.approx(eta - (1 - r), abs=5e-3)  # P(model wrong) - P(clinician wrong)


def test_deferral_net_trains_with_fit_and_gives_three_way_probabilities(synth):
    part = synth.take(np.arange(48))
    clinician = np.nan_to_num(part.labels)
    torch.manual_seed(0)
    net = build_deferral_net("small-cnn", len(synth.classes), dropout=0.2, output_stride=8)
    require_map_model(net, "test")
    assert net.num_classes == len(synth.classes)
    data = with_clinician(part, clinician)
    result = fit(net, data, data, DeferralSurrogateLoss(net), TrainConfig(epochs=1, batch_size=16, progress=False))
    assert np.isfinite(result.history["val_loss"]).all() and "val_auroc" in result.history
    g = surrogate_probabilities(net, part)
    assert g.shape == (48, len(synth.classes), 3) and np.allclose(g.sum(2), 1)
    pred = predict(net, part, saliency="gradcam")  # its maps, as any K-class model's
    assert pred.logits.shape == (48, len(synth.classes)) and pred.maps.shape[:2] == (48, len(synth.classes))
    np.testing.assert_allclose(pred.logits, surrogate_rule(g).scores, atol=1e-4)
    with pytest.raises(ValueError, match="with_clinician"):
        DeferralSurrogateLoss(net)(
            net.forward_with_features(part[0]["image"][None]), {"labels": part[0]["labels"][None]}
        )
