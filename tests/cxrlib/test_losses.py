import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cxrlib.losses import SaliencyRegularizedLoss, WeightedBCELoss, positive_weights, weighted_bce
from cxrlib.models import build_model


def test_weighted_bce_matches_torch_on_known_labels():
    torch.manual_seed(0)
    logits = torch.randn(8, 3)
    labels = torch.randint(0, 2, (8, 3)).float()
    w = torch.tensor([1.0, 3.0, 0.5])
    expected = F.binary_cross_entropy_with_logits(logits, labels, pos_weight=w)
    assert torch.allclose(weighted_bce(logits, labels, w), expected)
    labels[0, 1] = float("nan")
    known = ~torch.isnan(labels)
    manual = F.binary_cross_entropy_with_logits(logits, torch.nan_to_num(labels), pos_weight=w, reduction="none")[
        known
    ].mean()
    assert torch.allclose(weighted_bce(logits, labels, w), manual)


def test_positive_weights_and_error():
    y = np.array([[1, 0], [0, 0], [0, 1], [np.nan, 1]])
    assert torch.allclose(positive_weights(y), torch.tensor([2.0, 1.0]))  # 2 neg / 1 pos; 2 neg / 2 pos
    with pytest.raises(ValueError, match="no positive label"):
        positive_weights(np.zeros((4, 2)))


def test_saliency_regularized_loss_adds_term_and_backpropagates():
    torch.manual_seed(0)
    model = build_model("small-cnn", 3)
    x, y = torch.rand(4, 1, 64, 64), torch.randint(0, 2, (4, 3)).float()
    out = model.forward_with_features(x)
    base = WeightedBCELoss()
    combined = SaliencyRegularizedLoss(base, model, lambda_cd=2.0)(out, {"labels": y})
    assert torch.allclose(combined["loss"], combined["base"] + 2.0 * combined["class_distinctiveness"])
    combined["loss"].backward()
    assert model.encoder[0].weight.grad.abs().sum() > 0
