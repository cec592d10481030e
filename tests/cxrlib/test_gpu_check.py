"""The GPU check runs on any machine: it skips CUDA with a message where there is none, runs its jobs
with their dependencies, and its record renders on the performance page."""

import json
import sys

import pytest
import torch

from cxrlib.book import NOTEBOOKS
from cxrlib.gpu_check import Job, main, run_jobs
from cxrlib.gpu_report import gpu_check_section
from cxrlib.performance import performance_markdown


def test_jobs_run_after_their_dependencies_and_failures_are_reported(tmp_path):
    ok = [sys.executable, "-c", "print('fine')"]
    bad = [sys.executable, "-c", "raise SystemExit('broken on purpose')"]
    slow = [sys.executable, "-c", "import time; time.sleep(30)"]
    jobs = [
        Job("a", ok),
        Job("b", bad),
        Job("c", ok, after=("b",)),
        Job("d", ok, after=("a",)),
        Job("e", slow),
    ]
    checks = {c.name: c for c in run_jobs(jobs, parallel=2, log_dir=tmp_path, timeout=3)}
    assert checks["a"].status == "pass" and checks["d"].status == "pass"
    assert checks["b"].status == "fail" and "broken on purpose" in checks["b"].note
    assert checks["c"].status == "skipped" and "needs b" in checks["c"].note
    assert checks["e"].status == "fail" and "killed" in checks["e"].note
    assert (tmp_path / "a.log").read_text().strip() == "fine"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without CUDA")
def test_without_cuda_every_cuda_check_is_skipped_with_a_message(tmp_path, capsys):
    assert main(["--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "No CUDA device on this machine" in out
    record = json.loads((tmp_path / "results" / "benchmarks" / "gpu_check.json").read_text())
    checks = record["figures"]["checks"]
    # 6 environment checks, one per study, the papermill notebook, and the four benchmarks
    assert {c["status"] for c in checks} == {"skipped"} and len(checks) == 6 + len(NOTEBOOKS) + 1 + 4
    page = performance_markdown({"gpu_check": record}, None)
    assert "without CUDA" in page and "make gpu-check" in page


def test_the_plan_runs_on_the_cpu_when_asked(tmp_path, capsys):
    args = ["--device", "cpu", "--root", str(tmp_path), "--studies", "none", "--notebook", "none"]
    args += ["--benchmarks", "none", "--throughput", "small-cnn:4", "--image-size", "32", "--steps", "2"]
    args += ["--warmup", "1", "--compile-batches", "none"]
    assert main(args) == 0
    record = json.loads((tmp_path / "results" / "benchmarks" / "gpu_check.json").read_text())
    (row,) = record["figures"]["throughput"]
    assert row["backbone"] == "small-cnn" and row["images_per_second"] > 0 and row["peak_memory_gib"] is None


def test_the_gpu_section_names_the_gpu_and_the_compile_gain():
    row = dict(backbone="resnet50", batch_size=64, image_size=224, amp=True, channels_last=True, device="cuda:0")
    record = {
        "machine": {"gpu": "NVIDIA H200"},
        "settings": {"steps": 20, "warmup": 5},
        "figures": {
            "cuda": True,
            "wall_seconds": 200.0,
            "checks": [{"name": "study 01_baseline", "status": "pass", "seconds": 20.0, "note": ""}],
            "throughput": [
                {**row, "compiled": False, "images_per_second": 2000.0, "peak_memory_gib": 10.0, "warmup_seconds": 2},
                {**row, "compiled": True, "images_per_second": 2500.0, "peak_memory_gib": 9.0, "warmup_seconds": 40},
            ],
        },
    }
    text = "\n".join(gpu_check_section(record))
    assert "NVIDIA H200" in text and "every check passed" in text
    assert "| resnet50 | 224 | 64 | 2000 | 10.0 | 2500 | 1.25× | 40 |" in text
