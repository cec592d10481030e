"""The performance page is computed from the benchmark and runner files, never typed."""

import json
from pathlib import Path

import pytest

from cxrlib.performance import (
    BENCHMARKS,
    NOT_MEASURED,
    interleaved,
    machine_info,
    performance_markdown,
    read_benchmarks,
    write_benchmark,
    write_performance,
)

ROOT = Path(__file__).resolve().parents[2]

MACHINE = {
    "date": "2026-11-23 10:00 UTC",
    "cpu_model": "Test CPU 9000",
    "cpu_cores": 2,
    "torch_threads": 2,
    "torch": "2.14.1",
    "numpy": "2.4.0",
    "device": "cpu",
}
SALIENCY = {
    "benchmark": "saliency",
    "machine": MACHINE,
    "settings": {
        "backbone": "DenseNet-121",
        "image_size": 128,
        "batch": 16,
        "classes": 5,
        "repeats_step": 8,
        "repeats_cam": 5,
        "pytorch_grad_cam": "1.5.7",
    },
    "figures": {
        "training_step": {
            "seconds": {
                "wbce": 0.900,
                "wbce+cd (closed form)": 0.918,
                "wbce+cd (autograd maps)": 0.945,
                "wbce+cd (per-class forwards)": 5.4,
            },
            "ratio_closed_form": 1.02,
            "ratio_autograd": 1.05,
            "ratio_per_class_forwards": 6.0,
        },
        "cam_extraction": {
            "seconds": {"ours (batched, 5 classes)": 0.300, "pytorch-grad-cam (5 calls)": 4.2},
            "speedup": 14.0,
            "max_abs_difference": 5.2e-6,
        },
    },
}
LOADER = {
    "benchmark": "loader",
    "machine": MACHINE,
    "settings": {"size": 256, "passes": 7},
    "figures": {
        "n_images": 21,
        "cache_build_seconds": 2.8,
        "cache_images_per_second": 18000.0,
        "pil_images_per_second": 60.0,
        "ratio": 300.0,
    },
}
_W, _C = "whole network (laplace-torch)", "cached features (cxrlib)"
LAPLACE = {
    "benchmark": "laplace",
    "machine": MACHINE,
    "settings": {
        "backbone": "vilter-cnn",
        "image_size": 128,
        "n_train": 700,
        "n_val": 150,
        "epochs": 3,
        "repeats": 3,
        "grid_size": 21,
        "batch": 64,
        "dtype": "float32",
        "laplace_torch": "0.3",
    },
    "figures": {
        "fit": {
            "seconds": {
                "diag": {_W: 6.0, _C: 0.05},
                "full": {_W: 6.5, _C: 0.1},
                "kron": {_W: 9.0, _C: 0.06},
            },
            "feature_pass_seconds": 3.0,
            "max_relative_difference": {"diag": 0.0, "full": 0.0, "kron": 1e-7},
        },
        "prior": {
            "seconds": {
                s: {_W: {"marglik": 1.0, "gridsearch": 20.0}, _C: {"marglik": 0.01, "gridsearch": 0.2}}
                for s in ("diag", "full", "kron")
            }
        },
        "pipeline": {"seconds": {_W: 84.0, _C: 7.0}, "speedup": 12.0},
    },
}
RUNNER = {"profile": "smoke", "seconds": {"00_data": 20.0, "01_baseline": 300.0}, "machine": MACHINE}


def test_nothing_measured_says_so_everywhere():
    page = performance_markdown({}, None)
    assert page.count(NOT_MEASURED) == len(BENCHMARKS) + 1  # each benchmark and the book build
    for name in BENCHMARKS:
        assert f"results/benchmarks/{name}.json" in page
    assert "No GPU figures are recorded" in page
    assert " ms |" not in page and "images/s" not in page


def test_figures_come_from_the_files():
    page = performance_markdown(
        {"saliency": SALIENCY, "loader": LOADER, "laplace": LAPLACE, "pylon": _pylon_record(1.0, 1.43)},
        RUNNER,
        ["00_data", "01_baseline"],
    )
    assert page.count(NOT_MEASURED) == 3  # no GPU check record given, no real-scale or report record
    assert "run `make gpu-check`" in page and "run `python benchmarks/bench_real_scale.py`" in page
    assert "| weighted BCE | 900 ms | 1.00 |" in page
    assert "| 918 ms | **1.02** (target ≤ 1.05) |" in page
    assert "| 5,400 ms | 6.00 |" in page
    assert "**14.0× slower** (target ≥ 5×)" in page and "pytorch-grad-cam 1.5.7" in page and "5.2e-06" in page
    assert "| 18,000 images/s |" in page and "| 60 images/s |" in page and "**300×**" in page
    assert "2.8 s here" in page
    assert (
        "| 00_data | 20 s |" in page and "| 01_baseline | 5.0 min |" in page and "| **total** | **5.3 min** |" in page
    )
    assert "--profile smoke" in page
    machine = (
        "Measured 2026-11-23 10:00 UTC on Test CPU 9000, 2 cores (2 torch threads); device cpu; "
        "torch 2.14.1, numpy 2.4.0."
    )
    assert page.count(machine) == 5  # four benchmarks and the book build
    assert "No GPU figures are recorded" in page


