"""Loader throughput: the decode-once cache against decoding each PNG with PIL per item.

Both serve the same thing, a ``(1, 256, 256)`` float tensor in [0, 1] per NIH image (by default the
21 real NIH PNGs shipped in cxrlib/data/samples/nih, NIH Clinical Center data; those are downsized to
512 px, so each PIL decode is a quarter of the pixels of NIH's 1024-px originals: pass ``--nih`` an NIH
folder with the full-size PNGs to time those). Passes over the images are interleaved (cache, PIL,
cache, PIL...) and the median images/s of each is compared, in one run.
Run: python benchmarks/bench_loader.py [--nih NIH_ROOT] [--size 256]
The figures go to results/benchmarks/loader.json (with the date, machine and versions), from which
the book's performance page is generated.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cxrlib.data import nih_sample_root, open_dataset
from cxrlib.performance import write_benchmark


class DecodeEachTime(torch.utils.data.Dataset):
    """The naive loader: open, convert, resize and scale the PNG on every access."""

    def __init__(self, paths, size):
        self.paths, self.size = paths, size

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        with Image.open(self.paths[i]) as img:
            grey = img.convert("L").resize((self.size, self.size), Image.Resampling.BILINEAR)
        return {"image": torch.from_numpy(np.asarray(grey, dtype=np.float32) / 255.0)[None]}


def images_per_second(ds, passes: int) -> list[float]:
    rates = []
    for _ in range(passes):
        t = time.perf_counter()
        for i in range(len(ds)):
            ds[i]["image"]
        rates.append(len(ds) / (time.perf_counter() - t))
    return rates


def main() -> None:
    here = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nih", default=str(nih_sample_root()), help="an NIH root (default: the shipped sample)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--passes", type=int, default=7)
    parser.add_argument("--root", default=str(here), help="write <root>/results/benchmarks/loader.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        t = time.perf_counter()
        cached = open_dataset("nih", root=args.nih, image_size=args.size, cache_dir=cache, progress=False)
        build = time.perf_counter() - t
        paths = [Path(args.nih) / "images" / name for name in cached.table["image"]]
        naive = DecodeEachTime(paths, args.size)
        assert torch.allclose(cached[0]["image"], naive[0]["image"], atol=2 / 255), "the two loaders disagree"
        fast, slow = [], []
        for _ in range(args.passes):
            fast += images_per_second(cached, 1)
            slow += images_per_second(naive, 1)
    f, s = statistics.median(fast), statistics.median(slow)
    with Image.open(paths[0]) as img:
        png_size = img.size[0]
    print(
        f"{len(paths)} NIH PNGs ({png_size} px) served at {args.size} px; cache built once in {build:.2f} s "
        f"(includes reading the {len(cached.table):,}-row table)"
    )
    print(f"  decode-once cache : {f:10.0f} images/s")
    print(f"  PIL decode per item: {s:10.1f} images/s")
    print(f"cache / per-item decode: {f / s:.0f}x")
    figures = {
        "n_images": len(paths),
        "png_size": png_size,
        "cache_build_seconds": build,
        "cache_images_per_second": f,
        "pil_images_per_second": s,
        "ratio": f / s,
        "cache_rates": fast,
        "pil_rates": slow,
    }
    path = write_benchmark("loader", figures, "cpu", args.root, {"size": args.size, "passes": args.passes})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
