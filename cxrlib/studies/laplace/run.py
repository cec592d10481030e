"""Study 06: the run: training and evaluation."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from ...bayes import BernoulliLastLayerLaplace, LastLayerLaplace, nll_loss, penultimate_features
from ...calibration import fit_temperature
from ...data import CXRDataset, open_dataset
from ...losses import SoftmaxCrossEntropyLoss, WeightedBCELoss
from ...metrics import auroc, expected_calibration_error, negative_log_likelihood, reliability_curve
from ...models import build_model
from ...saliency import compute_saliency
from ...train import fit, resolve_device
from ..common import study_train_config
from ..runinfo import describe_run
from .result import LaplaceResult, headline
from .settings import PRIOR_FITS, LaplaceSettings

__all__ = ["PAPER_HOURS", "run_laplace"]


#: the source's Table 1 in hours: fit, prior optimisation
PAPER_HOURS = {"diag": (0.072, 0.546), "full": (0.063, 0.351), "kron": (0.074, 0.709)}


def _entropy(p: torch.Tensor) -> torch.Tensor:
    p = p.clamp_min(1e-12)
    return -(p * p.log()).sum(1)


def _train(s: LaplaceSettings, backbone: str, k: int, train, val, loss, epochs: int):
    torch.manual_seed(0)
    model = build_model(backbone, k)
    result = fit(model, train, val, loss, study_train_config(s, 0, epochs=epochs))
    return model.eval(), result


def _top_label(probs: torch.Tensor, onehot: torch.Tensor, n_bins: int) -> dict[str, float]:
    target = onehot.argmax(1)
    return {
        "accuracy": float((probs.argmax(1) == target).double().mean()),
        "confidence": float(probs.max(1).values.double().mean()),
        "ECE": float(expected_calibration_error(probs.numpy(), onehot.numpy(), n_bins, kind="top-label")),
        "NLL": float(nll_loss(probs.double(), target)),
    }


def run_laplace(settings: LaplaceSettings) -> LaplaceResult:
    """Train, fit every Laplace, score; see the module docstring."""
    t_start = time.perf_counter()
    s = settings
    device = resolve_device(s.device)
    ds = open_dataset("synth-msk", n=s.n, image_size=s.image_size, seed=s.data_seed, progress=s.progress)
    train, val, test = ds.subset("train"), ds.subset("val"), ds.subset("test")
    model, trained = _train(s, s.backbone, len(ds.classes), train, val, SoftmaxCrossEntropyLoss(), s.epochs)
    feats = {
        name: penultimate_features(model, part, device=device)
        for name, part in zip(("train", "val", "test"), (train, val, test), strict=True)
    }
    y_test = feats["test"].labels
    rows, curves, laplaces = {}, {}, {}
    probs = {}
    first = LastLayerLaplace.from_model(model, s.hessians[0])
    probs["MAP"] = first.map_proba(feats["test"].features)
    prior_rows, fitted, searches = {}, {}, {}
    for h in s.hessians:
        for method in (s.prior_fit, *(m for m in PRIOR_FITS if m != s.prior_fit)):
            la = LastLayerLaplace.from_model(model, h).fit(feats["train"].features, feats["train"].labels)
            la.optimize_prior_precision(
                method,
                feats["val"].features,
                feats["val"].labels,
                predictive=s.predictive,
                folds=s.cv_folds,
                seed=s.data_seed,
            )
            p = la.predict_proba(feats["test"].features, s.predictive)
            scores = _top_label(p, y_test, s.n_bins)
            prior_rows[(h, method)] = {
                "prior precision": float(la.prior_precision[0]),
                "optimise (s)": la.seconds[method],
                **scores,
            }
            fitted[(h, method)] = (la, p, scores)
            if la.prior_search:
                searches[(h, method)] = la.prior_search
        laplaces[h], probs[f"Laplace {h}"], _ = fitted[(h, s.prior_fit)]
    priors = pd.DataFrame(prior_rows).T
    priors.index.names = ["hessian", "prior fit"]
    # Table 1: the MAP network, each Hessian with the run's prior fit, then (extra rows) by the evidence
    table_rows = {"MAP": (None, "–", (None, probs["MAP"], _top_label(probs["MAP"], y_test, s.n_bins)))}
    for method in dict.fromkeys((s.prior_fit, "marglik")):
        for h in s.hessians:
            name = f"Laplace {h}" if method == s.prior_fit else f"Laplace {h} ({method})"
            table_rows[name] = (h, method, fitted[(h, method)])
    train_pass = feats["train"].seconds
    for name, (h, method, (la, p, scores)) in table_rows.items():
        row = {"prior fit": method, **scores}
        row["prior precision"] = float(la.prior_precision[0]) if la else float("nan")
        row["fit (s)"] = la.seconds["fit"] if la else float("nan")
        row["fit + forward pass (s)"] = la.seconds["fit"] + train_pass if la else float("nan")
        row["optimise (s)"] = la.seconds[method] if la else float("nan")
        paper = PAPER_HOURS.get(h, (float("nan"), float("nan"))) if method == s.prior_fit else (np.nan, np.nan)
        row["paper fit (h)"], row["paper optimise (h)"] = paper
        rows[name] = row
        if name in probs:  # the reliability diagrams: the MAP network and Table 1's own method
            curves[name] = reliability_curve(p.numpy(), y_test.numpy(), s.n_bins, kind="top-label")
    table1 = pd.DataFrame.from_dict(rows, orient="index")  # one dtype per column: the numbers stay numbers
    table1.index.name = "method"
    extra = {"feature_seconds": sum(f.seconds for f in feats.values()), "train_seconds": trained.seconds}
    cam = _cam_examples(model, test, device)

    multilabel = None
    if s.cxr_n:
        multilabel, extra["bernoulli"] = _multilabel(s, device)
    ood = None
    if s.ood_n:
        cxr = open_dataset("synth-cxr", n=s.ood_n, image_size=s.image_size, seed=s.data_seed + 200, progress=s.progress)
        out_feats = penultimate_features(model, cxr, device=device)
        ood_rows = {}
        for name in probs:
            h = name.removeprefix("Laplace ")
            la = laplaces.get(h)
            p_out = la.predict_proba(out_feats.features, s.predictive) if la else first.map_proba(out_feats.features)
            e_in, e_out = _entropy(probs[name]), _entropy(p_out)
            scores = torch.cat([e_in, e_out]).numpy()
            labels = np.r_[np.zeros(len(e_in)), np.ones(len(e_out))]
            ood_rows[name] = {
                "entropy MSK test": float(e_in.mean()),
                "entropy SynthCXR": float(e_out.mean()),
                "AUROC (entropy flags SynthCXR)": auroc(scores, labels),
            }
        ood = pd.DataFrame(ood_rows).T
        ood.index.name = "method"
    result = LaplaceResult(s, table1, curves, cam, multilabel, ood, trained.history, extra, priors, searches)
    result.run = describe_run(
        s,
        {"train": len(train), "val": len(val), "test": len(test)},
        time.perf_counter() - t_start,
        classes=list(ds.classes),
        dataset="synth-msk",
        seeds=[0],  # one network, seed 0, as the source trained one
    )
    result.run["multilabel_images"] = result.run.pop("cxr_n", s.cxr_n)
    result.headline = headline(result)
    return result


def _cam_examples(model, test: CXRDataset, device) -> dict:
    """One test image per body part (the first the model gets right, else the first) and its CAM."""
    labels = test.labels.argmax(1)
    images_all = torch.stack([test[i]["image"] for i in range(len(test))])
    with torch.no_grad():
        logits, _ = compute_saliency(model.to(device).eval(), images_all.to(device), "cam")
    pred = logits.argmax(1).cpu().numpy()
    positions = []
    for k in range(len(test.classes)):
        right = np.flatnonzero((labels == k) & (pred == k))
        anyk = np.flatnonzero(labels == k)
        if len(right) or len(anyk):
            positions.append(int((right if len(right) else anyk)[0]))
    images = images_all[positions]
    with torch.no_grad():
        _, maps = compute_saliency(model, images.to(device), "cam")
    return {
        "images": images,
        "maps": maps.cpu().numpy(),
        "classes": [c.removeprefix("XR_").lower() for c in test.classes],
        "class_index": [int(labels[p]) for p in positions],
    }


def _per_class(probs: np.ndarray, labels: np.ndarray, n_bins: int) -> dict[str, np.ndarray]:
    ece, nll = [], []
    for k in range(labels.shape[1]):
        known = ~np.isnan(labels[:, k])
        ece.append(expected_calibration_error(probs[known, k], labels[known, k], n_bins, kind="binary"))
        nll.append(negative_log_likelihood(probs[known, k], labels[known, k], kind="binary"))
    return {"ECE": np.array(ece), "NLL": np.array(nll)}


def _multilabel(s: LaplaceSettings, device) -> tuple[pd.DataFrame, dict]:
    """Small CNN (plain BCE) on SynthCXR CheXpert five: per-class ECE/NLL of MAP, Bernoulli Laplace, TS."""
    ds = open_dataset(
        "synth-cxr", n=s.cxr_n, image_size=s.image_size, classes="chexpert5", seed=s.data_seed, progress=s.progress
    )
    train, val, test = ds.subset("train"), ds.subset("val"), ds.subset("test")
    model, _ = _train(s, s.cxr_backbone, len(ds.classes), train, val, WeightedBCELoss(None), s.cxr_epochs)
    f_train, f_val, f_test = (penultimate_features(model, p, device=device) for p in (train, val, test))
    la = BernoulliLastLayerLaplace.from_model(model, "full").fit(f_train.features, f_train.labels)
    la.optimize_prior_precision()
    labels = f_test.labels.numpy()
    head = la.map_proba(f_test.features)
    p_la = la.predict_proba(f_test.features, s.predictive).numpy()
    # the head's logits from the posterior's CPU copy of it: the features are cached on the CPU, the model
    # may sit on a GPU
    val_logits, test_logits = la.map_logits(f_val.features).numpy(), la.map_logits(f_test.features).numpy()
    ts = fit_temperature(val_logits, f_val.labels.numpy())
    p_ts = 1 / (1 + np.exp(-np.asarray(ts.apply(test_logits), np.float64)))
    methods = {"MAP": head.numpy(), "Laplace (full, probit)": p_la, "temperature scaling": p_ts}
    rows = {}
    for name, p in methods.items():
        for metric, values in _per_class(p, labels, s.n_bins).items():
            rows[(name, metric)] = dict(zip(ds.classes, values, strict=True))
    table = pd.DataFrame(rows).T
    table.index.names = ["method", "metric"]
    # the probit predictive σ(κ μ), κ > 0, keeps every probability on the MAP's side of 1/2
    same_side = bool(((p_la > 0.5) == (head.numpy() > 0.5)).all())
    info = {
        "temperature": float(np.asarray(ts.temperature).reshape(-1)[0]),
        "prior_precision": [float(v) for v in la.prior_precision],
        "same_side_of_half": same_side,
        "seconds": dict(la.seconds),
        "n_train": len(train),
        "n_test": len(test),
    }
    return table, info
