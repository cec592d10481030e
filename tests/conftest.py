import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """A private decode-once cache for the test session."""
    path = tmp_path_factory.mktemp("cxrlib-cache")
    os.environ["CXRLIB_CACHE"] = str(path)
    return path


@pytest.fixture(scope="session")
def synth(cache_dir):
    """A small SynthCXR set with readers and a shortcut marker, shared by many tests."""
    from cxrlib.data import open_dataset

    return open_dataset(
        "synth-cxr",
        n=96,
        image_size=64,
        seed=3,
        studies_per_patient=2,
        uncertain_rate=0.2,
        readers={"n_readers": 3},
        shortcut={"class_name": "Pneumothorax", "rate": 0.9},
        prevalence=0.3,
        progress=False,
        cache_dir=cache_dir,
    )


@pytest.fixture(scope="session")
def book_html() -> Path:
    """The built book, or a skip (a failure when CXRLIB_REQUIRE_BOOK=1, as `make test` sets)."""
    html = ROOT / "_build" / "html"
    if not (html / "index.html").exists():
        if os.environ.get("CXRLIB_REQUIRE_BOOK") == "1":
            pytest.fail("the book was not built: run `python -m cxrlib.book --profile smoke` first")
        pytest.skip("book not built (make test builds it first)")
    return html
