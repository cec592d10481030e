"""Last-layer Laplace on cached features against laplace-torch's whole-network fit, as ratios in one run
(python benchmarks/bench_laplace.py).

The Laplace study's CNN (``vilter-cnn``) is trained briefly on SynthMSK (the seven body parts), then, for each
Hessian structure (diag, full, kron), in float32 (the network's dtype) and with the same batches:

1. Fit: laplace-torch's own last-layer fit over the whole network (images in:
   ``cxrlib.bayes.whole_network_laplace``) against the fit of the last layer alone on the cached
   penultimate features (``LastLayerLaplace``); the posteriors are compared (largest relative
   difference of the Hessians or Kronecker factors). The encoder pass that caches the features
   (``penultimate_features``) is timed on its own, and a second ratio counts it in every fit.
   Interleaved (A, B, A, B...), medians compared.
2. Prior precision: by marginal likelihood (laplace-torch's Adam, 100 steps, against the exact 1-D
   maximisation) and by a validation grid search (``--grid`` values, NLL; laplace-torch runs the network
   over the validation images for every value, the cached version works on the validation features).
3. The Laplace study's Table 1 pipeline, fit + both prior optimisations for the three structures: the sum of the
   above, the cached side with one encoder pass over the training and one over the validation images.
   Target >= 10x.

The figures go to results/benchmarks/laplace.json (with the date, machine and versions), from which the
book's performance page is generated.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import platform
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from cxrlib.bayes import (
    LastLayerLaplace,
    image_class_loader,
    nll_loss,
    penultimate_features,
    whole_network_laplace,
)
from cxrlib.data import open_dataset
from cxrlib.losses import SoftmaxCrossEntropyLoss
from cxrlib.models import build_model
from cxrlib.performance import write_benchmark
from cxrlib.train import TrainConfig, fit, resolve_device

STRUCTURES = ("diag", "full", "kron")
WHOLE, CACHED = "whole network (laplace-torch)", "cached features (cxrlib)"


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed(fn, device) -> tuple[float, object]:
    _sync(device)
    t = time.perf_counter()
    out = fn()
    _sync(device)
    return time.perf_counter() - t, out


def _hessians(la) -> list[torch.Tensor]:
    if getattr(la, "H_facs", None) is not None:
        return [f for pair in la.H_facs.kfacs for f in pair]
    return [la.H]


def measure(model, train, val, device, repeats: int, grid_size: int, batch: int) -> dict:
    """Fits interleaved (``repeats`` times), then each prior optimisation once per structure and side."""
    grid = np.logspace(-4, 4, grid_size)

    def features(data):
        return penultimate_features(model, data, batch_size=batch, device=device)

    def whole(s):
        return whole_network_laplace(model, train, s, batch_size=batch)

    def cached(s, feats):
        return LastLayerLaplace.from_model(model, s, dtype=torch.float32).fit(feats.features, feats.labels, batch)

    feats, val_feats = features(train), features(val)
    fitted, difference = {}, {}
    for s in STRUCTURES:  # warm-up, and the posteriors compared
        fitted[s] = (whole(s), cached(s, feats))
        pairs = zip(_hessians(fitted[s][0]), _hessians(fitted[s][1].la))
        difference[s] = max(float((a.cpu() - b).abs().max() / a.abs().max()) for a, b in pairs)
    times = {s: {WHOLE: [], CACHED: []} for s in STRUCTURES}
    feature_times = []
    for _ in range(repeats):
        feature_times.append(_timed(lambda: features(train), device)[0])
        for s in STRUCTURES:
            times[s][WHOLE].append(_timed(lambda s=s: whole(s), device)[0])
            times[s][CACHED].append(_timed(lambda s=s: cached(s, feats), device)[0])
    fit_seconds = {s: {k: statistics.median(v) for k, v in t.items()} for s, t in times.items()}
    feature_seconds = statistics.median(feature_times)

    prior = {}
    for s in STRUCTURES:
        reference, ours = fitted[s]
        steps = {WHOLE: {}, CACHED: {}}
        steps[WHOLE]["marglik"] = _timed(
            lambda r=reference: r.optimize_prior_precision(pred_type="glm", method="marglik", prior_structure="scalar"),
            device,
        )[0]
        steps[CACHED]["marglik"] = _timed(lambda o=ours: o.optimize_prior_precision("marglik"), device)[0]
        steps[WHOLE]["gridsearch"] = _timed(
            lambda r=reference: r.optimize_prior_precision(
                pred_type="glm",
                method="gridsearch",
                val_loader=image_class_loader(val, batch),
                loss=nll_loss,
                log_prior_prec_min=-4,
                log_prior_prec_max=4,
                grid_size=grid_size,
            ),
            device,
        )[0]
        steps[CACHED]["gridsearch"] = _timed(
            lambda o=ours: o.optimize_prior_precision("gridsearch", val_feats.features, val_feats.labels, grid=grid),
            device,
        )[0]
        prior[s] = steps
    val_feature_seconds = _timed(lambda: features(val), device)[0]
    whole_total = sum(fit_seconds[s][WHOLE] + sum(prior[s][WHOLE].values()) for s in STRUCTURES)
    cached_total = (
        feature_seconds
        + val_feature_seconds
        + sum(fit_seconds[s][CACHED] + sum(prior[s][CACHED].values()) for s in STRUCTURES)
    )
    return {
        "fit": {
            "seconds": fit_seconds,
            "feature_pass_seconds": feature_seconds,
            "speedup": {s: fit_seconds[s][WHOLE] / fit_seconds[s][CACHED] for s in STRUCTURES},
            "speedup_with_feature_pass": {
                s: fit_seconds[s][WHOLE] / (fit_seconds[s][CACHED] + feature_seconds) for s in STRUCTURES
            },
            "max_relative_difference": difference,
        },
        "prior": {"seconds": prior},
        "pipeline": {
            "seconds": {WHOLE: whole_total, CACHED: cached_total},
            "speedup": whole_total / cached_total,
            "validation_feature_pass_seconds": val_feature_seconds,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--n", type=int, default=1000, help="SynthMSK images (70%% train, 15%% val)")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=3, help="training epochs of the CNN before the Laplace fits")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--grid", type=int, default=21, help="prior precisions the grid search tries")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument(
        "--root",
        default=str(Path(__file__).resolve().parents[1]),
        help="write <root>/results/benchmarks/laplace.json (default: this repository)",
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="By default `link_approx` is `probit`")
    device = resolve_device(args.device)
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"{platform.processor() or 'cpu'}, {torch.get_num_threads()} threads"
    )
    print(f"device: {device} ({name}); torch {torch.__version__}")
    data = open_dataset("synth-msk", n=args.n, image_size=args.image_size, seed=0, progress=False)
    train, val = data.subset("train"), data.subset("val")
    torch.manual_seed(0)
    model = build_model("vilter-cnn", len(data.classes))
    config = TrainConfig(epochs=args.epochs, lr=1e-3, batch_size=32, device=str(device), progress=False)
    trained = fit(model, train, val, SoftmaxCrossEntropyLoss(), config)
    accuracy = float(trained.history["val_accuracy"].iloc[trained.best_epoch - 1])
    model.to(device).eval()
    print(
        f"SynthMSK {len(train)} train / {len(val)} val images at {args.image_size} px; CNN val accuracy {accuracy:.3f}"
    )

    figures = measure(model, train, val, device, args.repeats, args.grid, args.batch)
    fits = figures["fit"]
    print(f"  encoder pass over the training images (caches the features): {fits['feature_pass_seconds']:.2f} s")
    for s in STRUCTURES:
        t = fits["seconds"][s]
        print(
            f"  fit {s:4s}  {WHOLE} {t[WHOLE]:7.2f} s   {CACHED} {t[CACHED]:6.3f} s   {fits['speedup'][s]:6.1f}x "
            f"({fits['speedup_with_feature_pass'][s]:.1f}x with the encoder pass)   max relative difference of the "
            f"Hessians {fits['max_relative_difference'][s]:.1e}"
        )
        for step in ("marglik", "gridsearch"):
            w, c = figures["prior"]["seconds"][s][WHOLE][step], figures["prior"]["seconds"][s][CACHED][step]
            print(f"  {step:10s} {s:4s}  {WHOLE} {w:7.2f} s   {CACHED} {c:6.3f} s   {w / c:6.1f}x")
    pipe = figures["pipeline"]
    print(
        f"fit + marglik + grid search ({args.grid} values), diag + full + kron: "
        f"{WHOLE} {pipe['seconds'][WHOLE]:.1f} s, {CACHED} {pipe['seconds'][CACHED]:.1f} s "
        f"(encoder passes included): {pipe['speedup']:.1f}x (target >= 10x)"
    )
    settings = {
        "backbone": "vilter-cnn",
        "dataset": "synth-msk",
        "image_size": args.image_size,
        "n_train": len(train),
        "n_val": len(val),
        "epochs": args.epochs,
        "val_accuracy": accuracy,
        "repeats": args.repeats,
        "grid_size": args.grid,
        "batch": args.batch,
        "dtype": "float32",
        "laplace_torch": importlib.metadata.version("laplace-torch"),
    }
    path = write_benchmark("laplace", figures, device, args.root, settings)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
