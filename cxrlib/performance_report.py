"""The performance page's section on the reliability report's cost, from the record that
``benchmarks/bench_report.py`` writes."""

from __future__ import annotations

__all__ = ["REPORT_TARGET", "report_benchmark_section"]

#: the budget of ``reliability_report`` on 1,000 test images at 64 px on a 2-core CPU (issue 26)
REPORT_TARGET = {"images": 1000, "size": 64, "seconds": 60.0}


def report_benchmark_section(record: dict) -> list[str]:
    """Markdown lines for one record of ``bench_report.py``."""
    f, s = record.get("figures", {}), record.get("settings", {})
    seconds, steps = f.get("seconds"), f.get("steps", {})
    lines = [
        f"`cxrlib.report.reliability_report` on {f.get('test_images', '?'):,} SynthCXR test images at "
        f"{s.get('size', '?')} px ({f.get('validation_images', '?'):,} validation images), a small CNN, "
        f"{s.get('bootstrap', '?'):,} bootstrap resamples, every section on.",
        "",
    ]
    if seconds is None:
        return lines
    lines += ["| step | seconds |", "|---|---|"]
    lines += [f"| {step} | {value:.1f} |" for step, value in steps.items()]
    lines += [f"| **total** | **{seconds:.1f}** |", ""]
    at_target = f.get("test_images") == REPORT_TARGET["images"] and s.get("size") == REPORT_TARGET["size"]
    if at_target:
        met = seconds <= REPORT_TARGET["seconds"]
        lines += [f"Target ≤ {REPORT_TARGET['seconds']:.0f} s: **{'met' if met else 'missed'}**.", ""]
    else:
        lines += [
            f"The target (≤ {REPORT_TARGET['seconds']:.0f} s for {REPORT_TARGET['images']:,} images at "
            f"{REPORT_TARGET['size']} px) is judged at that size only; this run is smaller.",
            "",
        ]
    scale = f.get("bootstrap_at_scale")
    if scale:
        lines += [
            f"The bootstrap over patients alone at a real test set's size: {scale['images']:,} images (two per "
            f"patient, five classes), {scale['resamples']:,} resamples, per-class and mean AUROC intervals: "
            f"{scale['seconds']:.1f} s, and a peak of {scale['peak_mb']:,.0f} MB of numpy memory, of which "
            f"{scale['weights_mb']:,.0f} MB are the resample weights themselves (resamples are scored in blocks, "
            "so the rest does not grow with the test set).",
            "",
        ]
    return lines
