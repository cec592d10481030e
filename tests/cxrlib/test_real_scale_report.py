"""The performance page's real-scale section: its figures, targets and extrapolation come from the
record of benchmarks/bench_real_scale.py, and a committed at-scale record is shown beside the build's."""

import json

import pytest

from cxrlib.performance import performance_markdown, read_records
from cxrlib.real_scale_report import DATASET_IMAGES, extrapolated_build_hours, real_scale_section

MACHINE = {"date": "2026-12-06 23:00 UTC", "cpu_model": "Test CPU", "cpu_cores": 2, "device": "cpu"}


def _record(n: int = 50_000, speedup: float = 1.8, peak: float = 0.9e9, resumed_ok: bool = True) -> dict:
    return {
        "benchmark": "real_scale",
        "machine": MACHINE,
        "settings": {"n": n, "side": 1024, "distinct": 500, "size": 256, "serial_n": 4000, "workers": 2},
        "figures": {
            "tree": {"images": n, "distinct_pngs": 500, "png_side": 1024, "mean_png_bytes": 507_000},
            "index": {"seconds": 1.25, "rows": n},
            "scaling": {
                "1 worker": {"images_per_s": 80.0},
                "2 workers": {"images_per_s": 80.0 * speedup},
                "speedup": speedup,
                "same_bytes": True,
            },
            "build": {
                "images": n,
                "seconds": 350.0,
                "images_per_s": n / 350,
                "cache_bytes": n * 65536,
                "peak": {"pss_total": peak},
            },
            "reopen": {"seconds": 2.5},
            "epoch": {
                "images": 34_000,
                "seconds": 600.0,
                "images_per_s": 56.7,
                "peak": {"rss_anon": 1.5e9, "rss_file": 3.9e9},
            },
            "resumed": {
                "images_recorded_at_the_kill": 25_088,
                "images_kept": 25_088,
                "images_decoded_by_the_resume": 24_912,
                "seconds": 170.0,
            },
            "checks": {
                "the resume decoded only the missing images": resumed_ok,
                "1 and all workers write the same bytes": True,
            },
        },
    }


def test_extrapolation_scales_the_full_builds_rate_linearly_to_the_cores():
    record = _record()  # 50,000 images in 350 s on 2 workers
    rate = 50_000 / 350
    assert extrapolated_build_hours(record, 288_000, 2) == pytest.approx(288_000 / rate / 3600)
    assert extrapolated_build_hours(record, 288_000, 16) == pytest.approx(288_000 / (rate * 8) / 3600)
    assert extrapolated_build_hours({"figures": {}}, 10, 2) is None


def test_section_states_figures_targets_and_the_extrapolation_as_such():
    text = "\n".join(real_scale_section(_record()))
    assert "**50,000 images**" in text and "507 kB on average" in text
    assert "| 144 images/s: **1.80×** one worker |" in text
    assert "| **0.90 GB** |" in text and "| **2.5 s** |" in text
    assert "kept 25,088, decoded 24,912 in 170 s" in text
    assert "reopen ≤ 5 s **met**" in text and "≤ 2.00 GB **met**" in text and "≥ 1.7× one worker **met**" in text
    assert "*An extrapolation, beyond what was run:*" in text and "not measured" not in text.lower()
    for name, images in DATASET_IMAGES.items():
        assert f"| {name} | {images:,} |" in text
    assert "a small tree" not in text
    bad = "\n".join(real_scale_section(_record(n=2000, speedup=1.2, peak=2.5e9, resumed_ok=False)))
    assert "≥ 1.7× one worker **missed**" in bad and "≤ 2.00 GB **missed**" in bad
    assert "what was missing **missed**" in bad and "**Failed: the resume decoded only the missing images.**" in bad
    assert "a small tree" in bad and "No extrapolation" in bad and "| CheXpert |" not in bad


def test_a_committed_record_is_shown_under_its_benchmark(tmp_path):
    folder = tmp_path / "benchmarks" / "records"
    folder.mkdir(parents=True)
    (folder / "real_scale_n50000.json").write_text(json.dumps(_record()))
    records = read_records(tmp_path)
    assert records["real_scale"]["path"] == "benchmarks/records/real_scale_n50000.json"
    page = performance_markdown({"real_scale": _record(n=2000)}, None, records=records)
    section = page.split("## Real datasets at their true size")[1].split("\n## ")[0]
    assert "**2,000 images**" in section.split("### At scale")[0]
    at_scale = section.split("### At scale: a committed record")[1]
    assert "`benchmarks/records/real_scale_n50000.json`" in at_scale and "**50,000 images**" in at_scale
    assert "Measured 2026-12-06 23:00 UTC on Test CPU, 2 cores" in at_scale
