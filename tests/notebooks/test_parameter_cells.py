"""Each notebook's parameters cell is its study's Settings, name for name, and documents every
parameter (what ``papermill --help-notebook`` shows) with the text its settings hold (the study's
``STUDY_HELP``, else the shared ``PARAMETER_HELP``)."""

import ast
import dataclasses
import importlib
import json
from pathlib import Path

import nbformat
import pytest

from cxrlib.book import NOTEBOOKS
from cxrlib.studies import STUDY_SETTINGS
from cxrlib.studies.parameters import PRESET, Profile, _allows_none
from cxrlib.studies.shared_settings import PARAMETER_HELP

ROOT = Path(__file__).resolve().parents[2]


def _parameters_cell(name: str):
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{name}: exactly one cell tagged 'parameters'"
    return cells[0].source


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_notebook_is_valid_nbformat_with_cell_ids(name):
    """A cell without an id is a warning in nbformat today and an error in a later version."""
    path = ROOT / "notebooks" / f"{name}.ipynb"
    nbformat.validate(nbformat.read(path, as_version=4))
    ids = [c.get("id") for c in json.loads(path.read_text())["cells"]]  # raw: nbformat.read invents missing ids
    assert all(ids) and len(set(ids)) == len(ids), f"{name}: every cell needs its own id"


def test_every_notebook_has_its_settings():
    assert set(STUDY_SETTINGS) == set(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_parameters_cell_equals_the_settings(name):
    import typing

    source = _parameters_cell(name)
    assert source.startswith("# Parameters")  # how notebook_parameters finds it
    tree = ast.parse(source)
    assigned = {
        t.id: ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
    }
    cls = STUDY_SETTINGS[name]
    # the same names; the cell keeps a reader's order (source first), the dataclass its bases' order
    assert sorted(assigned) == sorted(f.name for f in dataclasses.fields(cls))
    names = [t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets]
    assert len(names) == len(set(names)), f"{name}: a parameter assigned twice"
    hints = typing.get_type_hints(cls)
    module = importlib.import_module(cls.__module__)
    for line in source.splitlines()[1:]:
        assert "  # " in line, f"{name}: parameter line without a comment: {line!r}"
        field, text = line.split(" = ", 1)[0], line.split("  # ", 1)[1]
        wanted = module.STUDY_HELP.get(field, PARAMETER_HELP.get(field))  # the one place each text lives
        assert text == wanted, f"{name}: {field!r} is described as {text!r} here, {wanted!r} in {cls.__module__}"
    assert not set(module.STUDY_HELP) - set(assigned), f"{name}: help for a parameter the study does not have"
    # None keeps the profile's value only where None is not itself a value; there, "preset" is needed
    for field, value in assigned.items():
        if value is None and _allows_none(hints[field]):
            module = __import__(cls.__module__, fromlist=["PRESETS"])
            for profile in Profile:
                preset = module.PRESETS.get(profile.value, {}).get(field, getattr(cls(), field))
                assert preset is None, f"{name}: {field} = None would override the {profile.value} preset {preset!r}"
        if value == PRESET:
            assert _allows_none(hints[field])
