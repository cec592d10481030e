"""Saliency benchmarks, as ratios measured in one run (python benchmarks/bench_saliency.py).

1. Training step of DenseNet-121 (128 px, batch 16, 5 classes): weighted BCE + λ·class-distinctiveness
   on differentiable Grad-CAM maps of all 5 classes, over the plain weighted-BCE step (target ≤ 1.05),
   and with the spatial-coherence term added as well (target ≤ 1.3).
   For contrast, the same loss with the maps taken by autograd from the same forward pass
   (create_graph, one backward per class through the head only), and with one forward pass per
   class, as a hook-based CAM library works (Sharma and P. 2023: ">= 4x slower").
2. Grad-CAM maps for 5 classes of a batch: our batched closed form against pytorch-grad-cam (one
   call per class), at equal maps (checked). Target ≥ 5×.

Steps are interleaved (A, B, A, B...) and the median is taken, so that machine noise hits both alike.
The figures go to results/benchmarks/saliency.json (with the date, machine and versions), from which
the book's performance page is generated.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import platform
from pathlib import Path

import numpy as np
import torch

from cxrlib.losses import SaliencyRegularizedLoss, WeightedBCELoss
from cxrlib.models import build_model
from cxrlib.performance import interleaved, write_benchmark
from cxrlib.saliency import compute_saliency, display_maps, saliency_maps
from cxrlib.saliency.losses import class_distinctiveness_loss
from cxrlib.train import resolve_device


def training_step_ratio(device, size=128, batch=16, repeats=8) -> dict:
    torch.manual_seed(0)
    model = build_model("densenet121", 5).to(device).train()
    opt = torch.optim.Adam(model.parameters(), 1e-4)
    x = torch.rand(batch, 1, size, size, device=device)
    y = torch.randint(0, 2, (batch, 5), device=device).float()
    batch_ = {"labels": y}
    base = WeightedBCELoss(torch.ones(5))
    closed = SaliencyRegularizedLoss(base, model, lambda_cd=1.4)
    coherent = SaliencyRegularizedLoss(base, model, lambda_cd=1.4, lambda_sc=0.1)

    def autograd_loss(out, b):
        maps = saliency_maps(model, out.features, out.logits, "gradcam", create_graph=True, closed_form=False)
        return base(out, b) + 1.4 * class_distinctiveness_loss(maps, out.features)

    def per_class_forward_loss(out, b):
        # what a hook-based CAM library does: one forward (and backward to the features) per class
        maps = []
        for c in range(5):
            logits_c, feats_c = model.forward_with_features(x)
            maps.append(saliency_maps(model, feats_c, logits_c, "gradcam", create_graph=True, closed_form=False)[:, c])
        return base(out, b) + 1.4 * class_distinctiveness_loss(torch.stack(maps, 1), out.features)

    def step(loss_fn):
        def run():
            out = model.forward_with_features(x)
            value = loss_fn(out, batch_)
            loss = value["loss"] if isinstance(value, dict) else value
            opt.zero_grad()
            loss.backward()
            opt.step()

        return run

    t = interleaved(
        {
            "wbce": step(base),
            "wbce+cd (closed form)": step(closed),
            "wbce+cd+sc (closed form)": step(coherent),
            "wbce+cd (autograd maps)": step(autograd_loss),
            "wbce+cd (per-class forwards)": step(per_class_forward_loss),
        },
        repeats,
        device,
    )
    return {
        "seconds": t,
        "ratio_closed_form": t["wbce+cd (closed form)"] / t["wbce"],
        "ratio_closed_form_with_coherence": t["wbce+cd+sc (closed form)"] / t["wbce"],
        "ratio_autograd": t["wbce+cd (autograd maps)"] / t["wbce"],
        "ratio_per_class_forwards": t["wbce+cd (per-class forwards)"] / t["wbce"],
    }


def cam_extraction_ratio(device, size=128, batch=16, repeats=5) -> dict:
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    torch.manual_seed(0)
    model = build_model("densenet121", 5).to(device).eval()
    x = torch.rand(batch, 1, size, size, device=device)
    cam = GradCAM(model, [model.feature_layer])

    def ours():
        _, maps = compute_saliency(model, x, "gradcam")
        return display_maps(maps, (size, size)).cpu().numpy()

    def reference():
        return np.stack([cam(x, targets=[ClassifierOutputTarget(c)] * batch) for c in range(5)], 1)

    diff = float(np.abs(ours() - reference()).max())
    t = interleaved({"ours (batched, 5 classes)": ours, "pytorch-grad-cam (5 calls)": reference}, repeats, device)
    return {
        "seconds": t,
        "speedup": t["pytorch-grad-cam (5 calls)"] / t["ours (batched, 5 classes)"],
        "max_abs_difference": diff,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=8, help="interleaved training steps per variant")
    parser.add_argument(
        "--root",
        default=str(Path(__file__).resolve().parents[1]),
        help="write <root>/results/benchmarks/saliency.json (default: this repository)",
    )
    args = parser.parse_args()
    device = resolve_device(args.device)
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"{platform.processor() or 'cpu'}, {torch.get_num_threads()} threads"
    )
    print(f"device: {device} ({name}); torch {torch.__version__}")
    step = training_step_ratio(device, args.image_size, args.batch, args.repeats)
    for k, v in step["seconds"].items():
        print(f"  train step  {k:28s} {v * 1000:8.1f} ms")
    print(
        f"training step, WBCE + class distinctiveness on Grad-CAM / WBCE: {step['ratio_closed_form']:.3f} "
        f"(target <= 1.05); with spatial coherence too: {step['ratio_closed_form_with_coherence']:.3f} "
        "(target <= 1.3); "
        f"with autograd maps: {step['ratio_autograd']:.2f}; "
        f"with one forward per class: {step['ratio_per_class_forwards']:.2f}"
    )
    cams = cam_extraction_ratio(device, args.image_size, args.batch, max(3, args.repeats * 5 // 8))
    for k, v in cams["seconds"].items():
        print(f"  Grad-CAM    {k:28s} {v * 1000:8.1f} ms")
    print(
        f"Grad-CAM for 5 classes, pytorch-grad-cam / ours: {cams['speedup']:.1f}x (target >= 5x), "
        f"max |difference| of the maps {cams['max_abs_difference']:.2e}"
    )
    settings = {
        "backbone": "DenseNet-121",
        "image_size": args.image_size,
        "batch": args.batch,
        "classes": 5,
        "repeats_step": args.repeats,
        "repeats_cam": max(3, args.repeats * 5 // 8),
        "pytorch_grad_cam": importlib.metadata.version("grad-cam"),
    }
    path = write_benchmark("saliency", {"training_step": step, "cam_extraction": cams}, device, args.root, settings)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
