"""Our batched maps against pytorch-grad-cam on the same models and targets."""

import numpy as np
import pytest
import torch
from pytorch_grad_cam import GradCAM, HiResCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from cxrlib.models import build_model
from cxrlib.saliency import compute_saliency, display_maps, saliency_maps

REFERENCE = {"gradcam": GradCAM, "hirescam": HiResCAM}


def _trained_like(name, pooling="avg"):
    torch.manual_seed(1)
    model = build_model(name, 4, pooling=pooling).eval()
    with torch.no_grad():  # make class maps non-trivial (some positive mass for every class)
        model.classifier.weight.normal_(0, 1)
    return model


def _reference_raw(cam, model, x, c):
    """pytorch-grad-cam's map before its ReLU / rescaling, and its final (B, H, W) output."""
    final = cam(x, targets=[ClassifierOutputTarget(c)] * len(x))
    acts = cam.activations_and_grads.activations[0].numpy()
    grads = cam.activations_and_grads.gradients[0].numpy()
    raw = cam.get_cam_image(x, model.feature_layer, None, acts, grads, False)
    return raw, final


@pytest.mark.parametrize("name", ["small-cnn", "densenet121", "resnet50", "vgg19"])
@pytest.mark.parametrize("method", ["gradcam", "hirescam"])
def test_maps_equal_pytorch_grad_cam(name, method):
    model = _trained_like(name)
    x = torch.rand(3, 1, 64, 64)
    logits, features = model.forward_with_features(x)
    ours_raw = saliency_maps(model, features, logits, method, relu=False).detach()
    ours = saliency_maps(model, features, logits, method).detach()
    # pytorch-grad-cam's output = minmax(resize(minmax(relu(raw)))), resized with cv2 bilinear
    ours_final = display_maps(ours, (64, 64))
    with REFERENCE[method](model, [model.feature_layer]) as cam:
        for c in range(4):
            raw, final = _reference_raw(cam, model, x, c)
            assert np.allclose(ours_raw[:, c].numpy(), raw, rtol=1e-4, atol=1e-6)
            assert np.allclose(ours_final[:, c].numpy(), final, atol=1e-4)


@pytest.mark.parametrize("method", ["gradcam", "hirescam"])
def test_autograd_path_matches_reference_for_max_pooling(method):
    model = _trained_like("small-cnn", pooling="max")
    x = torch.rand(2, 1, 64, 64)
    logits, features = model.forward_with_features(x)
    ours = saliency_maps(model, features, logits, method, relu=False).detach()
    with REFERENCE[method](model, [model.feature_layer]) as cam:
        for c in range(4):
            raw, _ = _reference_raw(cam, model, x, c)
            assert np.allclose(ours[:, c].numpy(), raw, rtol=1e-4, atol=1e-7)


def test_closed_form_equals_autograd_and_cam_relation():
    model = _trained_like("small-cnn")
    x = torch.rand(2, 1, 64, 64)
    logits, features = model.forward_with_features(x)
    closed = saliency_maps(model, features, logits, "gradcam", relu=False)
    grads = [torch.autograd.grad(logits[:, c].sum(), features, retain_graph=True)[0] for c in range(4)]
    auto = torch.stack([(g.mean((2, 3), keepdim=True) * features).sum(1) for g in grads], 1)
    assert torch.allclose(closed, auto, atol=1e-6)
    cam = saliency_maps(model, features, method="cam", relu=False)
    assert torch.allclose(cam / (features.shape[-1] * features.shape[-2]), closed, atol=1e-6)


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_gradients_reach_parameters_through_a_loss_on_maps(pooling):
    model = _trained_like("small-cnn", pooling=pooling).train()
    x = torch.rand(2, 1, 64, 64)
    logits, features = model.forward_with_features(x)
    maps = saliency_maps(model, features, logits, "gradcam", create_graph=True)
    assert maps.shape == (2, 4, 4, 4)
    maps.pow(2).mean().backward()
    first_conv = model.encoder[0].weight.grad
    assert model.classifier.weight.grad is not None and model.classifier.weight.grad.abs().sum() > 0
    assert first_conv is not None and first_conv.abs().sum() > 0


def test_compute_saliency_detaches_by_default():
    model = _trained_like("small-cnn")
    logits, maps = compute_saliency(model, torch.rand(2, 1, 64, 64))
    assert not maps.requires_grad and maps.shape == (2, 4, 4, 4) and (maps >= 0).all()
