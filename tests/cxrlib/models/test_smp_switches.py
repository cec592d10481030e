"""The thesis's decoder configurations, parameter for parameter against the reference code.

The expected counts were computed once from the reference implementation (cmb-chula/pylon at commit
e2d493c: ``pylon.py``'s ``PylonDecoder`` and ``model/pan.py``'s ``PANDecoder``, with a ResNet-50's encoder
channels, 128 decoder channels and 14 classes): every parameter of decoder and head except convolution
biases, which the reference's ConvBnRelu keeps before its BatchNorm and ours drops (a bias before a
BatchNorm is cancelled by it). DeepLabV3+ without image pooling is the reference's ``ASPPNoGAP``: the
pooling branch (Conv1×1 2048→256 and its BatchNorm) and a fifth of the projection gone.
"""

import pytest
import torch
import torch.nn as nn

from cxrlib.models.baselines import build_map_model

#: (architecture, options) → the reference code's bias-free non-encoder parameter count
REFERENCE_COUNTS = {
    ("pylon", ()): 1_974_657,  # PYLON: two-layer 1×1 UP
    ("pylon", (("up_layers", 1),)): 594_817,  # PYLON (UP1), the base of Tables 6.1 (B) and 6.2
    ("pylon", (("pyramid", False), ("up_layers", 1))): 494_336,  # no PY, UP1
    ("pylon", (("up_kernel", 3), ("up_layers", 1))): 2_429_825,  # Conv 3×3 UP on UP1
    ("pylon", (("head_kernel", 3), ("up_layers", 1))): 609_153,  # Head 3×3 on UP1
    ("pylon", (("up_kernel", 3),)): 14_819_713,  # Conv 3×3 on the two-layer UP (not a thesis row)
    ("pan", ()): 2_756_481,  # PAN with GAP in FPA and GAU
    ("pan", (("gap_in_fpa", False), ("gap_in_gau", False))): 2_444_161,  # PAN − all GAP (use_gap=False)
}


def _non_encoder_bias_free(model: nn.Module) -> int:
    return sum(
        p.numel()
        for name, module in model.named_modules()
        if not name.startswith("encoder")
        for pname, p in module.named_parameters(recurse=False)
        if not (isinstance(module, nn.Conv2d) and pname == "bias")
    )


@pytest.mark.parametrize(("architecture", "options"), list(REFERENCE_COUNTS))
def test_parameter_counts_equal_the_reference_codes(architecture, options):
    model = build_map_model(architecture, 14, encoder="resnet50", **dict(options))
    assert _non_encoder_bias_free(model) == REFERENCE_COUNTS[(architecture, options)]


def test_deeplab_without_image_pooling_loses_exactly_the_pooling_branch_and_a_fifth_of_the_projection():
    full = build_map_model("deeplabv3plus", 14, encoder="resnet50")
    no_pool = build_map_model("deeplabv3plus", 14, encoder="resnet50", image_pooling=False)
    branch = 2048 * 256 + 2 * 256  # Conv1×1 without bias, BatchNorm weight and bias
    assert _non_encoder_bias_free(full) - _non_encoder_bias_free(no_pool) == branch + 256 * 256
    names = [type(b).__name__ for b in no_pool.decoder.decoder.aspp[0].convs]
    assert "ASPPPooling" not in names and len(names) == 4


def test_without_gap_fpa_and_gau_compute_what_they_did_less_the_global_branch():
    import copy

    import torch.nn.functional as F

    from cxrlib.models.smp_switches import remove_fpa_gap, remove_gau_gap

    torch.manual_seed(0)
    with_gap = build_map_model("pan", 2, encoder="resnet18").decoder.decoder.eval()
    without = copy.deepcopy(with_gap)
    remove_fpa_gap(without)
    remove_gau_gap(without)
    x, low = torch.rand(2, 512, 8, 8), torch.rand(2, 256, 16, 16)
    with torch.no_grad():
        branch = F.interpolate(with_gap.fpa.branch1(x), size=(8, 8), mode="bilinear", align_corners=True)
        torch.testing.assert_close(without.fpa(x), with_gap.fpa(x) - branch)
        y = with_gap.fpa(x)
        y_up = F.interpolate(y, size=(16, 16), mode="bilinear", align_corners=True)
        torch.testing.assert_close(without.gau3(low, y), y_up + with_gap.gau3.conv2(low))
    assert not any(isinstance(m, nn.AdaptiveAvgPool2d) for m in without.modules())


def test_fpn_keeps_groupnorm_on_request_and_batchnorm_by_default():
    bn = build_map_model("fpn", 2, encoder="resnet18")
    gn = build_map_model("fpn", 2, encoder="resnet18", norm="group")
    assert not any(isinstance(m, nn.GroupNorm) for m in bn.decoder.modules())
    assert any(isinstance(m, nn.GroupNorm) for m in gn.decoder.modules())
    assert gn(torch.rand(2, 1, 64, 64)).shape == (2, 2)


def test_switches_a_model_does_not_have_are_named():
    with pytest.raises(TypeError, match="unet takes the options"):
        build_map_model("unet", 2, encoder="resnet18", image_pooling=False)
    with pytest.raises(TypeError, match="gmp takes no options"):
        build_map_model("gmp", 2, encoder="resnet18", norm="group")
    with pytest.raises(ValueError, match="norm"):
        build_map_model("fpn", 2, encoder="resnet18", norm="layer")
