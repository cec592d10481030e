"""ImageNet weights come from local files only: a missing file stops the run before training with an
error that names it; a file written into a temporary cache is read, and its stem is summed over RGB."""

from __future__ import annotations

import urllib.request

import pytest
import torch
import torchvision

from cxrlib.models import CXRClassifier, MissingWeightsError, build_model, imagenet_weights_file
from cxrlib.models.weights import require_imagenet_weights


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """An empty torch hub cache and no network: any download attempt fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path


def test_a_missing_file_is_named_with_its_folder_its_address_and_the_way_out(offline):
    with pytest.raises(MissingWeightsError) as err:
        build_model("densenet121", 2, pretrained=True)
    message = str(err.value)
    expected = imagenet_weights_file("densenet121")
    assert expected.path is not None and expected.path.name in message
    assert str(offline / "torch" / "hub" / "checkpoints") in message
    assert expected.url in message and "pretrained False" in message
    assert isinstance(build_model("densenet121", 2), CXRClassifier)  # the default never needs a file


def test_every_missing_file_is_listed_at_once_and_decoder_encoders_name_the_hugging_face_cache(offline):
    with pytest.raises(MissingWeightsError) as err:
        require_imagenet_weights(["densenet121", "vgg19", "densenet121"])
    assert str(err.value).count("\n- ") == 2
    with pytest.raises(MissingWeightsError, match=r"huggingface-cli download smp-hub/resnet18\.imagenet"):
        build_model("gmp", 2, encoder="resnet18", pretrained=True)
    with pytest.raises(ValueError, match="no ImageNet weights"):
        require_imagenet_weights(["small-cnn"])


def test_a_local_weights_file_is_read_and_its_stem_summed_over_rgb(offline):
    reference = torchvision.models.densenet121(weights=None)
    with torch.no_grad():
        for p in reference.parameters():
            p.normal_(0, 0.05)
    file = imagenet_weights_file("densenet121")
    file.folder.mkdir(parents=True)
    torch.save(reference.state_dict(), file.path)
    assert imagenet_weights_file("densenet121").present
    model = build_model("densenet121", 3, pretrained=True, output_stride=8)
    stem = model.encoder[0].conv0.weight
    assert stem.shape == (64, 1, 7, 7)
    torch.testing.assert_close(stem, reference.features.conv0.weight.sum(1, keepdim=True))
    last = model.encoder[0].denseblock4.denselayer16.conv2.weight
    torch.testing.assert_close(last, reference.features.denseblock4.denselayer16.conv2.weight)
