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


def _heatmap_batch(k=3, b=4, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.nn.functional.one_hot(torch.randint(0, k, (b,), generator=g), k).float()
    allowed = torch.zeros(b, size, size, dtype=torch.bool)
    allowed[:, 8:24, 8:24] = True
    return {"image": torch.rand(b, 1, size, size, generator=g), "labels": labels, "allowed_mask": allowed}


@pytest.mark.parametrize("classification", ["ce", "mse"])
@pytest.mark.parametrize("form", ["raw", "fraction"])
def test_heatmap_mask_loss_against_its_parts(classification, form):
    import torch.nn.functional as F

    from cxrlib.losses import HeatmapMaskLoss
    from cxrlib.maps import upsample_maps
    from cxrlib.metrics import heatmap_mass_in_mask
    from cxrlib.saliency import saliency_maps

    torch.manual_seed(0)
    model = build_model("small-cnn", 3).eval()
    batch = _heatmap_batch()
    out = model.forward_with_features(batch["image"])
    terms = HeatmapMaskLoss(model, weight=0.7, classification=classification, form=form)(out, batch)
    index = batch["labels"].argmax(1)
    if classification == "ce":
        expected_cls = F.cross_entropy(out.logits, index)
    else:
        expected_cls = ((out.logits.softmax(1) - batch["labels"]) ** 2).mean()
    maps = saliency_maps(model, out.features, out.logits, "hirescam")[torch.arange(4), index]
    if form == "fraction":
        expected_heat = (1 - heatmap_mass_in_mask(maps, batch["allowed_mask"])).mean()
    else:
        expected_heat = (upsample_maps(maps, (32, 32)).clamp_min(0) * ~batch["allowed_mask"]).sum((1, 2)).mean()
    assert torch.allclose(terms["classification"], expected_cls.detach(), atol=1e-6)
    assert torch.allclose(terms["heatmap_outside"], expected_heat.detach(), rtol=1e-5, atol=1e-7)
    assert torch.allclose(terms["loss"], expected_cls + 0.7 * expected_heat, rtol=1e-5)


def test_heatmap_mask_loss_reaches_the_encoder_through_a_max_pooled_head():
    from cxrlib.losses import HeatmapMaskLoss

    torch.manual_seed(0)
    model = build_model("small-cnn", 3, pooling="max")  # no closed form: HiResCAM by autograd
    batch = _heatmap_batch()
    out = model.forward_with_features(batch["image"])
    terms = HeatmapMaskLoss(model, weight=1.0, classification="ce", form="fraction")(out, batch)
    terms["loss"].backward()
    assert torch.isfinite(terms["heatmap_outside"]) and model.encoder[0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="target"):
        HeatmapMaskLoss(model, target="both")


def test_heatmap_mask_loss_multi_label_penalises_the_maps_of_positive_classes_only():
    from cxrlib.losses import HeatmapMaskLoss, weighted_bce
    from cxrlib.metrics import heatmap_mass_in_mask
    from cxrlib.saliency import saliency_maps

    torch.manual_seed(0)
    model = build_model("small-cnn", 3).eval()
    batch = _heatmap_batch()
    batch["labels"] = torch.tensor([[1.0, 0, 1], [0, 0, 0], [float("nan"), 1, 0], [0, 0, 0]])
    out = model.forward_with_features(batch["image"])
    pw = torch.tensor([1.0, 2.0, 3.0])
    terms = HeatmapMaskLoss(model, weight=0.5, classification="bce", form="fraction", pos_weight=pw)(out, batch)
    maps = saliency_maps(model, out.features, out.logits, "hirescam")
    pairs = [(0, 0), (0, 2), (2, 1)]  # the NaN label of image 2 is not a positive
    outside = [1 - heatmap_mass_in_mask(maps[b, k], batch["allowed_mask"][b]) for b, k in pairs]
    expected = torch.stack(outside).mean()
    assert torch.allclose(terms["heatmap_outside"], expected.detach(), atol=1e-6)
    assert torch.allclose(terms["classification"], weighted_bce(out.logits, batch["labels"], pw).detach())
    none_positive = dict(batch, labels=torch.zeros(4, 3))
    assert HeatmapMaskLoss(model, classification="bce")(out, none_positive)["heatmap_outside"] == 0


def test_saliency_regularized_loss_adds_spatial_coherence_when_asked():
    from cxrlib.losses import SaliencyRegularizedLoss, WeightedBCELoss
    from cxrlib.saliency import spatial_coherence_loss

    torch.manual_seed(0)
    model = build_model("small-cnn", 3)
    batch = {"image": torch.rand(2, 1, 64, 64), "labels": torch.ones(2, 3)}
    out = model.forward_with_features(batch["image"])
    plain = SaliencyRegularizedLoss(WeightedBCELoss(), model, lambda_cd=1.0)(out, batch)
    both = SaliencyRegularizedLoss(WeightedBCELoss(), model, lambda_cd=1.0, lambda_sc=0.5)(out, batch)
    assert "spatial_coherence" not in plain
    assert torch.allclose(both["loss"], plain["loss"] + 0.5 * both["spatial_coherence"])
    from cxrlib.saliency import saliency_maps

    maps = saliency_maps(model, out.features, out.logits, "gradcam")
    assert torch.allclose(both["spatial_coherence"], spatial_coherence_loss(maps.float()).detach())


def test_losses_on_maps_validate_with_gradients_only_on_the_autograd_path():
    from cxrlib.losses import HeatmapMaskLoss, SaliencyRegularizedLoss, WeightedBCELoss

    linear, max_pooled = build_model("small-cnn", 3), build_model("small-cnn", 3, pooling="max")
    assert not SaliencyRegularizedLoss(WeightedBCELoss(), linear).needs_grad
    assert SaliencyRegularizedLoss(WeightedBCELoss(), max_pooled).needs_grad
    assert not HeatmapMaskLoss(linear).needs_grad and HeatmapMaskLoss(max_pooled).needs_grad
    assert not HeatmapMaskLoss(max_pooled, method="cam").needs_grad


# ---------------------------------------------------------------------------------------------
# Focal loss
# ---------------------------------------------------------------------------------------------
def test_focal_loss_with_gamma_zero_and_no_alpha_is_the_plain_bce():
    from cxrlib.losses import FocalLoss
    from cxrlib.models import ModelOutput

    torch.manual_seed(1)
    logits, labels = torch.randn(16, 5) * 3, torch.randint(0, 2, (16, 5)).float()
    labels[2, 1] = labels[7, 4] = float("nan")
    out = FocalLoss(gamma=0, alpha=None)(ModelOutput(logits, None), {"labels": labels})
    assert torch.allclose(out, weighted_bce(logits, labels), atol=1e-6)


@pytest.mark.parametrize("alpha", [None, 0.25, 0.8])
@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_focal_loss_matches_torchvision_on_known_labels(alpha, gamma):
    from torchvision.ops import sigmoid_focal_loss

    from cxrlib.losses import focal_loss

    torch.manual_seed(2)
    logits, labels = torch.randn(32, 5) * 2, torch.randint(0, 2, (32, 5)).float()
    ref = sigmoid_focal_loss(logits, labels, alpha=-1 if alpha is None else alpha, gamma=gamma, reduction="mean")
    assert torch.allclose(focal_loss(logits, labels, gamma, alpha), ref, atol=1e-6)


def test_focal_loss_masks_unknown_labels_and_takes_per_class_alpha():
    from torchvision.ops import sigmoid_focal_loss

    from cxrlib.losses import focal_loss

    torch.manual_seed(3)
    logits, labels = torch.randn(20, 3), torch.randint(0, 2, (20, 3)).float()
    labels[:5, 0] = float("nan")
    known = ~torch.isnan(labels)
    ref = sigmoid_focal_loss(logits, torch.nan_to_num(labels), alpha=-1, reduction="none")[known].mean()
    assert torch.allclose(focal_loss(logits, labels), ref, atol=1e-6)
    # a NaN label changes nothing whatever its logit
    moved = logits.clone()
    moved[:5, 0] = 50.0
    assert torch.allclose(focal_loss(moved, labels), focal_loss(logits, labels))
    # per-class alpha: column k weighted as a scalar alpha would weight it alone
    alpha = torch.tensor([0.2, 0.5, 0.9])
    full = torch.randint(0, 2, (20, 3)).float()
    per = sum(focal_loss(logits[:, [k]], full[:, [k]], 2.0, float(alpha[k])) for k in range(3)) / 3
    assert torch.allclose(focal_loss(logits, full, 2.0, alpha), per, atol=1e-6)
    # the gradient flows and is finite
    z = logits.clone().requires_grad_(True)
    focal_loss(z, labels, 2.0, 0.25).backward()
    assert torch.isfinite(z.grad).all() and (z.grad[:5, 0] == 0).all()


def test_focal_loss_rejects_bad_parameters():
    from cxrlib.losses import FocalLoss, focal_loss

    with pytest.raises(ValueError, match="gamma"):
        FocalLoss(gamma=-1)
    with pytest.raises(ValueError, match="alpha"):
        FocalLoss(alpha=1.5)
    with pytest.raises(ValueError, match="differ in shape"):
        focal_loss(torch.zeros(4, 3), torch.zeros(4, 2))


def test_softmax_cross_entropy_takes_one_hot_or_indices_and_refuses_multi_label():
    from cxrlib.losses import SoftmaxCrossEntropyLoss, class_indices, softmax_cross_entropy
    from cxrlib.models import ModelOutput

    torch.manual_seed(0)
    logits = torch.randn(6, 4)
    index = torch.tensor([0, 3, 1, 1, 2, 0])
    onehot = F.one_hot(index, 4).float()
    expected = F.cross_entropy(logits, index)
    assert torch.allclose(softmax_cross_entropy(logits, onehot), expected)
    assert torch.allclose(softmax_cross_entropy(logits, index), expected)
    w = torch.tensor([1.0, 2.0, 0.5, 1.0])
    assert torch.allclose(
        softmax_cross_entropy(logits, onehot, w, 0.1), F.cross_entropy(logits, index, w, label_smoothing=0.1)
    )
    out = ModelOutput(logits, torch.zeros(6, 2, 1, 1))
    assert torch.allclose(SoftmaxCrossEntropyLoss()(out, {"labels": onehot}), expected)
    assert torch.equal(class_indices(onehot), index)
    for bad in (onehot.clone().index_fill_(0, torch.tensor([2]), 0.0), onehot + F.one_hot(torch.tensor([1] * 6), 4)):
        with pytest.raises(ValueError, match="one-hot"):
            softmax_cross_entropy(logits, bad)
    nan = onehot.clone()
    nan[1, 0] = float("nan")
    with pytest.raises(ValueError, match="row 1"):
        softmax_cross_entropy(logits, nan)
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        softmax_cross_entropy(logits, torch.tensor([0, 1, 2, 3, 4, 0]))
    with pytest.raises(ValueError, match="label_smoothing"):
        SoftmaxCrossEntropyLoss(label_smoothing=1.0)
