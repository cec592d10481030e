"""The performance page's section on the reliability report's cost reads its record."""

from cxrlib.performance_report import report_benchmark_section


def _record(n: int, seconds: float) -> dict:
    return {
        "settings": {"n": n, "size": 64, "bootstrap": 1000},
        "figures": {
            "seconds": seconds,
            "steps": {"scoring": 5.0, "discrimination": seconds - 5.0},
            "test_images": n,
            "validation_images": 1000,
        },
    }


def test_the_target_is_judged_at_its_size_only():
    at_target = "\n".join(report_benchmark_section(_record(1000, 42.0)))
    assert "| scoring | 5.0 |" in at_target and "| **total** | **42.0** |" in at_target
    assert "Target ≤ 60 s: **met**" in at_target
    assert "**missed**" in "\n".join(report_benchmark_section(_record(1000, 75.0)))
    small = "\n".join(report_benchmark_section(_record(150, 9.0)))
    assert "judged at that size only" in small and "**met**" not in small


def test_the_bootstrap_at_scale_is_quoted_when_measured():
    record = _record(1000, 42.0)
    assert "real test set's size" not in "\n".join(report_benchmark_section(record))
    scale = {"images": 50000, "resamples": 1000, "seconds": 12.5, "peak_mb": 310.0, "weights_mb": 200.0}
    record["figures"]["bootstrap_at_scale"] = scale
    text = "\n".join(report_benchmark_section(record))
    assert "50,000 images" in text and "12.5 s" in text and "310 MB" in text and "200 MB" in text
