"""Study 06: a Bayesian last layer by the Laplace approximation (Vilter and Daglaroglou).

* **Table 1** (the source's): the source's 4-layer CNN (``vilter-cnn``) is trained on SynthMSK (7
  MURA body parts, softmax cross-entropy); a last-layer Laplace approximation (laplace-torch on the
  cached penultimate features, :class:`~cxrlib.bayes.LastLayerLaplace`) with a diagonal, full and
  Kronecker-factored Hessian, prior precision by ``prior_fit``; test accuracy, top-label ECE, NLL,
  fit time and prior-optimisation time against the MAP network. Reliability diagrams per method,
  CAM per body part (the source's Fig. 3).
* **Multi-label** (beyond the source): a small CNN with a sigmoid head (CheXpert five, plain BCE) on
  SynthCXR; per-class ECE and NLL of the MAP network, of the Bernoulli last-layer Laplace
  (:class:`~cxrlib.bayes.BernoulliLastLayerLaplace`, probit predictive) and of temperature scaling
  fitted on validation.
* **Out of distribution** (beyond the source): SynthCXR images fed to the MSK model; predictive
  entropy of MAP and of each Laplace, and how well it separates them from MSK test images (AUROC).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ..bayes import DEFAULT_GRID, BernoulliLastLayerLaplace, LastLayerLaplace, nll_loss, penultimate_features
from ..calibration import fit_temperature
from ..data import CXRDataset, open_dataset
from ..losses import SoftmaxCrossEntropyLoss, WeightedBCELoss
from ..metrics import auroc, expected_calibration_error, negative_log_likelihood, reliability_curve
from ..models import build_model
from ..saliency import compute_saliency
from ..train import fit, resolve_device
from .common import check_backbone, resolve_settings, study_train_config
from .runinfo import describe_run

__all__ = ["LaplaceSettings", "LaplaceResult", "laplace_settings", "run_laplace", "HESSIANS"]

HESSIANS = ("diag", "full", "kron")
#: the source's Table 1 in hours: fit, prior optimisation
PAPER_HOURS = {"diag": (0.072, 0.546), "full": (0.063, 0.351), "kron": (0.074, 0.709)}


@dataclass
class LaplaceSettings:
    profile: str = "default"
    n: int = 3000  #: SynthMSK images generated (train / val / test by patient)
    image_size: int = 64
    backbone: str = "vilter-cnn"
    epochs: int = 20
    lr: float = 1e-3
    batch_size: int = 32
    hessians: tuple[str, ...] = HESSIANS
    prior_fit: str = "marglik"  #: "marglik" (evidence) or "gridsearch" (validation NLL)
    predictive: str = "probit"  #: "probit" or "mc"
    n_bins: int = 15
    cxr_n: int = 1200  #: SynthCXR images for the multi-label part (0: skip it)
    cxr_backbone: str = "small-cnn"
    cxr_epochs: int = 8
    ood_n: int = 300  #: SynthCXR images fed to the MSK model (0: skip the OOD check)
    device: str = "auto"
    data_seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        check_backbone(self.backbone)
        check_backbone(self.cxr_backbone, "cxr_backbone")
        bad = [h for h in self.hessians if h not in HESSIANS]
        if bad or not self.hessians:
            raise ValueError(f"parameter 'hessians': unknown {bad or 'empty list'}; use any of {list(HESSIANS)}")
        if self.prior_fit not in ("marglik", "gridsearch"):
            raise ValueError(f"parameter 'prior_fit' must be 'marglik' or 'gridsearch', got {self.prior_fit!r}")
        if self.predictive not in ("probit", "mc"):
            raise ValueError(f"parameter 'predictive' must be 'probit' or 'mc', got {self.predictive!r}")
        if self.n < 70:
            raise ValueError(f"parameter 'n' must be >= 70 (10 images per body part), got {self.n}")
        if self.n_bins < 2 or self.epochs < 1 or self.cxr_epochs < 1:
            raise ValueError("parameters 'n_bins' (>= 2), 'epochs' and 'cxr_epochs' (>= 1) are out of range")
        if self.cxr_n < 0 or self.ood_n < 0:
            raise ValueError("parameters 'cxr_n' and 'ood_n' must be >= 0")


#: Budgets on a 2-core CPU: smoke <= 90 s, default <= 4 min; ``full`` approaches the source's scale
#: (its MURA set has ~40k images at 224 px).
PRESETS = {
    "smoke": {"n": 700, "epochs": 8, "cxr_n": 400, "cxr_epochs": 3, "ood_n": 100},
    "default": {"n": 3000, "epochs": 20, "cxr_n": 1200, "cxr_epochs": 8, "ood_n": 300},
    "full": {"n": 10000, "image_size": 128, "epochs": 30, "cxr_n": 6000, "cxr_epochs": 15, "ood_n": 1000},
}


def laplace_settings(profile: str = "default", **overrides) -> LaplaceSettings:
    """Settings for ``profile`` with every non-None override applied."""
    return resolve_settings(LaplaceSettings, PRESETS, profile, **overrides)


def _entropy(p: torch.Tensor) -> torch.Tensor:
    p = p.clamp_min(1e-12)
    return -(p * p.log()).sum(1)


@dataclass
class LaplaceResult:
    settings: LaplaceSettings
    table1: pd.DataFrame  #: one row per method: accuracy, ECE, NLL, fit and optimisation seconds
    curves: dict  #: method → reliability curve (top-label)
    cam: dict  #: images, maps, classes, class_index of one test image per body part
    multilabel: pd.DataFrame | None = None  #: (method, metric) rows × classes
    ood: pd.DataFrame | None = None  #: per method: mean entropy in / out, AUROC
    history: pd.DataFrame | None = None
    extra: dict = field(default_factory=dict)
    priors: pd.DataFrame | None = None  #: (hessian, prior fit) rows: prior precision, seconds, test scores
    headline: dict = field(default_factory=dict)
    run: dict = field(default_factory=dict)

    def reliability_figure(self):
        from .. import plots

        return plots.reliability_diagram(
            {m: {m: c} for m, c in self.curves.items()},
            title=f"SynthMSK test: top-label reliability ({self.settings.n_bins} bins)",
            ncols=len(self.curves),
        )

    def cam_figure(self):
        from .. import plots

        c = self.cam
        return plots.saliency_overlays(c["images"], {"CAM": c["maps"]}, c["classes"], c["class_index"])

    def multilabel_figure(self, metric: str = "ECE"):
        from .. import plots

        if self.multilabel is None:
            return None
        table = self.multilabel.xs(metric, level="metric")
        return plots.per_class_heatmap(
            table, f"SynthCXR test: per-class {metric}", vmax=float(np.nanmax(table.to_numpy())), cmap="magma_r"
        )

    def discussion(self) -> str:
        return laplace_discussion(self)


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
    prior_rows = {}
    for h in s.hessians:
        for method in (s.prior_fit, *({"marglik", "gridsearch"} - {s.prior_fit})):
            la = LastLayerLaplace.from_model(model, h).fit(feats["train"].features, feats["train"].labels)
            la.optimize_prior_precision(method, feats["val"].features, feats["val"].labels, predictive=s.predictive)
            p = la.predict_proba(feats["test"].features, s.predictive)
            prior_rows[(h, method)] = {
                "prior precision": float(la.prior_precision[0]),
                "optimise (s)": la.seconds[method],
                **_top_label(p, y_test, s.n_bins),
            }
            if method == s.prior_fit:
                laplaces[h] = la
                probs[f"Laplace {h}"] = p
    priors = pd.DataFrame(prior_rows).T
    priors.index.names = ["hessian", "prior fit"]
    for name, p in probs.items():
        row = _top_label(p, y_test, s.n_bins)
        h = name.removeprefix("Laplace ")
        la = laplaces.get(h)
        row["fit (s)"] = la.seconds["fit"] if la else float("nan")
        row["optimise (s)"] = la.seconds[s.prior_fit] if la else float("nan")
        row["prior precision"] = float(la.prior_precision[0]) if la else float("nan")
        row["paper fit (h)"], row["paper optimise (h)"] = PAPER_HOURS.get(h, (float("nan"), float("nan")))
        rows[name] = row
        curves[name] = reliability_curve(p.numpy(), y_test.numpy(), s.n_bins, kind="top-label")
    table1 = pd.DataFrame(rows).T
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
    result = LaplaceResult(s, table1, curves, cam, multilabel, ood, trained.history, extra, priors)
    result.run = describe_run(
        s,
        {"train": len(train), "val": len(val), "test": len(test)},
        time.perf_counter() - t_start,
        classes=list(ds.classes),
    )
    result.run["multilabel_images"] = result.run.pop("cxr_n", s.cxr_n)
    result.headline = _headline(result)
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


def _f(x: float, d: int = 3) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{d}f}"


def _summary(row: pd.Series, with_times: bool) -> str:
    text = f"{row['accuracy']:.3f} / {row['ECE']:.3f} / {row['NLL']:.3f}"
    if with_times:
        text += f"; {row['fit (s)']:.2g} s, {row['optimise (s)']:.2g} s"
    return text


def laplace_discussion(result: LaplaceResult) -> str:
    """Paragraphs written from the numbers of ``result`` (Markdown)."""
    s, t = result.settings, result.table1
    map_row = t.loc["MAP"]
    lap = t.drop(index="MAP")
    parts = [
        f"**Table 1.** The MAP network reached test accuracy {map_row['accuracy']:.3f}, top-label ECE "
        f"{map_row['ECE']:.3f} and NLL {map_row['NLL']:.3f}."
    ]
    for name, row in lap.iterrows():
        d_ece, d_nll = row["ECE"] - map_row["ECE"], row["NLL"] - map_row["NLL"]
        parts.append(
            f"{name} ({s.prior_fit}, prior precision {row['prior precision']:.3g}): accuracy {row['accuracy']:.3f}, "
            f"ECE {row['ECE']:.3f} ({'lower' if d_ece < 0 else 'higher' if d_ece > 0 else 'unchanged'}), NLL "
            f"{row['NLL']:.3f} ({'lower' if d_nll < 0 else 'higher' if d_nll > 0 else 'unchanged'})."
        )
    best = lap["NLL"].idxmin()
    parts.append(f"The lowest NLL among the Laplace variants was {best}'s.")
    gap = map_row["confidence"] - map_row["accuracy"]
    lowered = bool((lap["confidence"] < map_row["confidence"]).all())
    text = (
        f"The MAP network's mean top-class confidence was {map_row['confidence']:.3f} against its accuracy "
        f"{map_row['accuracy']:.3f}: it was {'over' if gap > 0 else 'under'}confident. The Laplace predictive "
        f"{'lowered' if lowered else 'changed'} the mean confidence to {lap['confidence'].min():.3f}–"
        f"{lap['confidence'].max():.3f}"
    )
    if lowered:
        text += (
            ", which moves an overconfident network towards calibration."
            if gap > 0
            else ", which moves an underconfident network further from calibration: the posterior widens the "
            "predictions, and here they needed sharpening."
        )
    parts.append(text + ("" if lowered else "."))
    changed = lap.index[(lap["accuracy"] - map_row["accuracy"]).abs() > 1e-12].tolist()
    parts.append(
        "The multi-class probit scales each logit by its own variance, so it can change the arg-max: "
        + (f"here it changed the accuracy of {', '.join(changed)}." if changed else "here it changed no accuracy.")
    )
    slowest = float((lap["fit (s)"] + lap["optimise (s)"]).max())
    parts.append(
        f"On cached features every fit plus prior optimisation took at most {slowest:.2g} s (the encoder's one "
        f"pass over all splits took {result.extra['feature_seconds']:.2g} s), against the source's "
        "0.4–0.8 h on MURA; data sizes and hardware differ by orders of magnitude, so only the order of the "
        "times is comparable."
    )
    out = [" ".join(parts)]
    if result.priors is not None and len(result.priors):
        sentences = []
        for h in s.hessians:
            r = result.priors.loc[h]
            if len(r) == 2:
                m, g = r.loc["marglik"], r.loc["gridsearch"]
                sentences.append(
                    f"{h}: λ = {m['prior precision']:.3g} by the evidence "
                    f"(NLL {m['NLL']:.3f}, {m['optimise (s)']:.2g} s)"
                    f" and {g['prior precision']:.3g} by the grid (NLL {g['NLL']:.3f}, {g['optimise (s)']:.2g} s)"
                    + (
                        ", the grid's largest value, where the posterior has all but collapsed onto the MAP weights"
                        if g["prior precision"] >= max(DEFAULT_GRID)
                        else ""
                    )
                )
        if sentences:
            out.append("**Choosing the prior precision λ.** " + "; ".join(sentences) + ".")
    if result.multilabel is not None:
        m = result.multilabel.mean(axis=1).unstack()
        info = result.extra["bernoulli"]
        text = "**Multi-label.** Mean over the five classes on the SynthCXR test set: " + "; ".join(
            f"{name}: ECE {_f(r['ECE'], 4)}, NLL {_f(r['NLL'], 4)}" for name, r in m.iterrows()
        )
        text += f" (temperature T = {info['temperature']:.2f}). "
        best = m["NLL"].idxmin()
        text += f"The lowest mean NLL was {best}'s. "
        text += (
            "The probit predictive kept every probability on the MAP's side of 1/2, as it must (it only shrinks "
            "the logit), so thresholded decisions at 1/2 did not change."
            if info["same_side_of_half"]
            else "Some probabilities crossed 1/2 under the probit predictive, which should not happen."
        )
        out.append(text)
    if result.ood is not None:
        o = result.ood
        rows = "; ".join(
            f"{name}: {_f(r['entropy MSK test'], 2)} → {_f(r['entropy SynthCXR'], 2)} nats (AUROC "
            f"{_f(r['AUROC (entropy flags SynthCXR)'])})"
            for name, r in o.iterrows()
        )
        gain = o.drop(index="MAP")["AUROC (entropy flags SynthCXR)"] - o.loc["MAP", "AUROC (entropy flags SynthCXR)"]
        verdict = (
            "Every Laplace variant separated the shifted images at least as well as MAP."
            if (gain >= 0).all()
            else "Not every Laplace variant separated the shifted images at least as well as MAP."
        )
        below = o.index[o["AUROC (entropy flags SynthCXR)"] < 0.5].tolist()
        if below:
            verdict += (
                f" For {', '.join(below)} the AUROC is below 0.5: the chest images got *lower* entropy than the "
                "MSK test images, so entropy does not flag them: "
                "the model is more certain about images of another domain than about its own."
            )
        out.append(
            f"**Out of distribution.** Mean predictive entropy on MSK test vs SynthCXR images (max "
            f"{np.log(len(result.run['classes'])):.2f} nats): {rows}. {verdict}"
        )
    return "\n\n".join(out)


def _headline(result: LaplaceResult) -> dict:
    s, t = result.settings, result.table1
    table1 = {}
    for name, row in t.iterrows():
        key = "map" if name == "MAP" else name.removeprefix("Laplace ")
        entry = {k: float(row[k]) for k in ("accuracy", "ECE", "NLL")}
        if key != "map":
            entry.update(
                {
                    "fit_seconds": float(row["fit (s)"]),
                    "optimise_seconds": float(row["optimise (s)"]),
                    "prior_precision": float(row["prior precision"]),
                }
            )
        entry["summary"] = _summary(row, key != "map")
        table1[key] = entry
    head = {"run": result.run, "profile": s.profile, "prior_fit": s.prior_fit, "table1": table1}
    if result.priors is not None:
        head["priors"] = {
            f"{h}_{method}": {k.replace(" (s)", "_seconds").replace(" ", "_"): float(v) for k, v in r.items()}
            for (h, method), r in result.priors.iterrows()
        }
    if result.multilabel is not None:
        m = result.multilabel.mean(axis=1).unstack()
        head["multilabel"] = {
            "mean": {name: {"ECE": float(r["ECE"]), "NLL": float(r["NLL"])} for name, r in m.iterrows()},
            **{k: v for k, v in result.extra["bernoulli"].items() if k != "seconds"},
        }
    if result.ood is not None:
        head["ood"] = {
            name: {k.split(" (")[0].replace(" ", "_"): float(v) for k, v in r.items()}
            for name, r in result.ood.iterrows()
        }
    return head
