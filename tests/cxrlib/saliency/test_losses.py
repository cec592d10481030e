import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cxrlib.saliency import class_distinctiveness_loss, heatmap_outside_mask_loss, saliency_latents


def test_latents_pick_the_features_under_each_map():
    features = torch.zeros(1, 2, 4, 4)
    features[0, 0, :2] = 1.0  # channel 0 lives in the top half
    features[0, 1, 2:] = 1.0  # channel 1 in the bottom half
    maps = torch.zeros(1, 2, 4, 4)
    maps[0, 0, :2] = 1.0
    maps[0, 1, 2:] = 1.0
    z = saliency_latents(maps, features)
    assert torch.allclose(z[0, 0], torch.tensor([1.0, 0.0]), atol=1e-5)
    assert torch.allclose(z[0, 1], torch.tensor([0.0, 1.0]), atol=1e-5)
    assert class_distinctiveness_loss(maps, features).item() < 1e-5  # orthogonal latents
    same = maps[:, :1].repeat(1, 2, 1, 1)
    assert abs(class_distinctiveness_loss(same, features).item() - 1.0) < 1e-5  # identical latents


def test_class_distinctiveness_is_mean_pairwise_cosine():
    torch.manual_seed(0)
    maps, features = torch.rand(3, 4, 5, 5), torch.rand(3, 6, 5, 5)
    z = saliency_latents(maps, features)
    expected = torch.stack(
        [F.cosine_similarity(z[:, i], z[:, j], dim=-1) for i in range(4) for j in range(i + 1, 4)]
    ).mean()
    assert torch.allclose(class_distinctiveness_loss(maps, features), expected, atol=1e-6)


def test_heatmap_outside_mask_loss():
    maps = torch.zeros(1, 1, 4, 4)
    maps[0, 0, 0, 0] = 1.0
    inside = torch.zeros(1, 8, 8, dtype=torch.bool)
    inside[0, :4, :4] = True
    assert heatmap_outside_mask_loss(maps, inside).item() < 1e-6
    assert abs(heatmap_outside_mask_loss(maps, ~inside).item() - 1.0) < 1e-6


def test_class_distinctiveness_does_not_depend_on_class_order():
    torch.manual_seed(1)
    maps, features = torch.rand(2, 5, 6, 6), torch.rand(2, 7, 6, 6)
    order = torch.tensor([3, 0, 4, 2, 1])
    assert torch.allclose(
        class_distinctiveness_loss(maps, features), class_distinctiveness_loss(maps[:, order], features)
    )


def test_the_maps_reading_of_class_distinctiveness_is_the_cosine_between_the_maps():
    from sklearn.metrics.pairwise import cosine_similarity

    g = torch.Generator().manual_seed(0)
    maps = torch.rand(3, 4, 5, 5, generator=g, dtype=torch.float64)
    features = torch.rand(3, 6, 5, 5, generator=g, dtype=torch.float64)
    expected = []
    for b in range(3):  # scikit-learn's cosine between the flattened maps, mean over the class pairs
        sim = cosine_similarity(maps[b].flatten(1).numpy())
        expected.append(sim[np.triu_indices(4, 1)].mean())
    got = class_distinctiveness_loss(maps, features, "maps")
    assert got.item() == pytest.approx(float(np.mean(expected)), rel=1e-9)
    disjoint = torch.zeros(1, 2, 4, 4, dtype=torch.float64)
    disjoint[0, 0, :2], disjoint[0, 1, 2:] = 1.0, 1.0
    assert class_distinctiveness_loss(disjoint, features[:1, :, :4, :4], "maps").item() == pytest.approx(0.0)
    off = torch.zeros(1, 3, 4, 4, dtype=torch.float64)  # switched off: uniform, identical, the maximum
    assert class_distinctiveness_loss(off, features[:1, :, :4, :4], "maps").item() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        class_distinctiveness_loss(maps, features, "pixels")
