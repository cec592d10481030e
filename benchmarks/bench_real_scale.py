"""Real datasets at their true size: the NIH reader and its decode-once cache on a real-format tree.

Writes an NIH ChestX-ray14 tree of ``--n`` images into a temporary folder, in NIH's own layout:
``images_001/images/…`` … (10,000 per folder), ``Data_Entry_2017_v2020.csv`` (NIH's columns, its
trailing comma, ``|``-joined findings at NIH's prevalences, several images per patient),
``BBox_List_2017.csv`` (boxes for NIH's share of images, ~0.8 %), ``train_val_list.txt`` and
``test_list.txt`` (a split by patient, NIH's 77:23). The PNGs are ``--side`` px 8-bit grey, made from
``--distinct`` SynthCXR images upsampled with film-grain noise; the other files are hard links to them
(the decode work per file is real; the disk holds only the distinct ones, and reads come from the page
cache: cold-disk reads are not measured). Then it measures, in one run:

1. index time of the reader (CSV parse, filters, official splits, boxes; ``load_images=False``);
2. cache-build throughput (images/s) with 1 worker and with all workers, on the same first
   ``--serial-n`` images (the same function the reader calls), and their ratio;
3. the full build through ``open_nih(..., workers=all)`` in a fresh process, its throughput and the
   peak memory of that process and its workers (sum of PSS, sampled every 0.5 s);
4. the reopen time of the built cache (``open_nih`` again: index, file scan, cache lookup);
5. one training epoch (a small CNN, batches of 64, no loader workers) over the cached training
   images: time and peak memory, split into the process's own (anonymous) memory and its file-backed
   pages (the mapped cache and the libraries);
6. a resumed build: a build in a child process is killed (SIGKILL, workers too) once half of the
   images are recorded, then rebuilt: how many images the rebuild decoded, its time, and whether its
   bytes equal the uninterrupted build's.

Each correctness claim (1 and all workers write the same bytes; the resume decodes only what was
missing and ends with the same bytes; the reopened dataset is the built one) is checked and the script
exits non-zero if one fails; the book's smoke profile runs it at a small N for that. The figures go to
results/benchmarks/real_scale.json (``--record PATH`` writes a copy there too).
Run: python benchmarks/bench_real_scale.py [--n 50000] [--workers N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from cxrlib.data import open_nih, open_synth_cxr
from cxrlib.data.cache_build import build_image_cache, default_workers
from cxrlib.performance import write_benchmark

#: NIH ChestX-ray14's share of images with each finding (Wang et al. 2017, of 112,120 images)
NIH_PREVALENCE = {
    "Atelectasis": 0.103,
    "Cardiomegaly": 0.025,
    "Effusion": 0.119,
    "Infiltration": 0.177,
    "Mass": 0.052,
    "Nodule": 0.056,
    "Pneumonia": 0.013,
    "Pneumothorax": 0.047,
    "Consolidation": 0.042,
    "Edema": 0.021,
    "Emphysema": 0.022,
    "Fibrosis": 0.015,
    "Pleural_Thickening": 0.030,
    "Hernia": 0.002,
}
_BOXED = ["Atelectasis", "Cardiomegaly", "Effusion", "Infiltrate", "Mass", "Nodule", "Pneumonia", "Pneumothorax"]
_HEADER = (
    "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
    "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],"
)


def distinct_pngs(folder: Path, count: int, side: int, seed: int) -> list[Path]:
    """``count`` SynthCXR images upsampled to ``side`` px with film-grain noise, saved as 8-bit PNGs."""
    folder.mkdir(parents=True, exist_ok=True)
    ds = open_synth_cxr(n=count, image_size=256, seed=seed, progress=False)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        grey = (ds[i]["image"][0].numpy() * 255 + 0.5).astype(np.uint8)
        base = Image.fromarray(grey).resize((side, side), Image.Resampling.BICUBIC)
        noisy = np.asarray(base, np.float32) + rng.normal(0, 2.0, (side, side))
        path = folder / f"distinct_{i:05d}.png"
        Image.fromarray(np.clip(noisy + 0.5, 0, 255).astype(np.uint8)).save(path)
        out.append(path)
    return out


def write_nih_tree(root: Path, n: int, side: int, distinct: int, seed: int = 0) -> dict:
    """An NIH ChestX-ray14 tree of ``n`` images under ``root`` (layout in the module docstring)."""
    rng = np.random.default_rng(seed)
    sources = distinct_pngs(root.parent / f"{root.name}-distinct", min(distinct, n), side, seed)
    patients = np.sort(rng.integers(1, max(2, n // 3), n))  # ~3 images per patient, NIH's ids in order
    follow_up = np.zeros(n, int)
    for i in range(1, n):
        follow_up[i] = follow_up[i - 1] + 1 if patients[i] == patients[i - 1] else 0
    names = [f"{p:08d}_{f:03d}.png" for p, f in zip(patients, follow_up)]
    rows = []
    for i, name in enumerate(names):
        findings = [c for c, p in NIH_PREVALENCE.items() if rng.random() < p] or ["No Finding"]
        width, height = rng.integers(2000, 3000, 2)
        rows.append(
            f"{name},{'|'.join(findings)},{follow_up[i]},{patients[i]},{rng.integers(1, 95)},"
            f"{'MF'[rng.integers(2)]},{'PA' if rng.random() < 0.6 else 'AP'},{width},{height},0.143,0.143,"
        )
        folder = root / f"images_{i // 10_000 + 1:03d}" / "images"
        if i % 10_000 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        os.link(sources[i % len(sources)], folder / name)
    (root / "Data_Entry_2017_v2020.csv").write_text("\n".join([_HEADER, *rows]) + "\n")
    test_patients = set(rng.permutation(np.unique(patients))[: int(0.23 * len(np.unique(patients)))])
    test = [m for m, p in zip(names, patients) if p in test_patients]
    (root / "test_list.txt").write_text("\n".join(test) + "\n")
    (root / "train_val_list.txt").write_text("\n".join(m for m in names if m not in set(test)) + "\n")
    boxed = rng.choice(test, max(1, int(0.0078 * n)), replace=False) if test else []
    box_rows = [
        f"{m},{_BOXED[rng.integers(len(_BOXED))]},{x:.1f},{y:.1f},{w:.1f},{h:.1f}"
        for m in boxed
        for x, y, w, h in [(*rng.uniform(50, 600, 2), *rng.uniform(40, 300, 2))]
    ]
    (root / "BBox_List_2017.csv").write_text(
        "Image Index,Finding Label,Bbox [x,y,w,h],,,\n" + "\n".join(box_rows) + "\n"
    )
    sizes = [p.stat().st_size for p in sources]
    return {"images": n, "distinct_pngs": len(sources), "png_side": side, "mean_png_bytes": float(np.mean(sizes))}


class PeakMemory:
    """Samples, every ``interval`` s, the PSS of ``pid`` and its children (its workers), and the
    anonymous and file-backed resident memory of ``pid`` itself; keeps the peaks (bytes). Reading a
    process's PSS walks its page tables (tens of ms for a process that maps a large cache), so the
    sampler takes a share of one core."""

    def __init__(self, pid: int, interval: float = 0.5):
        import psutil

        self.process, self.interval = psutil.Process(pid), interval
        self.peak = {"pss_total": 0, "rss_anon": 0, "rss_file": 0}
        self._stop = threading.Event()

    def _sample(self) -> None:
        import psutil

        total = 0
        try:
            family = [self.process, *self.process.children(recursive=True)]
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except (psutil.NoSuchProcess, OSError):
            return
        for proc in family:
            try:
                total += proc.memory_full_info().pss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        self.peak["pss_total"] = max(self.peak["pss_total"], total)
        for key, name in (("rss_anon", "RssAnon"), ("rss_file", "RssFile")):
            if name in fields:
                self.peak[key] = max(self.peak[key], int(fields[name].split()[0]) * 1024)

    def __enter__(self) -> PeakMemory:
        def loop():
            while not self._stop.is_set():
                self._sample()
                self._stop.wait(self.interval)

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def in_child(code: str, *argv: object) -> tuple[dict, dict]:
    """Run ``code`` in a fresh Python process (as a researcher's notebook would); returns the JSON its
    last output line holds and the peak memory of it and its workers."""
    child = subprocess.Popen([sys.executable, "-c", code, *map(str, argv)], stdout=subprocess.PIPE, text=True)
    with PeakMemory(child.pid) as memory:
        out, _ = child.communicate()
    if child.returncode:
        raise RuntimeError(f"the child process failed ({child.returncode}); its output:\n{out}")
    return json.loads(out.strip().splitlines()[-1]), memory.peak


_BUILD = """
import json, sys, time
from pathlib import Path
from cxrlib.data import open_nih

root, size, cache, workers = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
start = time.perf_counter()
ds = open_nih(root, image_size=size, cache_dir=cache, workers=workers, progress=False)
seconds = time.perf_counter() - start
out = {"seconds": seconds, "images": len(ds.table), "cache": ds.info["cache"], "build": ds.info["cache_build"]}
print(json.dumps(out))
"""

_EPOCH = """
import json, sys, time
from pathlib import Path
import torch
from cxrlib.data import open_nih
from cxrlib.models import build_model

root, size, cache, batch = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
train = open_nih(root, image_size=size, cache_dir=cache, progress=False).subset("train")
torch.manual_seed(0)
model = build_model("small-cnn", len(train.classes))
opt = torch.optim.Adam(model.parameters(), 1e-3)
loader = torch.utils.data.DataLoader(train, batch_size=batch, shuffle=True, num_workers=0)
start = time.perf_counter()
for item in loader:
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model(item["image"]), torch.nan_to_num(item["labels"]))
    opt.zero_grad()
    loss.backward()
    opt.step()
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "images": len(train), "images_per_s": len(train) / seconds}))
"""


def _digest(images: np.ndarray, rows: int = 4096) -> str:
    """SHA-256 of a (memory-mapped) array, read in slices."""
    h = hashlib.sha256()
    for start in range(0, len(images), rows):
        h.update(np.ascontiguousarray(images[start : start + rows]).data)
    return h.hexdigest()


def _nih_paths(root: Path) -> tuple[list[Path], list[str]]:
    names = [line.split(",", 1)[0] for line in (root / "Data_Entry_2017_v2020.csv").read_text().splitlines()[1:]]
    return [root / f"images_{i // 10_000 + 1:03d}" / "images" / m for i, m in enumerate(names)], names


def scaling(work: Path, root: Path, count: int, size: int, workers: int) -> dict:
    """Build the first ``count`` images with 1 worker and with ``workers``: seconds, img/s, equal bytes."""
    paths, names = _nih_paths(root)
    paths, names = paths[:count], names[:count]
    out = {}
    for label, w in (("1 worker", 1), (f"{workers} workers", workers)):
        folder = work / f"scaling-{w}"
        folder.mkdir(parents=True)
        start = time.perf_counter()
        build_image_cache(folder, paths, names, size, workers=w, progress=False)
        seconds = time.perf_counter() - start
        out[label] = {"seconds": seconds, "images_per_s": count / seconds}
    one, many = (np.load(work / f"scaling-{w}" / "images.npy", mmap_mode="r") for w in (1, workers))
    out["same_bytes"] = _digest(one) == _digest(many)
    out["speedup"] = out[f"{workers} workers"]["images_per_s"] / out["1 worker"]["images_per_s"]
    for w in (1, workers):
        shutil.rmtree(work / f"scaling-{w}")
    return out


def _chunk_rows(record: Path) -> int:
    """Rows of one chunk record (0 if it is being replaced just now)."""
    try:
        chunk = json.loads(record.read_text())
    except (OSError, ValueError):
        return 0
    return chunk["stop"] - chunk["start"]


_KILLED_BUILD = """
import sys, time
from pathlib import Path
import cxrlib.data.cache_build as cache_build
from cxrlib.data import open_nih

