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
