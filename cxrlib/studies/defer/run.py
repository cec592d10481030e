"""Study 07: the run: training and evaluation."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from ...defer import (
    Balance,
    DeferralRule,
    DeferralUnit,
    ErrorInputs,
    ErrorModelConfig,
    Rule,
    build_deferral_net,
    confidence_rule,
    cost_sweep,
    defer_splits,
    error_model_rule,
    fit_error_model,
    laplace_probabilities,
    mc_dropout_probabilities,
    mistake_auroc,
    mistakes,
    per_image,
    predictive_rule,
    reader_clinician,
    risk_coverage_curve,
    selective_accuracy,
    simulated_clinician,
    surrogate_probabilities,
    surrogate_rule,
    system_accuracy_curve,
    with_clinician,
)
from ...defer.splits import DEFER_SPLITS
from ...defer.surrogate import DeferralSurrogateLoss
from ...losses import WeightedBCELoss
from ...models import build_model
from ...train import TrainConfig, fit, predict
from ..common import backbone_output_stride, check_imagenet_weights, open_chest_dataset, study_train_config
from ..runinfo import describe_run
from .headline import headline
from .result import DeferResult, DeferSeedRun
from .settings import BALANCE_VARIANTS, COVERAGES, RULE_LABELS, SWEEP_COSTS, UNIT_COLUMNS, DeferSettings

__all__ = ["run_defer"]


def _clinicians(s: DeferSettings, splits, classes: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per split, the usual clinician's answers and the weak one's (the usual with the weak class redrawn)."""
    k = classes.index(s.weak_class)
    out = {}
    for index, name in enumerate(DEFER_SPLITS):
        part = getattr(splits, name)
        if "reader_labels" in part.info:
            usual = reader_clinician(part)
        else:
            usual = simulated_clinician(
                part.labels, s.clinician_sensitivity, s.clinician_specificity, (s.data_seed, index), classes
            )
        weak = usual.copy()
        weak[:, k] = simulated_clinician(
            part.labels[:, [k]], s.weak_sensitivity, s.weak_specificity, (s.data_seed, 1000 + index)
        )[:, 0]
        out[name] = (usual, weak)
    return out


def _per_class_rows(rules: dict[str, DeferralRule], labels, clinician, classes) -> tuple[pd.DataFrame, dict, dict]:
    rows, curves, system = [], {}, {}
    for name, rule in rules.items():
        for k, c in enumerate(classes):
            known = ~np.isnan(labels[:, k])
            y = labels[known, k]
            right = rule.predictions[known, k] == y
            score = rule.deferral_score[known, k]
            curves[(name, c)] = risk_coverage_curve(score, ~right)
            system[(name, c)] = system_accuracy_curve(score, right, clinician[known, k] == y)
            row = {
                "rule": name,
                "class": c,
                "AURC": float(curves[(name, c)][1].mean()),
                "mistake AUROC": mistake_auroc(score, ~right),
                "model accuracy": float(right.mean()),
            }
            row.update({f"accuracy at {q:g}": selective_accuracy(score, ~right, q) for q in COVERAGES})
            rows.append(row)
    return pd.DataFrame(rows), curves, system


def _sweep(rules: dict[str, DeferralRule], labels, clinician, classes) -> pd.DataFrame:
    """Every rule's cost sweep, rules that keep nothing at a cost included (kept-set metrics NaN)."""
    return pd.concat(
        [
            cost_sweep(rule, labels, clinician, SWEEP_COSTS, classes, keep_empty=True).assign(rule=name)
            for name, rule in rules.items()
        ],
        ignore_index=True,
    )


def _unit_rows(rules: dict[str, DeferralRule], labels, clinician, cost, classes) -> pd.DataFrame:
    """The error model deferring whole images and deferring each finding, at ``cost``: one row per unit,
    :data:`UNIT_COLUMNS` (NaN where nothing is kept)."""
    rows = {}
    for unit, rule in rules.items():
        sweep = cost_sweep(rule, labels, clinician, [cost], classes, keep_empty=True).set_index("class")
        rows[unit] = {heading: sweep.loc[row, column] for (column, row), heading in UNIT_COLUMNS.items()}
    return pd.DataFrame(rows).T


def _weak_system_curves(rules, labels, clinician, classes, weak_class) -> dict:
    k = classes.index(weak_class)
    known = ~np.isnan(labels[:, k])
    y = labels[known, k]
    return {
        (name, weak_class): system_accuracy_curve(
            rule.deferral_score[known, k], rule.predictions[known, k] == y, clinician[known, k] == y
        )
        for name, rule in rules.items()
    }


