"""The formatters every generated discussion uses."""

import math

from cxrlib.studies.prose import fmt, join, p_value, percent, short_ci, signed, with_ci


def test_numbers_and_missing_values():
    assert fmt(0.12345) == "0.123" and fmt(0.5, 2) == "0.50"
    assert fmt(None) == fmt(math.nan) == fmt(math.inf) == "undefined"


def test_intervals():
    assert with_ci(0.5, 0.04) == "0.500 ± 0.040" and with_ci(0.5, math.nan) == with_ci(0.5, None) == "0.500"
    assert signed(0.012, 0.03) == "+0.012 ± 0.030" and signed(-0.2, None) == "-0.200"
    assert signed(None, 0.1) == "undefined"
    assert short_ci(0.62, 0.041) == "0.62 ± 0.04" and short_ci(0.62, math.nan) == "0.62"
    assert short_ci(math.nan, 1) == "–"


def test_lists_percentages_and_p_values():
    assert join([]) == "" and join(["a"]) == "a" and join(["a", "b"]) == "a and b" and join("abc") == "a, b and c"
    assert percent(0.8) == "80%" and percent(0.955) == "96%"
    assert p_value(0.01234) == "0.012" and p_value(math.nan) == "undefined"


def test_proportion_intervals_stay_inside_zero_and_one():
    from cxrlib.studies.prose import bounded_ci

    assert bounded_ci(0.62, 0.04) == "0.62 ± 0.04"
    assert bounded_ci(0.38, 4.76) == "0.38 [0.00, 1.00]"  # was "0.38 ± 4.76" in 08's Table 5.1
    assert bounded_ci(0.95, 0.1) == "0.95 [0.85, 1.00]" and bounded_ci(0.5, math.nan) == "0.50"
    assert bounded_ci(math.nan, 0.1) == "–"
