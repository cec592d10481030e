import itertools

import numpy as np
import pytest
import scipy.stats

from cxrlib.stats import compare_groups


def test_u_and_effect_sizes_against_pair_counting():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1, 1, 9), np.r_[rng.normal(0, 1, 6), 0.5, 0.5]
    a[0] = 0.5  # a tie across the groups counts one half
    c = compare_groups(a, b)
    pairs = [(x > y) + 0.5 * (x == y) for x, y in itertools.product(a, b)]
    assert c.u == pytest.approx(sum(pairs))
    assert c.common_language == pytest.approx(np.mean(pairs))
    assert c.rank_biserial == pytest.approx(2 * np.mean(pairs) - 1)
    assert c.p == pytest.approx(scipy.stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    assert (c.n_a, c.n_b) == (9, 8) and c.median_a == pytest.approx(np.median(a))


def test_separated_groups_are_significant_and_the_exact_p_is_the_smallest_possible():
    c = compare_groups([5, 6, 7, 8], [1, 2, 3, 4])
    assert c.rank_biserial == 1.0 and c.significant
    assert c.p == pytest.approx(2 / 70)  # two of the C(8, 4) = 70 equally likely rankings are this extreme


def test_shapiro_flags_non_normal_groups_and_is_undefined_for_tiny_ones():
    rng = np.random.default_rng(1)
    skewed = np.r_[np.zeros(20), 50.0]
    c = compare_groups(skewed + rng.normal(0, 0.01, 21), rng.normal(0, 1, 30))
    assert c.shapiro_p_a < 0.05 and not c.normal
    tiny = compare_groups([1.0, 2.0], [3.0, 4.0, np.nan])
    assert np.isnan(tiny.shapiro_p_a) and np.isnan(tiny.shapiro_p_b) and tiny.n_b == 2


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="finite"):
        compare_groups([np.nan], [1.0])
    with pytest.raises(ValueError, match="alpha"):
        compare_groups([1.0], [2.0], alpha=1.5)