def _balance_rows(fitted: dict, test_maps, test_logits, labels, cost, unit: DeferralUnit) -> pd.DataFrame:
    """Per variant: mistake AUROC, AURC, mean P̂(wrong), observed error rate, coverage and kept accuracy
    at ``cost``, over the error model's outputs (every image for an image-level model, every decision
    pooled for a per-finding one)."""
    wrong = mistakes(test_logits, labels, unit)
    known = ~np.isnan(wrong)
    rows = {}
    for variant in BALANCE_VARIANTS:
        model = fitted.get(Balance.BALANCED.value if variant.startswith("balanced") else Balance.NONE.value)
        if model is None:  # balancing was impossible (a class without mistakes): the variant is left out
            continue
        p = model.p_wrong(test_maps, test_logits, prior_corrected=variant.endswith("corrected"))
        keep = (p <= cost) & known
        aurcs, aucs = [], []
        for k in range(wrong.shape[1]):
            col = known[:, k]
            aurcs.append(float(risk_coverage_curve(p[col, k], wrong[col, k])[1].mean()))
            aucs.append(mistake_auroc(p[col, k], wrong[col, k]))
        rows[variant] = {
            "mistake AUROC": float(np.nanmean(aucs)),
            "AURC": float(np.mean(aurcs)),
            "mean P̂(wrong)": float(p[known].mean()),
            "observed error rate": float(wrong[known].mean()),
            "coverage at c": float(keep.sum() / known.sum()),
            "kept accuracy at c": float(1 - wrong[keep].mean()) if keep.any() else np.nan,
        }
    return pd.DataFrame(rows).T


