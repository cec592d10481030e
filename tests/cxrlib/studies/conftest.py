"""The real-format fixtures of tests/cxrlib/data/sources, shared with the study tests."""

import importlib.util
from pathlib import Path

import pytest

_path = Path(__file__).resolve().parents[1] / "data" / "sources" / "conftest.py"
_spec = importlib.util.spec_from_file_location("cxrlib_source_fixtures", _path)
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

chexpert_root = _fixtures.chexpert_root
mimic_root = _fixtures.mimic_root
nih_root = _fixtures.nih_root
vindr_root = _fixtures.vindr_root
mura_root = _fixtures.mura_root


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    """A results folder of the test module's own (``$CXRLIB_RESULTS_DIR``): where its studies save artifacts."""
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("results")
    mp.setenv("CXRLIB_RESULTS_DIR", str(path))
    yield path
    mp.undo()
