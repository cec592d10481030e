"""``python -m cxrlib.report``: the reliability report of a model given as an importable factory and a
weights file, on a dataset opened by name.

Example::

    python -m cxrlib.report --model torchvision.models:densenet121 --factory-kwargs '{"num_classes": 14}' \\
        --weights ckpt.pt --in-channels 3 --layer features.denseblock4 --last-layer classifier \\
        --dataset nih --data-root /data/nih --image-size 224 --out report.html

The factory is called with ``--factory-kwargs`` (JSON); the weights file is a state dict, or a
checkpoint holding one under ``"model"`` or ``"state_dict"``. ``--out`` gets the HTML report and, beside
it, the same name with ``.json``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

import torch

__all__ = ["load_model", "main"]


def load_model(spec: str, weights: str | None = None, factory_kwargs: dict | None = None) -> torch.nn.Module:
    """``"module:factory"`` called with ``factory_kwargs``, then ``weights`` loaded (strict). Errors name
    what is missing: the module, the factory, the file, or the keys that do not match."""
    if ":" not in spec:
        raise ValueError(f"--model must be 'module:factory' (e.g. 'cxrlib.models:build_model'), got {spec!r}")
    module_name, factory_name = spec.split(":", 1)
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"cannot import {module_name!r} for --model: {err}") from err
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise ValueError(f"{module_name!r} has no callable {factory_name!r}")
    model = factory(**(factory_kwargs or {}))
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"{spec} returned a {type(model).__name__}, not a torch.nn.Module")
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"weights file not found: {path}")
        state = torch.load(path, map_location="cpu", weights_only=True)
        for key in ("model", "state_dict"):
            if isinstance(state, dict) and isinstance(state.get(key), dict):
                state = state[key]
                break
        result = model.load_state_dict(state, strict=False)
        if result.missing_keys or result.unexpected_keys:
            missing, unexpected = result.missing_keys[:5], result.unexpected_keys[:5]
            raise ValueError(f"{path} does not fit {spec}: missing {missing}, unexpected {unexpected}")
    return model.eval()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m cxrlib.report", description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="importable factory, 'module:function'")
    p.add_argument("--factory-kwargs", default="{}", help="JSON keyword arguments of the factory")
    p.add_argument("--weights", default=None, help="state dict or checkpoint (.pt)")
    p.add_argument("--dataset", required=True, help="a cxrlib dataset name (nih, chexpert, mimic, vindr, synth-cxr...)")
    p.add_argument("--data-root", default=None, help="the dataset's folder (real datasets)")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--classes", default=None, help="comma-separated classes or a preset (default: the source's)")
    p.add_argument("--test-split", default="test")
    p.add_argument("--val-split", default="val", help="split for temperature scaling and Laplace ('' for none)")
    p.add_argument("--in-channels", type=int, default=1, choices=(1, 3))
    p.add_argument("--layer", default=None, help="layer for Grad-CAM (models without their own class maps)")
    p.add_argument("--last-layer", default=None, help="the model's linear last layer, for the last-layer Laplace")
    p.add_argument("--bootstrap", type=int, default=1000, help="resamples of the patients")
    p.add_argument("--device", default="auto")
    p.add_argument("--dataset-options", default="{}", help="JSON keyword arguments of the dataset reader")
    p.add_argument("--out", required=True, help="the HTML report (its .json beside it)")
    return p


def main(argv: list[str] | None = None) -> int:
    from ..data import open_dataset
    from .report import reliability_report

    args = _parser().parse_args(argv)
    if Path(args.out).suffix.lower() == ".json":
        raise SystemExit("--out names the HTML report (its .json is written beside it): give a .html path")
    try:
        factory_kwargs, dataset_options = json.loads(args.factory_kwargs), json.loads(args.dataset_options)
    except json.JSONDecodeError as err:
        raise SystemExit(f"--factory-kwargs and --dataset-options must be JSON objects: {err}") from None
    options = {"image_size": args.image_size, **dataset_options}
    if args.classes:
        options["classes"] = args.classes.split(",") if "," in args.classes else args.classes
    data = open_dataset(args.dataset, root=args.data_root, **options)
    test = data.subset(args.test_split)
    val = None
    if args.val_split:
        try:
            val = data.subset(args.val_split)
        except ValueError as err:
            print(f"[cxrlib.report] no recalibration: {err}", file=sys.stderr)
    model = load_model(args.model, args.weights, factory_kwargs)
    report = reliability_report(
        model,
        test,
        val,
        in_channels=args.in_channels,
        layer=args.layer,
        last_layer=args.last_layer,
        n_bootstrap=args.bootstrap,
        device=args.device,
        progress=True,
    )
    out = report.save_html(args.out)
    report.save_json(out.with_suffix(".json"))
    report.close_figures()
    print(f"wrote {out} and {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
