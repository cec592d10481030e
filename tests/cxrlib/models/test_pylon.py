import pytest
import torch

from cxrlib.models import MAP_ARCHITECTURES, MapClassifier, MapModel, build_model, build_pylon
from cxrlib.models.pylon import PyramidAttention, UpModule, mil_pool_logits
from cxrlib.saliency import compute_saliency, saliency_maps

ENC = "resnet18"


@pytest.fixture(scope="module")
def pylon():
    torch.manual_seed(0)
    return build_model("pylon", 3, encoder=ENC).eval()


@pytest.mark.parametrize("size", [64, 96, 128])
def test_pylon_map_is_a_quarter_of_the_input_and_logits_are_its_max(pylon, size):
    x = torch.rand(2, 1, size, size)
    out = pylon.forward_with_features(x)
    maps = pylon.class_maps(out.features)
    assert maps.shape == (2, 3, size // 4, size // 4)
    assert torch.allclose(out.logits, maps.amax((2, 3)))
    assert torch.allclose(pylon(x), out.logits)
    assert torch.allclose(pylon.head(out.features), out.logits)
    assert isinstance(pylon, MapModel) and pylon.feature_layer is pylon.decoder


@pytest.mark.parametrize(
    "name, stride",
    [("gmp", 32), ("li2018", 256 / 20), ("unet", 1), ("fpn", 4), ("deeplabv3plus", 4), ("pylon", 4)],
)
def test_every_baseline_has_its_native_stride_and_max_pooled_logits(name, stride):
    torch.manual_seed(0)
    model = build_model(name, 2, encoder=ENC).eval()
    assert isinstance(model, MapClassifier)
    assert model.map_stride(256) == pytest.approx(stride, rel=0.05)
    x = torch.rand(1, 1, 64, 64)
    logits, features = model.forward_with_features(x)
    maps = model.class_maps(features)
    if name == "li2018":  # multi-instance pooling: P = 1 - prod(0.02 (1 - p) + 0.98), as logits
        p = torch.sigmoid(maps.double()).flatten(2)
        prob = 1 - (0.02 * (1 - p) + 0.98).prod(-1)
        assert torch.allclose(logits.double(), torch.log(prob / (1 - prob)), atol=1e-4)
    else:
        assert torch.allclose(logits, maps.amax((2, 3)))


def test_pan_at_its_thesis_size():
    model = build_model("pan", 2, encoder=ENC).eval()
    assert model.map_stride(256) == 4
    assert set(MAP_ARCHITECTURES) == {"pylon", "gmp", "li2018", "unet", "fpn", "deeplabv3plus", "pan"}


def test_fpn_uses_batchnorm_not_groupnorm():
    model = build_model("fpn", 2, encoder=ENC)
    assert not any(isinstance(m, torch.nn.GroupNorm) for m in model.modules())


def test_cam_is_the_head_output_and_gradcam_goes_through_autograd(pylon):
    x = torch.rand(2, 1, 64, 64)
    logits, features = pylon.forward_with_features(x)
    cam = saliency_maps(pylon, features, method="cam", relu=False)
    assert torch.allclose(cam, pylon.class_maps(features))
    logits_c, maps = compute_saliency(pylon, x, "cam")
    assert torch.allclose(maps, cam.clamp_min(0)) and torch.allclose(logits_c, logits)
    _, grad_maps = compute_saliency(pylon, x, "gradcam")
    assert grad_maps.shape == (2, 3, 16, 16) and (grad_maps >= 0).all()
    # the 1×1 head is linear in the features: HiResCAM of a map's own argmax equals the head weights there
    _, hires = compute_saliency(pylon, x, "hirescam")
    assert hires.shape == grad_maps.shape


def test_mil_pooling_is_stable_and_monotone():
    maps = torch.full((1, 1, 20, 20), -30.0)
    low = mil_pool_logits(maps)
    maps[0, 0, 3, 4] = 5.0
    high = mil_pool_logits(maps)
    assert torch.isfinite(low).all() and torch.isfinite(high).all() and high > low


def test_ablation_switches_change_what_they_claim():
    torch.manual_seed(0)
    plain = build_pylon(2, ENC)
    assert not any(isinstance(m, torch.nn.AdaptiveAvgPool2d) for m in plain.modules())
    no_pyr = build_pylon(2, ENC, pyramid=False)
    assert not hasattr(no_pyr.decoder.pa, "down1")
    one = build_pylon(2, ENC, up_layers=1)
    assert all(isinstance(up.conv[0], torch.nn.Conv2d) for up in one.decoder.ups)
    k3 = build_pylon(2, ENC, up_kernel=3, head_kernel=3)
    assert all(m.kernel_size == (3, 3) for up in k3.decoder.ups for m in up.modules() if isinstance(m, torch.nn.Conv2d))
    assert k3.classifier.kernel_size == (3, 3)
    assert build_pylon(2, ENC, n_up=1).map_stride(64) == 16
    # the reference's UP keeps the skip's width in its first convolution; light_up narrows it at once
    skips = [up.conv[0][0] for up in plain.decoder.ups]
    assert [c.out_channels for c in skips] == [c.in_channels for c in skips]
    light = build_pylon(2, ENC, light_up=True)
    assert [up.conv[0][0].out_channels for up in light.decoder.ups] == [128] * 3
    assert sum(p.numel() for p in light.parameters()) < sum(p.numel() for p in plain.parameters())
    assert light.eval()(torch.rand(1, 1, 64, 64)).shape == (1, 2)


def test_gap_switches_make_the_map_depend_on_the_whole_image():
    """With "+GAP" a change far from a position moves that position's decoded value through the global
    average; without it PA and UP see only a local neighbourhood (PA: the pyramid's receptive field)."""
    torch.manual_seed(0)
    x = torch.rand(1, 8, 8, 8)
    x2 = x.clone()
    x2[..., 7, 7] += 5.0  # a change in one corner
    pa, pa_gap = PyramidAttention(8, 4, pyramid=False).eval(), PyramidAttention(8, 4, pyramid=False, gap=True).eval()
    assert torch.allclose(pa(x)[..., 0, 0], pa(x2)[..., 0, 0])  # 1×1 path: the far corner is untouched
    assert not torch.allclose(pa_gap(x)[..., 0, 0], pa_gap(x2)[..., 0, 0])
    y, y2 = torch.rand(1, 4, 4, 4), torch.rand(1, 4, 4, 4)
    lateral = torch.rand(1, 8, 8, 8)
    up, up_gap = UpModule(8, 4).eval(), UpModule(8, 4, gap=True).eval()
    y2 = y.clone()
    y2[..., 3, 3] += 5.0
    assert torch.allclose(up(lateral, y)[..., 0, 0], up(lateral, y2)[..., 0, 0])
    assert not torch.allclose(up_gap(lateral, y)[..., 0, 0], up_gap(lateral, y2)[..., 0, 0])
    model = build_pylon(2, ENC, gap_in_pa=True, gap_in_up=True)
    assert sum(isinstance(m, torch.nn.Module) and hasattr(m, "gap") and m.gap for m in model.modules()) == 4


def test_build_model_rejects_classifier_options_and_unknown_options():
    with pytest.raises(ValueError, match="own pooling"):
        build_model("pylon", 2, encoder=ENC, pooling="max")
    with pytest.raises(TypeError, match="unexpected options"):
        build_model("small-cnn", 2, encoder=ENC)
    with pytest.raises(TypeError):
        build_model("gmp", 2, encoder=ENC, pyramid=False)
    with pytest.raises(ValueError, match="unknown backbone"):
        build_model("segformer", 2)


def test_no_download_without_pretrained(monkeypatch):
    import urllib.request

    def refuse(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name in MAP_ARCHITECTURES:
        build_model(name, 2, encoder=ENC)


@pytest.mark.parametrize("options", [{}, {"gap_in_up": True, "head_kernel": 3}])
def test_layer_maps_sum_to_the_class_map(options):
    from cxrlib.models.pylon import layer_maps

    torch.manual_seed(0)
    model = build_pylon(2, ENC, **options).eval()
    x = torch.rand(2, 1, 64, 64)
    parts = layer_maps(model, x)
    assert list(parts) == ["PA", "UP1", "UP2", "UP3"]
    total = sum(parts.values()) + model.classifier.bias.view(1, -1, 1, 1)
    assert torch.allclose(total, model.class_maps(model.features(x)), atol=1e-4)


def test_channel_maps_accumulate_the_top_channels(pylon):
    from cxrlib.models.pylon import channel_maps

    features = pylon.features(torch.rand(1, 1, 64, 64))
    maps = channel_maps(pylon, features, 1, top=128)
    expected = pylon.class_maps(features)[:, 1] - pylon.classifier.bias[1]
    assert maps.shape == (1, 128, 16, 16)
    assert torch.allclose(maps[:, -1], expected, atol=1e-4)
    # the thesis's order: by the weight's magnitude, each channel as w · f (negative weights inverted)
    one_by_one = channel_maps(pylon, features, 1, top=5, cumulative=False)
    weight = pylon.classifier.weight[1, :, 0, 0]
    order = weight.abs().argsort(descending=True)[:5]
    assert torch.allclose(one_by_one[0, 0], weight[order[0]] * features[0, order[0]])
    assert torch.allclose(one_by_one.cumsum(1), channel_maps(pylon, features, 1, top=5))
    with pytest.raises(TypeError):
        channel_maps(build_model("unet", 2, encoder=ENC), features, 0)


def test_map_stride_probes_on_the_models_own_device():
    # "meta" stands in for a GPU: a probe made on the CPU meets the model's weights and fails there
    # ("Tensor on device meta is not on the expected device cpu"), as it did on CUDA
    from cxrlib.models.pylon import build_pylon

    model = build_pylon(2, encoder="resnet18").to("meta")
    assert model.map_stride(64) == 4.0


def test_the_pyramid_is_one_number_per_image_at_64_px_and_a_map_at_256():
    from cxrlib.models.pylon import pyramid_attention, pyramid_levels

    assert pyramid_levels(64) == [(2, 2), (1, 1), (1, 1), (1, 1)]
    assert pyramid_levels(256) == [(8, 8), (4, 4), (2, 2), (1, 1)]
    assert pyramid_levels(512)[1:3] == [(8, 8), (4, 4)]
    torch.manual_seed(0)
    model = build_model("pylon", 2, encoder="resnet18")
    small = pyramid_attention(model, torch.rand(2, 1, 64, 64))
    assert small.shape == (2, 2, 2) and torch.allclose(small, small[:, :1, :1].expand_as(small))  # a scalar
    large = pyramid_attention(model, torch.rand(2, 1, 256, 256))
    assert large.shape == (2, 8, 8) and large.std() > 0  # a spatial attention
    with pytest.raises(ValueError, match="PYLON"):
        pyramid_attention(build_model("gmp", 2, encoder="resnet18"), torch.rand(1, 1, 64, 64))
