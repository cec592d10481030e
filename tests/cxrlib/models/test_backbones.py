import pytest
import torch

from cxrlib.models import Backbone, build_model


@pytest.mark.parametrize(
    "name, stride", [("small-cnn", 16), ("densenet121", 32), ("resnet50", 32), ("resnet101", 32), ("vgg19", 16)]
)
def test_every_backbone_gives_logits_and_feature_map(name, stride):
    torch.manual_seed(0)
    model = build_model(name, num_classes=5).eval()
    x = torch.rand(2, 1, 64, 64)
    out = model.forward_with_features(x)
    assert out.logits.shape == (2, 5)
    assert out.features.shape[:2] == (2, model.classifier.in_features)
    assert out.features.shape[-1] == 64 // stride
    assert (out.features >= 0).all()  # the feature map is post-ReLU (CAM-ready)
    assert torch.allclose(model(x), out.logits)
    assert torch.allclose(model.head(out.features), out.logits)


def test_max_pooling_head_and_errors():
    model = build_model("small-cnn", 3, pooling="max")
    f = torch.rand(2, model.classifier.in_features, 4, 4)
    expected = model.classifier(f.amax((2, 3)))
    assert torch.allclose(model.head(f), expected)
    with pytest.raises(ValueError, match="unknown backbone 'alexnet'"):
        build_model("alexnet", 3)
    with pytest.raises(ValueError, match="num_classes"):
        build_model("small-cnn", 0)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        model(torch.rand(1, 64, 64))
    assert {b.value for b in Backbone} == {"densenet121", "resnet50", "resnet101", "vgg19", "small-cnn", "vilter-cnn"}


def test_every_backbone_meets_the_map_model_protocol_and_others_are_refused():
    from cxrlib.models import MapModel
    from cxrlib.saliency import compute_saliency
    from cxrlib.train import TrainConfig, fit, predict

    assert isinstance(build_model("small-cnn", 3), MapModel)
    plain = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    assert not isinstance(plain, MapModel)
    for call in (
        lambda: fit(plain, [], None, lambda o, b: 0, TrainConfig(progress=False)),
        lambda: predict(plain, []),
        lambda: compute_saliency(plain, torch.rand(1, 1, 8, 8)),
    ):
        with pytest.raises(TypeError, match="MapModel"):
            call()


@pytest.mark.parametrize(
    "name, strides",
    [("small-cnn", (16, 8)), ("densenet121", (32, 16, 8)), ("resnet50", (32, 16, 8)), ("vgg19", (16, 8))],
)
def test_output_stride_gives_finer_maps_with_the_same_weights(name, strides):
    x = torch.rand(1, 1, 64, 64)
    shapes = {}
    for stride in strides:
        torch.manual_seed(0)
        model = build_model(name, 3, output_stride=stride).eval()
        shapes[stride] = tuple(model.forward_with_features(x).features.shape[-2:])
        assert shapes[stride] == (64 // stride, 64 // stride)
    coarse, fine = build_model(name, 3, output_stride=strides[0]), build_model(name, 3, output_stride=strides[-1])
    assert [p.shape for p in coarse.parameters()] == [p.shape for p in fine.parameters()]
    with pytest.raises(ValueError, match="output_stride 64"):
        build_model(name, 3, output_stride=64)


def test_vilter_cnn_is_the_seeds_four_layer_cnn_with_dropout_and_a_cam_ready_head():
    from cxrlib.models import MapModel, VilterCNN
    from cxrlib.saliency import compute_saliency

    torch.manual_seed(0)
    model = build_model("vilter-cnn", 7)
    convs = [m for m in model.encoder if isinstance(m, torch.nn.Conv2d)]
    assert isinstance(model.encoder, VilterCNN) and len(convs) == 4
    assert sum(isinstance(m, torch.nn.ReLU) for m in model.encoder) == 4
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert isinstance(model.dropout, torch.nn.Dropout) and model.dropout.p == 0.2
    assert isinstance(model, MapModel)
    x = torch.rand(2, 1, 64, 64)
    model.eval()
    out = model.forward_with_features(x)
    assert out.features.shape == (2, 128, 8, 8) and (out.features >= 0).all()
    logits, maps = compute_saliency(model, x, "cam")
    assert maps.shape == (2, 7, 8, 8) and torch.allclose(logits, out.logits)
    assert isinstance(build_model("vilter-cnn", 7, dropout=0.0).dropout, torch.nn.Identity)
    assert isinstance(build_model("small-cnn", 2).dropout, torch.nn.Identity)  # other backbones keep no dropout
    with pytest.raises(ValueError, match="no pretrained"):
        build_model("vilter-cnn", 7, pretrained=True)
    with pytest.raises(ValueError, match="dropout"):
        build_model("vilter-cnn", 7, dropout=1.0)
    with pytest.raises(ValueError, match="4 convolutional layers"):
        VilterCNN(widths=(8, 16))
