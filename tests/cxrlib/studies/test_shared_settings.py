"""Every study's Settings extends the shared ones, re-declaring a shared field only to change its default;
the shared checks run for every study (the notebooks' descriptions: tests/notebooks/test_parameter_cells.py)."""

import ast
import dataclasses
import importlib
from pathlib import Path

import pytest

from cxrlib.studies import STUDY_SETTINGS
from cxrlib.studies.shared_settings import (
    ChestDataSettings,
    StudySettings,
    TrainingSettings,
)

ROOT = Path(__file__).resolve().parents[3]


def _settings_module(notebook: str):
    cls = type(STUDY_SETTINGS[notebook]("smoke"))
    return cls, importlib.import_module(cls.__module__)


@pytest.mark.parametrize("notebook", sorted(STUDY_SETTINGS))
def test_a_study_redeclares_a_shared_field_only_to_change_its_default(notebook):
    cls, module = _settings_module(notebook)
    tree = ast.parse(Path(module.__file__).read_text())
    node = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls.__name__)
    declared = [s.target.id for s in node.body if isinstance(s, ast.AnnAssign)]
    for base in cls.__mro__[1:]:
        if not dataclasses.is_dataclass(base):
            continue
        base_defaults = {f.name: f.default for f in dataclasses.fields(base)}
        own = {f.name: f.default for f in dataclasses.fields(cls)}
        for name in declared:
            if name in base_defaults:
                assert own[name] != base_defaults[name], f"{cls.__name__}.{name} repeats {base.__name__}'s default"


@pytest.mark.parametrize(
    ("cls", "change", "message"),
    [
        (StudySettings, {"image_size": 8}, "image_size"),
        (ChestDataSettings, {"n": 0}, "'n'"),
        (ChestDataSettings, {"uncertain_rate": 1.5}, "uncertain_rate"),
        (TrainingSettings, {"epochs": 0}, "epochs"),
        (TrainingSettings, {"lr": 0.0}, "'lr'"),
        (TrainingSettings, {"batch_size": 0}, "batch_size"),
    ],
)
def test_the_shared_checks_name_the_parameter(cls, change, message):
    with pytest.raises(ValueError, match=message):
        cls(**change)


def test_a_study_runs_the_shared_checks_too():
    with pytest.raises(ValueError, match="epochs"):
        STUDY_SETTINGS["01_baseline"]("smoke", epochs=0)
    with pytest.raises(ValueError, match="output_stride"):
        STUDY_SETTINGS["04_imbalance_losses"]("smoke", output_stride=4)
