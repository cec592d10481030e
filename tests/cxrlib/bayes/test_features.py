import pytest
import torch

from cxrlib.bayes import last_linear_layer, penultimate_features
from cxrlib.models import build_model

from .conftest import Images


def test_features_reproduce_the_logits_and_keep_the_labels():
    torch.manual_seed(0)
    model = build_model("vilter-cnn", 3)
    model.train()
    data = Images(20)
    feats = penultimate_features(model, data, batch_size=8)
    assert feats.features.shape == (20, 128) and feats.labels.shape == (20, 3) and len(feats) == 20
    assert torch.equal(feats.labels, data.y) and feats.seconds > 0
    assert model.training  # the mode is restored
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model.classifier(feats.features), model(data.x), atol=1e-5)


def test_features_need_a_linear_last_layer_and_data():
    model = build_model("vilter-cnn", 3)
    assert last_linear_layer(model) is model.classifier
    with pytest.raises(ValueError, match="no layer 'fc'"):
        penultimate_features(model, Images(4), last_layer_name="fc")
    with pytest.raises(ValueError, match="linear last layer"):
        last_linear_layer(model, "encoder")
    with pytest.raises(ValueError, match="empty"):
        penultimate_features(model, Images(0))