throttle = float(sys.argv[5])
if throttle:  # a small tree decodes too fast to be stopped half-way: slow each image (fork keeps the patch)
    import multiprocessing
    multiprocessing.set_start_method("fork", force=True)
    resize = cache_build.resize_to_uint8
    cache_build.resize_to_uint8 = lambda image, size: (time.sleep(throttle), resize(image, size))[1]
root, size, cache, workers = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
open_nih(root, image_size=size, cache_dir=cache, workers=workers, progress=False)
"""


def killed_and_resumed(
    root: Path, cache: Path, size: int, workers: int, n: int, reference: str, throttle: float = 0.0
) -> dict:
    """Kill a child's build once half of the images are recorded, then rebuild here. ``throttle``:
    seconds added to each image's decode in the child (so that a small tree can be stopped half-way)."""
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_BUILD, str(root), str(size), str(cache), str(workers), str(throttle)],
        start_new_session=True,  # its own process group: the kill takes its workers too
    )
    recorded = 0
    while child.poll() is None:
        chunk_files = list(cache.glob("real-nih/*.partial/chunks/*.json"))
        recorded = sum(_chunk_rows(p) for p in chunk_files)
        if recorded >= n / 2:
            os.killpg(child.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    child.wait()
    if recorded < n / 2:
        raise RuntimeError("the build finished before it could be killed half-way: use a larger --n")
    recorded = sum(_chunk_rows(p) for p in cache.glob("real-nih/*.partial/chunks/*.json"))  # left on disk
    start = time.perf_counter()
    ds = open_nih(root, image_size=size, cache_dir=cache, workers=workers, progress=False)
    seconds = time.perf_counter() - start
    build = ds.info["cache_build"]
    kept = n - build["images_decoded"]
    return {
        "images_recorded_at_the_kill": int(recorded),
        "images_kept": int(kept),
        "images_decoded_by_the_resume": int(build["images_decoded"]),
        "decoded_only_the_missing": bool(kept == recorded and 0 < recorded < n),
        "seconds": seconds,
        "same_bytes": _digest(np.load(Path(ds.info["cache"]) / "images.npy", mmap_mode="r")) == reference,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=50_000, help="images in the NIH tree")
    parser.add_argument("--side", type=int, default=1024, help="side of the PNGs (NIH's: 1024)")
    parser.add_argument("--distinct", type=int, default=500, help="distinct PNG contents (the rest hard links)")
    parser.add_argument("--size", type=int, default=256, help="cache image size")
    parser.add_argument("--serial-n", type=int, default=4000, help="images of the 1-worker vs all-workers build")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: the machine's cores)")
    parser.add_argument("--work", default=None, help="folder for the tree and caches (default: a temporary one)")
    parser.add_argument(
        "--throttle", type=float, default=0.0, help="seconds added per image to the build that is killed (small N)"
    )
    parser.add_argument("--record", default=None, help="also write the record to this path")
    parser.add_argument(
        "--root",
        default=str(Path(__file__).resolve().parents[1]),
        help="write <root>/results/benchmarks/real_scale.json (default: this repository)",
    )
    args = parser.parse_args()
    workers = args.workers or default_workers()
    work = Path(args.work or tempfile.mkdtemp(prefix="cxrlib-real-scale-"))
    try:
        figures = run(args, work, workers)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    settings = {k: getattr(args, k) for k in ("n", "side", "distinct", "size", "serial_n", "throttle")} | {
        "workers": workers
    }
    path = write_benchmark("real_scale", figures, "cpu", args.root, settings)
    if args.record:
        shutil.copy(path, args.record)
    print(f"wrote {path}")
    failed = [claim for claim, ok in figures["checks"].items() if not ok]
    if failed:
        sys.exit(f"correctness checks failed: {failed}")


def run(args, work: Path, workers: int) -> dict:
    root = work / "nih"
    start = time.perf_counter()
    tree = write_nih_tree(root, args.n, args.side, args.distinct)
    tree["write_seconds"] = time.perf_counter() - start
    print(f"tree: {tree}")
    start = time.perf_counter()
    index = open_nih(root, image_size=args.size, load_images=False, progress=False)
    index_seconds = time.perf_counter() - start
    print(f"index: {index_seconds:.2f} s for {len(index.table)} rows")
    scale = scaling(work, root, min(args.serial_n, args.n), args.size, workers)
    print(f"scaling: {scale}")
    cache = work / "cache"
    built, build_peak = in_child(_BUILD, root, args.size, cache, workers)
    reference = _digest(np.load(Path(built["cache"]) / "images.npy", mmap_mode="r"))
    print(f"build: {built['seconds']:.1f} s, peak {build_peak}")
    start = time.perf_counter()
    ds = open_nih(root, image_size=args.size, cache_dir=cache, workers=workers, progress=False)
    reopen_seconds = time.perf_counter() - start
    same_dataset = ds.info["cache"] == built["cache"] and len(ds.table) == built["images"]
    print(f"reopen: {reopen_seconds:.2f} s")
    epoch, epoch_peak = in_child(_EPOCH, root, args.size, cache, 64)
    epoch["peak"] = epoch_peak
    print(f"epoch: {epoch}")
    cache_killed = work / "cache-killed"
    resumed = killed_and_resumed(root, cache_killed, args.size, workers, len(ds.table), reference, args.throttle)
    print(f"resumed: {resumed}")
    return {
        "tree": tree,
        "index": {"seconds": index_seconds, "rows": len(index.table)},
        "scaling": scale,
        "build": {
            "images": built["images"],
            "seconds": built["seconds"],
            "images_per_s": built["images"] / built["seconds"],
            "cache_bytes": int((Path(built["cache"]) / "images.npy").stat().st_size),
            "peak": build_peak,
        },
        "reopen": {"seconds": reopen_seconds},
        "epoch": epoch,
        "resumed": resumed,
        "checks": {
            "1 and all workers write the same bytes": scale["same_bytes"],
            "the resume decoded only the missing images": resumed["decoded_only_the_missing"],
            "the resumed build's bytes equal the uninterrupted build's": resumed["same_bytes"],
            "the reopened dataset is the built one": bool(same_dataset),
        },
    }


if __name__ == "__main__":
    main()
