"""The reliability report's cost (python benchmarks/bench_report.py): ``cxrlib.report.reliability_report``
on ``--n`` SynthCXR test images at ``--size`` px (target: 1,000 images at 64 px in <= 60 s on a 2-core
CPU), for a small CNN with every section on (validation split, last-layer Laplace, the model's own maps,
the shortcut probe), with the seconds of each step (``report.seconds``). Then the bootstrap over patients
alone at a real test set's size (``--scale-n`` images, two per patient, five classes): its seconds and the peak
of the memory numpy allocates (``tracemalloc``), which the block-wise scoring keeps bounded. The figures go
to results/benchmarks/report.json.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch

from cxrlib.data import open_synth_cxr
from cxrlib.models import build_model
from cxrlib.performance import write_benchmark
from cxrlib.report import PatientBootstrap, bootstrap_auroc, bootstrap_mean_auroc, reliability_report

#: the issue's budget: 1,000 test images at 64 px
TARGET_SECONDS = 60.0


def bootstrap_at_scale(n: int, resamples: int, classes: int = 5) -> dict:
    """The discrimination section's bootstrap (per-class and mean AUROC intervals) on ``n`` images of
    ``n / 2`` patients: seconds and the peak of traced (numpy) memory, in MB."""
    rng = np.random.default_rng(0)
    labels = (rng.random((n, classes)) < 0.2).astype(float)
    labels[rng.random((n, classes)) < 0.05] = np.nan
    scores = rng.normal(0, 1, (n, classes)) + np.nan_to_num(labels)
    patients = np.arange(n) // 2
    tracemalloc.start()
    start = time.perf_counter()
    bootstrap = PatientBootstrap.draw(patients, resamples, seed=0)
    for k in range(classes):
        bootstrap_auroc(scores[:, k], labels[:, k], bootstrap)
    bootstrap_mean_auroc(scores, labels, bootstrap)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    weights_mb = bootstrap.weights.nbytes / 1e6
    return {"images": n, "resamples": resamples, "seconds": seconds, "peak_mb": peak / 1e6, "weights_mb": weights_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="test images")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--scale-n", type=int, default=50_000, help="test images of the bootstrap-at-scale run")
    parser.add_argument(
        "--root",
        default=str(Path(__file__).resolve().parents[1]),
        help="write <root>/results/benchmarks/report.json (default: this repository)",
    )
    args = parser.parse_args()
    # SynthCXR's default split gives about 15 % test and 15 % validation: draw enough images for n of each
    data = open_synth_cxr(n=int(args.n / 0.15) + 20, image_size=args.size, seed=0, progress=False)
    test = data.subset("test").take(torch.arange(args.n).numpy())
    val = data.subset("val")
    torch.manual_seed(0)
    model = build_model("small-cnn", len(data.classes)).eval()
    start = time.perf_counter()
    report = reliability_report(model, test, val, last_layer="classifier", n_bootstrap=args.bootstrap)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    page = report.html()  # what saving it costs: every figure drawn to an embedded PNG
    html_seconds = time.perf_counter() - start
    report.close_figures()
    seconds += html_seconds
    figures = {
        "seconds": seconds,
        "steps": {**report.seconds, "HTML (figures drawn)": html_seconds},
        "html_bytes": len(page.encode()),
        "test_images": len(test),
        "validation_images": len(val),
        "sections": {s.key: s.available for s in report.sections},
        "target_seconds": TARGET_SECONDS,
        "bootstrap_at_scale": bootstrap_at_scale(args.scale_n, args.bootstrap),
    }
    print(f"report on {len(test)} images at {args.size} px: {seconds:.1f} s (target <= {TARGET_SECONDS:.0f} s)")
    scale = figures["bootstrap_at_scale"]
    print(f"bootstrap on {scale['images']:,} images: {scale['seconds']:.1f} s, peak {scale['peak_mb']:.0f} MB")
    settings = {
        "n": args.n,
        "size": args.size,
        "bootstrap": args.bootstrap,
        "model": "small-cnn",
        "scale_n": args.scale_n,
    }
    path = write_benchmark("report", figures, "cpu", args.root, settings)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