# ------------------------------------------------------------------------------------------------
# the run
# ------------------------------------------------------------------------------------------------
def run_defer(settings: DeferSettings) -> DeferResult:
    """Train and score every rule for every seed; see the module docstring."""
    t_start = time.perf_counter()
    check_imagenet_weights(settings, [settings.backbone])
    s = settings
    ds = open_chest_dataset(
        s, readers={"n_readers": 1, "sensitivity": s.clinician_sensitivity, "specificity": s.clinician_specificity}
    )
    classes = list(ds.classes)
    if s.weak_class not in classes:
        raise ValueError(f"parameter 'weak_class': {s.weak_class!r} is not one of {classes}")
    splits = defer_splits(ds, dict(zip(DEFER_SPLITS, s.fractions, strict=True)), seed=s.data_seed)
    clinicians = _clinicians(s, splits, classes)
    test_labels = splits.test.labels
    rules_wanted = [Rule(r) for r in s.rules]
    unit = DeferralUnit(s.unit)

    def in_unit(rule: DeferralRule) -> DeferralRule:
        """``rule`` as the run defers: whole images (P̂(some finding wrong)) or each finding."""
        return per_image(rule) if unit is DeferralUnit.IMAGE else rule

    stride = backbone_output_stride(s.backbone, s.output_stride)

    def config(seed: int, epochs: int) -> TrainConfig:
        return study_train_config(s, seed, epochs=epochs)

    def surrogate(seed: int, which: int) -> tuple[np.ndarray, pd.DataFrame, torch.nn.Module]:
        """Train the surrogate from scratch against clinician ``which`` (0: usual, 1: weak)."""
        torch.manual_seed(seed)
        net = build_deferral_net(
            s.backbone, len(classes), pretrained=s.pretrained, dropout=s.dropout, output_stride=stride
        )
        train = with_clinician(splits.train, clinicians["train"][which])
        val = with_clinician(splits.val, clinicians["val"][which])
        history = fit(net, train, val, DeferralSurrogateLoss(net), config(seed, s.epochs)).history
        return surrogate_probabilities(net, splits.test, device=s.device), history, net

    runs: list[DeferSeedRun] = []
    for seed in s.seeds:
        torch.manual_seed(seed)
        model = build_model(s.backbone, len(classes), pretrained=s.pretrained, dropout=s.dropout, output_stride=stride)
        histories = {
            "classifier": fit(model, splits.train, splits.val, WeightedBCELoss(), config(seed, s.epochs)).history
        }
        pred = {
            name: predict(model, getattr(splits, name), device=s.device, saliency="gradcam")
            for name in ("error", "val", "test")
        }
        test_maps, test_logits = pred["test"].maps, pred["test"].logits

        def error_model(inputs: ErrorInputs, balance: Balance, target: DeferralUnit = unit, seed=seed, pred=pred):
            cfg = ErrorModelConfig(
                inputs=inputs.value, balance=balance.value, target=target.value, epochs=s.error_epochs, seed=seed
            )
            e, v = pred["error"], pred["val"]
            return fit_error_model(e.maps, e.logits, e.labels, v.maps, v.logits, v.labels, cfg)

        fitted = {}
        for balance in Balance:
            try:
                fitted[balance.value] = error_model(ErrorInputs.MAPS_AND_PROBABILITIES, balance)
            except ValueError as err:  # only the comparison's other variant may be impossible
                if balance.value == s.error_balance or "cannot balance" not in str(err):
                    raise
        histories["error model"] = fitted[s.error_balance].history
        other = DeferralUnit.FINDING if unit is DeferralUnit.IMAGE else DeferralUnit.IMAGE
        other_model = error_model(ErrorInputs.MAPS_AND_PROBABILITIES, Balance(s.error_balance), other)
        # the study's subject (always among the rules), and the same model in the comparison of units
        main = error_model_rule(
            test_logits, fitted[s.error_balance].p_wrong(test_maps, test_logits), Rule.ERROR_MODEL.value
        )
        by_unit = {
            unit.value: main,
            other.value: error_model_rule(test_logits, other_model.p_wrong(test_maps, test_logits)),
        }
        rules: dict[str, DeferralRule] = {}
        surrogate_maps = None
        for rule in rules_wanted:
            label = rule.value
            if rule is Rule.ERROR_MODEL:
                rules[label] = main
            elif rule is Rule.ERROR_MODEL_PROBS:
                probs_only = error_model(ErrorInputs.PROBABILITIES, Balance(s.error_balance))
                rules[label] = error_model_rule(test_logits, probs_only.p_wrong(test_maps, test_logits), label)
            elif rule is Rule.CONFIDENCE:
                rules[label] = in_unit(confidence_rule(test_logits, label))
            elif rule is Rule.MC_DROPOUT:
                q = mc_dropout_probabilities(model, splits.test, s.mc_samples, seed=seed, device=s.device)
                rules[label] = in_unit(predictive_rule(test_logits, q, label))
            elif rule is Rule.LAPLACE:
                q = laplace_probabilities(model, splits.train, splits.test, device=s.device)
                rules[label] = in_unit(predictive_rule(test_logits, q, label))
            elif rule is Rule.SURROGATE:
                g, histories["surrogate"], net = surrogate(seed, 0)
                rules[label] = surrogate_rule(g, label, unit)
                if seed == s.seeds[0]:
                    surrogate_maps = predict(net, splits.test, device=s.device, saliency="gradcam").maps
        weak_rules = dict(rules)
        if Rule.SURROGATE in rules_wanted:
            g, histories["surrogate, weak clinician"], _ = surrogate(seed, 1)
            weak_rules[Rule.SURROGATE.value] = surrogate_rule(g, Rule.SURROGATE.value, unit)
        usual, weak = clinicians["test"]
        per_class, curves, system = _per_class_rows(rules, test_labels, usual, classes)
        runs.append(
            DeferSeedRun(
                seed=seed,
                rules=rules,
                weak_rules=weak_rules,
                sweep=_sweep(rules, test_labels, usual, classes),
                weak_sweep=_sweep(weak_rules, test_labels, weak, classes),
                per_class=per_class,
                curves=curves,
                system_curves=system,
                weak_system_curves=_weak_system_curves(weak_rules, test_labels, weak, classes, s.weak_class),
                balance=_balance_rows(fitted, test_maps, test_logits, test_labels, s.cost, unit),
                units=_unit_rows(by_unit, test_labels, usual, s.cost, classes),
                histories=histories,
                error_split_mistakes=dict(
                    zip(
                        classes, np.nansum(mistakes(pred["error"].logits, pred["error"].labels), 0).astype(int).tolist()
                    )
                ),
                test_maps=test_maps if seed == s.seeds[0] else None,
                surrogate_maps=surrogate_maps,
            )
        )
    result = DeferResult(s, classes, runs, splits.test, test_labels, *clinicians["test"])
    result.run = describe_run(
        s,
        splits.sizes(),
        time.perf_counter() - t_start,
        names={"rules": RULE_LABELS},
        classes=classes,
        grad_cam_grid=f"{runs[0].test_maps.shape[-2]}×{runs[0].test_maps.shape[-1]}",
        images_without_labels=splits.dropped,
    )
    result.headline = headline(result)
    return result
