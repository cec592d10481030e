"""Grad-CAM on a named layer of any model against pytorch-grad-cam, and the model's own maps."""

import numpy as np
import pytest
import torch
import torchvision
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from cxrlib.models import build_model
from cxrlib.report import ChannelAdapter, class_maps, layer_gradcam


def _resnet():
    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=3).eval()


def test_layer_gradcam_equals_pytorch_grad_cam_on_a_3_channel_torchvision_model():
    model = _resnet()
    x = torch.rand(2, 1, 64, 64)
    logits, ours = layer_gradcam(model, x, "layer4", in_channels=3)
    adapted = ChannelAdapter(model, 3)
    assert torch.allclose(logits, adapted(x), atol=1e-5)
    with GradCAM(adapted, [model.layer4]) as cam:
        for c in range(3):
            cam(x, targets=[ClassifierOutputTarget(c)] * len(x))
            acts = cam.activations_and_grads.activations[0].numpy()
            grads = cam.activations_and_grads.gradients[0].numpy()
            raw = cam.get_cam_image(x, model.layer4, None, acts, grads, False)
            assert np.allclose(ours[:, c].numpy(), np.maximum(raw, 0), rtol=1e-4, atol=1e-6)


def test_a_missing_layer_or_a_model_without_maps_is_named():
    model = _resnet()
    with pytest.raises(ValueError, match="has no layer 'layer9'.*layer4"):
        layer_gradcam(model, torch.rand(1, 1, 32, 32), "layer9", 3)
    with pytest.raises(ValueError, match="name a layer"):
        class_maps(model, torch.rand(1, 1, 32, 32), None, 3)
    with pytest.raises(ValueError, match=r"one \(B, C, h, w\) map"):
        layer_gradcam(model, torch.rand(1, 1, 32, 32), "fc", 3)


def test_cxrlib_models_give_their_own_maps():
    torch.manual_seed(0)
    pylon = build_model("pylon", 2, encoder="resnet18").eval()
    maps, how = class_maps(pylon, torch.rand(2, 1, 64, 64))
    assert maps.shape == (2, 2, 16, 16) and "own class maps" in how
    small = build_model("small-cnn", 2).eval()
    maps, how = class_maps(small, torch.rand(2, 1, 64, 64))
    assert maps.ndim == 4 and "CAM" in how