def test_laplace_section_reads_its_file():
    page = performance_markdown({"laplace": LAPLACE}, None)
    section = page.split("## Last-layer Laplace")[1].split("\n## ")[0]
    assert "| diag | 6,000 ms | 50 ms | **120×** | 2.0× | 0.0e+00 |" in section
    assert "| kron | 9,000 ms | 60 ms | **150×** | 2.9× | 1.0e-07 |" in section
    assert "**12.0× faster** (target ≥ 10×)" in section and "whole network 84 s, cached features 7 s" in section
    assert "| full | 100 ms | 210 ms | 0.063 h | 0.351 h |" in section
    assert "python benchmarks/bench_laplace.py" in section and "laplace-torch 0.3" in section
    empty = performance_markdown({}, None).split("## Last-layer Laplace")[1].split("\n## ")[0]
    assert NOT_MEASURED in empty


def _pylon_record(gmp: float, pylon: float) -> dict:
    return {
        "benchmark": "pylon",
        "machine": MACHINE,
        "settings": {"encoder": "resnet50", "image_size": 256, "batch": 4, "classes": 8, "repeats": 3},
        "figures": {
            "training_step": {
                "seconds": {
                    "gmp": gmp,
                    "pylon": pylon,
                    "pylon (light UP)": 1.15 * gmp,
                    "gmp, channels_last": 0.8 * gmp,
                    "pylon, channels_last": 1.0 * gmp,
                }
            },
            "maps": {"seconds": {"native maps (1 forward)": 0.5, "Grad-CAM (1 forward, K backward)": 0.6}},
        },
    }


def test_pylon_section_reads_its_file_and_says_whether_the_target_is_met():
    section = performance_markdown({"pylon": _pylon_record(1.0, 1.43)}, None).split("## PYLON")[1].split("\n## ")[0]
    assert "| PYLON (the reference's decoder) | 1,430 ms | **1.43×** | 1,000 ms | **1.25×** |" in section
    assert "**missed in contiguous (NCHW) (1.43×), met in channels_last (1.25×)**" in section
    assert "| PYLON with light UP modules | 1,150 ms | 1.15× | — | — |" in section and "light_up=True" in section
    assert "those convolutions are 65% of PYLON's extra time" in section
    assert "**1.20×** the native map's time" in section and "`resnet50`, 256 px" in section
    assert "python benchmarks/bench_pylon.py" in section
    met = performance_markdown({"pylon": _pylon_record(1.0, 1.2)}, None).split("## PYLON")[1].split("\n## ")[0]
    assert "**met in contiguous (NCHW) (1.20×), met in channels_last (1.25×)**" in met
    assert "reference code" not in met
    assert NOT_MEASURED in performance_markdown({}, None).split("## PYLON")[1].split("\n## ")[0]


def test_partial_runner_and_missing_benchmark():
    runner = {"profile": "smoke", "seconds": {"00_data": 18.0}}
    page = performance_markdown({"loader": LOADER}, runner, ["00_data", "01_baseline"])
    saliency = page.split("## Saliency")[1].split("##")[0]
    assert NOT_MEASURED in saliency and "python benchmarks/bench_saliency.py" in saliency
    assert "did not execute 01_baseline" in page
    assert "Machine not recorded." in page


def test_gpu_figures_are_named_when_recorded():
    gpu = dict(SALIENCY, machine=dict(MACHINE, device="cuda", gpu="NVIDIA H100"))
    page = performance_markdown({"saliency": gpu}, None)
    assert "No GPU figures" not in page
    assert "GPU figures recorded in this build: saliency (NVIDIA H100)" in page
    assert "device cuda (NVIDIA H100)" in page


def test_write_benchmark_and_write_performance(tmp_path):
    path = write_benchmark("loader", LOADER["figures"], "cpu", tmp_path, LOADER["settings"])
    assert path == tmp_path / "results" / "benchmarks" / "loader.json"
    record = json.loads(path.read_text())
    assert record["figures"] == LOADER["figures"] and record["settings"] == LOADER["settings"]
    for key in ("date", "cpu_model", "cpu_cores", "torch", "numpy", "device"):
        assert record["machine"][key], key
    assert read_benchmarks(tmp_path) == {"loader": record}
    (tmp_path / "results" / "_runner.json").write_text(json.dumps(RUNNER))
    (tmp_path / "book").mkdir()
    page = write_performance(tmp_path, ["00_data", "01_baseline"]).read_text()
    assert "| 18,000 images/s |" in page and "| **total** | **5.3 min** |" in page
    assert NOT_MEASURED in page.split("## Saliency")[1].split("##")[0]


def test_machine_info_names_the_machine():
    info = machine_info("cpu")
    assert info["cpu_cores"] >= 1 and info["device"] == "cpu"
    assert info["torch"] and info["numpy"] and info["cpu_model"]


def test_every_benchmark_script_writes_its_file():
    for name in set(BENCHMARKS) - {"gpu_check"}:  # the GPU check is cxrlib.gpu_check (make gpu-check)
        source = (ROOT / "benchmarks" / f"bench_{name}.py").read_text()
        assert f'write_benchmark("{name}"' in source, name


def test_interleaved_warms_up_then_alternates_and_takes_medians():
    calls = []
    ticks = iter(range(1000))  # a fake clock: each reading one second later than the last

    def step(name, work):
        def run():
            calls.append(name)
            for _ in range(work):  # a step "takes" as many extra clock readings as its work
                next(ticks)

        return run

    t = interleaved({"a": step("a", 0), "b": step("b", 2)}, 3, "cpu", clock=lambda: float(next(ticks)))
    assert calls == ["a", "b"] + ["a", "b"] * 3  # warm-up, then A, B, A, B...
    assert list(t) == ["a", "b"] and t == {"a": 1.0, "b": 3.0}
    with pytest.raises(ValueError, match="repeats"):
        interleaved({"a": step("a", 0)}, repeats=0)
