import pytest
import torch

from cxrlib.models import build_model
from cxrlib.saliency import map_statistics, saliency_maps
from cxrlib.saliency.losses import class_distinctiveness_loss


class Images(torch.utils.data.Dataset):
    def __init__(self, n):
        g = torch.Generator().manual_seed(0)
        self.x = torch.rand(n, 1, 32, 32, generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"image": self.x[i], "labels": torch.zeros(3)}


def test_map_statistics_average_per_image_what_the_loss_measures():
    torch.manual_seed(0)
    model = build_model("small-cnn", 3).eval()
    data = Images(10)
    stats = map_statistics(model, data, batch_size=4)
    with torch.no_grad():
        logits, features = model.forward_with_features(data.x)
    maps = saliency_maps(model, features, logits, "gradcam")
    per_image = [
        float(class_distinctiveness_loss(maps[i : i + 1].double(), features[i : i + 1].double())) for i in range(10)
    ]
    assert stats.class_distinctiveness == pytest.approx(sum(per_image) / 10, abs=1e-6)
    assert stats.map_mass == pytest.approx(float(maps.sum((2, 3)).mean()), rel=1e-5)
    assert stats.flat_share == pytest.approx(float((maps.sum((2, 3)) == 0).double().mean()))
    assert stats.n_images == 10


def test_map_statistics_counts_flat_maps_and_rejects_an_empty_dataset():
    model = build_model("small-cnn", 3).eval()
    with torch.no_grad():
        model.classifier.weight.fill_(-1.0)  # every Grad-CAM map negative → flat after the ReLU
    features_positive = map_statistics(model, Images(4))
    assert features_positive.flat_share == 1.0 and features_positive.map_mass == 0.0
    with pytest.raises(ValueError, match="empty"):
        map_statistics(model, Images(0))
