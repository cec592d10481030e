"""The thesis's decoder configurations, parameter for parameter against the reference code.

The expected counts (``cxrlib.studies.sources.PYLON_REFERENCE_PARAMETERS``) were computed once from the
reference implementation (cmb-chula/pylon at commit
e2d493c: ``pylon.py``'s ``PylonDecoder`` and ``model/pan.py``'s ``PANDecoder``, with a ResNet-50's encoder
channels, 128 decoder channels and 14 classes): every parameter of decoder and head except convolution
biases, which the reference's ConvBnRelu keeps before its BatchNorm and ours drops (a bias before a
BatchNorm is cancelled by it). DeepLabV3+ without image pooling is the reference's ``ASPPNoGAP``: the
pooling branch (Conv1×1 2048→256 and its BatchNorm) and a fifth of the projection gone.
"""

import pytest
import torch
import torch.nn as nn

from cxrlib.models import decoder_parameters
from cxrlib.models.baselines import build_map_model
from cxrlib.studies.pylon import VARIANTS
from cxrlib.studies.sources import PYLON_REFERENCE_PARAMETERS


@pytest.mark.parametrize("name", list(PYLON_REFERENCE_PARAMETERS))
def test_parameter_counts_equal_the_reference_codes(name):
    architecture, options = VARIANTS[name]
    model = build_map_model(architecture, 14, encoder="resnet50", **options)
    assert decoder_parameters(model) == PYLON_REFERENCE_PARAMETERS[name]


def test_conv_3x3_on_the_two_layer_up_is_not_the_theses_row():
    """Our former "3×3 UP" ablation, on the two-layer UP: six times the thesis's row (on UP1)."""
    model = build_map_model("pylon", 14, encoder="resnet50", up_kernel=3)
    assert decoder_parameters(model) == 14_819_713 > 6 * PYLON_REFERENCE_PARAMETERS["pylon-up1-3x3-up"]


def test_deeplab_without_image_pooling_loses_exactly_the_pooling_branch_and_a_fifth_of_the_projection():
    full = build_map_model("deeplabv3plus", 14, encoder="resnet50")
    no_pool = build_map_model("deeplabv3plus", 14, encoder="resnet50", image_pooling=False)
    branch = 2048 * 256 + 2 * 256  # Conv1×1 without bias, BatchNorm weight and bias
    assert decoder_parameters(full) - decoder_parameters(no_pool) == branch + 256 * 256
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
    assert all(m.p == 0 for m in bn.modules() if isinstance(m, nn.Dropout2d))  # the reference's decoder_dropout=0
    assert any(isinstance(m, nn.GroupNorm) for m in gn.decoder.modules())
    assert gn(torch.rand(2, 1, 64, 64)).shape == (2, 2)


def test_switches_a_model_does_not_have_are_named():
    with pytest.raises(TypeError, match="unet takes the options"):
        build_map_model("unet", 2, encoder="resnet18", image_pooling=False)
    with pytest.raises(TypeError, match="gmp takes no options"):
        build_map_model("gmp", 2, encoder="resnet18", norm="group")
    with pytest.raises(ValueError, match="norm"):
        build_map_model("fpn", 2, encoder="resnet18", norm="layer")
