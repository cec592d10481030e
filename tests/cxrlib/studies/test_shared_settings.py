"""Every study's Settings extends the shared ones; the notebooks' parameter cells describe each parameter
with the one text the settings hold for it."""

import ast
import dataclasses
import importlib
import json
import re
from pathlib import Path

import pytest

from cxrlib.studies import STUDY_SETTINGS
from cxrlib.studies.shared_settings import (
    PARAMETER_HELP,
    ChestDataSettings,
    StudySettings,
    TrainingSettings,
)

ROOT = Path(__file__).resolve().parents[3]


def _settings_module(notebook: str):
    cls = type(STUDY_SETTINGS[notebook]("smoke"))
    return cls, importlib.import_module(cls.__module__)


def _parameter_cell(notebook: str) -> dict[str, str]:
    cells = json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text())["cells"]
    cell = next(c for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))
    out = {}
    for line in "".join(cell["source"]).splitlines()[1:]:
        m = re.match(r"^(\w+) = .*?  # (.*)$", line)
        assert m, f"{notebook}: parameter line without a description: {line!r}"
        out[m.group(1)] = m.group(2)
    return out


@pytest.mark.parametrize("notebook", sorted(STUDY_SETTINGS))
def test_every_parameter_is_a_field_described_once(notebook):
    cls, module = _settings_module(notebook)
    assert issubclass(cls, StudySettings)
    cell = _parameter_cell(notebook)
    fields = [f.name for f in dataclasses.fields(cls)]
    assert sorted(cell) == sorted(fields), f"{notebook}: the parameters cell and {cls.__name__} differ"
    for name, text in cell.items():
        wanted = module.STUDY_HELP.get(name, PARAMETER_HELP.get(name))
        assert text == wanted, f"{notebook}: {name!r} is described as {text!r} in the notebook, {wanted!r} in cxrlib"
    assert not set(module.STUDY_HELP) - set(fields), "help for a parameter the study does not have"


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
