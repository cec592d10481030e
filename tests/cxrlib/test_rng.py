"""Random streams keyed by several integers: flat keys only, the same numbers as numpy's flat seeds."""

import re
from pathlib import Path

import numpy as np
import pytest

import cxrlib
from cxrlib.defer import simulated_clinician
from cxrlib.rng import as_keys, random_stream, stream_keys


def test_a_stream_equals_numpys_flat_seed():
    np.testing.assert_array_equal(random_stream(3, 7, 11).random(5), np.random.default_rng([3, 7, 11]).random(5))
    np.testing.assert_array_equal(random_stream(np.int64(4), 2).random(3), np.random.default_rng([4, 2]).random(3))
    assert not np.array_equal(random_stream(3, 7).random(3), random_stream(7, 3).random(3))


@pytest.mark.parametrize("keys", [((1, 2), 3), ([0, 1], 2), (1.0, 2), (True, 1)])
def test_nested_or_non_integer_keys_are_refused_on_every_numpy(keys):
    # numpy 2.4 flattened [[1, 2], 3] silently, numpy 2.5 raises deep in SeedSequence: here both refuse it
    with pytest.raises(TypeError, match="flat integers"):
        random_stream(*keys)


def test_negative_and_empty_keys_are_refused():
    with pytest.raises(ValueError, match=">= 0"):
        stream_keys(1, -2)
    with pytest.raises(ValueError, match="at least one key"):
        random_stream()


def test_a_seed_is_one_integer_or_a_flat_tuple():
    assert as_keys(5) == (5,) and as_keys((5, 6)) == (5, 6) and as_keys(np.int32(2)) == (2,)
    with pytest.raises(TypeError):
        as_keys(((5, 6), 1))


def test_the_clinician_takes_a_tuple_seed_as_a_flat_key():
    labels = np.random.default_rng(0).integers(0, 2, (200, 3)).astype(float)
    a = simulated_clinician(labels, 0.8, 0.9, seed=(4, 1))
    b = simulated_clinician(labels, 0.8, 0.9, seed=(4, 1))
    np.testing.assert_array_equal(a, b)
    draw = np.random.default_rng([4, 1, 2]).random(200)  # class 2's stream is (4, 1, 2)
    expected = np.where(labels[:, 2] == 1, draw < 0.8, draw >= 0.9).astype(float)
    np.testing.assert_array_equal(a[:, 2], expected)
    with pytest.raises(TypeError, match="flat integers"):
        simulated_clinician(labels, 0.8, 0.9, seed=[[4, 1]])


def test_no_module_seeds_numpy_with_a_list_but_through_random_stream():
    root = Path(cxrlib.__file__).parent
    offenders = [
        f"{path.relative_to(root)}:{n}"
        for path in root.rglob("*.py")
        if path.name != "rng.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"default_rng\(\s*[\[(]", line)
    ]
    assert not offenders, offenders
