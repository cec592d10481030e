from dataclasses import dataclass

import pytest

from cxrlib.studies.common import check_backbone, study_train_config


@dataclass
class _Settings:
    epochs: int = 7
    lr: float = 3e-3
    batch_size: int = 16
    device: str = "cpu"
    progress: bool = False


def test_study_train_config_takes_what_the_settings_have_and_applies_changes():
    config = study_train_config(_Settings(), seed=4)
    assert (config.epochs, config.lr, config.batch_size, config.device, config.seed) == (7, 3e-3, 16, "cpu", 4)
    assert config.weight_decay == 0.0 and config.stop_after_lr_reductions == 2 and not config.progress
    changed = study_train_config(_Settings(), seed=1, epochs=2, lr=1e-4)
    assert (changed.epochs, changed.lr) == (2, 1e-4)


def test_check_backbone_names_the_parameter():
    check_backbone("small-cnn")
    with pytest.raises(ValueError, match="parameter 'encoder': unknown 'resnet5'"):
        check_backbone("resnet5", "encoder")


#: the studies whose sources started from ImageNet weights (their ``full`` profiles do too)
IMAGENET_STUDIES = ("01_baseline", "02_saliency_losses", "04_imbalance_losses", "05_calibration", "07_defer")


@pytest.mark.parametrize("study", [*IMAGENET_STUDIES, "08_pylon", "09_pylon_ablations", "10_reliability_report"])
def test_full_starts_from_imagenet_and_stops_before_any_data_or_training_without_the_file(study, monkeypatch, tmp_path):
    import urllib.request

    from huggingface_hub import constants

    from cxrlib.models import MissingWeightsError
    from cxrlib.studies import STUDY_RUNNERS

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("tried to download"))
    settings_for, run = STUDY_RUNNERS[study]
    settings = settings_for("full", progress=False)
    assert settings.pretrained
    monkeypatch.setattr("cxrlib.studies.common.open_study_dataset", lambda *a, **k: pytest.fail("opened data"))
    with pytest.raises(MissingWeightsError, match=r"pretrained False"):
        run(settings)
    assert not settings_for("default").pretrained and not settings_for("smoke").pretrained
