"""PYLON benchmarks, as ratios measured in one run (python benchmarks/bench_pylon.py).

1. Training step (forward, BCE, backward, Adam) of PYLON over the GMP CAM baseline's on the same
   encoder, at 256 px (the thesis says the decoder adds little; target <= 1.3x), and of PYLON with
   light UP modules (first convolution narrowed to the decoder's width; not the reference's); each
   in the contiguous (NCHW) layout and in channels_last (the layout ``fit`` uses on a GPU).
2. Class maps for K classes: PYLON's native map (one forward, no backward) against Grad-CAM on the
   same model (one forward and K backward passes through the head).

Steps are interleaved (A, B, A, B...) and the median is taken. The figures go to
results/benchmarks/pylon.json (with the date, machine and versions).
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import torch

from cxrlib.models import build_model
from cxrlib.performance import interleaved, write_benchmark
from cxrlib.saliency import compute_saliency
from cxrlib.train import resolve_device

#: the suffix of a variant's name when it runs in the channels_last layout
CHANNELS_LAST = ", channels_last"


def training_step_ratio(device, encoder: str, size: int, batch: int, classes: int, repeats: int) -> dict:
    x = torch.rand(batch, 1, size, size, device=device)
    y = (torch.rand(batch, classes, device=device) < 0.3).float()
    fns = {}
    variants = {"gmp": ("gmp", {}), "pylon": ("pylon", {}), "pylon (light UP)": ("pylon", {"light_up": True})}
    for suffix, layout in (("", torch.contiguous_format), (CHANNELS_LAST, torch.channels_last)):
        images = x.contiguous(memory_format=layout)
        for name, (architecture, options) in variants.items():
            torch.manual_seed(0)
            model = build_model(architecture, classes, encoder=encoder, **options).to(device, memory_format=layout)
            opt = torch.optim.Adam(model.train().parameters(), 1e-4)

            def step(model=model, opt=opt, images=images):
                loss = torch.nn.functional.binary_cross_entropy_with_logits(model(images), y)
                opt.zero_grad()
                loss.backward()
                opt.step()

            fns[name + suffix] = step
    t = interleaved(fns, repeats, device)
    return {
        "seconds": t,
        "ratio": t["pylon"] / t["gmp"],
        "light_ratio": t["pylon (light UP)"] / t["gmp"],
        "channels_last_ratio": t["pylon" + CHANNELS_LAST] / t["gmp" + CHANNELS_LAST],
    }


def map_ratio(device, encoder: str, size: int, batch: int, classes: int, repeats: int) -> dict:
    torch.manual_seed(0)
    model = build_model("pylon", classes, encoder=encoder).to(device).eval()
    x = torch.rand(batch, 1, size, size, device=device)

    def native():
        with torch.no_grad():
            model.class_maps(model.features(x))

    def gradcam():
        compute_saliency(model, x, "gradcam")

    t = interleaved({"native maps (1 forward)": native, "Grad-CAM (1 forward, K backward)": gradcam}, repeats, device)
    return {"seconds": t, "speedup": t["Grad-CAM (1 forward, K backward)"] / t["native maps (1 forward)"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--encoder", default="resnet50")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--root",
        default=str(Path(__file__).resolve().parents[1]),
        help="write <root>/results/benchmarks/pylon.json (default: this repository)",
    )
    args = parser.parse_args()
    device = resolve_device(args.device)
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"{platform.processor() or 'cpu'}, {torch.get_num_threads()} threads"
    )
    print(f"device: {device} ({name}); torch {torch.__version__}")
    classes = 8
    step = training_step_ratio(device, args.encoder, args.size, args.batch, classes, args.repeats)
    for k, v in step["seconds"].items():
        print(f"  train step  {k:36s} {v * 1000:8.1f} ms")
    print(f"training step, PYLON / GMP baseline: {step['ratio']:.2f} (target <= 1.3)")
    print(f"training step, PYLON with light UP modules / GMP baseline: {step['light_ratio']:.2f}")
    print(f"training step in channels_last, PYLON / GMP baseline: {step['channels_last_ratio']:.2f}")
    maps = map_ratio(device, args.encoder, args.size, args.batch, classes, args.repeats)
    for k, v in maps["seconds"].items():
        print(f"  maps        {k:36s} {v * 1000:8.1f} ms")
    print(f"maps for {classes} classes, Grad-CAM / PYLON's native map: {maps['speedup']:.1f}x")
    settings = {"encoder": args.encoder, "image_size": args.size, "batch": args.batch, "classes": classes}
    settings["repeats"] = args.repeats
    path = write_benchmark("pylon", {"training_step": step, "maps": maps}, device, args.root, settings)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
