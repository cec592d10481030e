"""Make the NIH ChestX-ray14 sample shipped in ``cxrlib/data/samples/nih`` from a full NIH folder.

Reads ``SOURCE/images/*.png`` (1024-px NIH PNGs), ``SOURCE/Data_Entry_2017_v2020.csv[.gz]`` (NIH's
layout or torchxrayvision's), ``SOURCE/BBox_List_2017.csv``, ``SOURCE/train_val_list.txt`` and
``SOURCE/test_list.txt``, and writes, for the images found under ``SOURCE/images`` only:

* ``images/<Image Index>.png``: 8-bit grayscale, downsized to ``--size`` px (square, Pillow LANCZOS;
  an RGBA file with R = G = B becomes its grey channel), so NIH's 1024-px box coordinates still scale;
* ``Data_Entry_2017_v2020.csv``: NIH's own header (``Patient Sex``, unquoted brackets, trailing
  comma) over the rows' values copied verbatim (a trailing comma added where the source has none);
* ``BBox_List_2017.csv``: the source header line (9 fields) and those images' rows, verbatim;
* ``train_val_list.txt``, ``test_list.txt``: those images' names, in the source order;
* ``ATTRIBUTION.md``: the NIH Clinical Center's attribution requirements.

Run: python tools/make_nih_sample.py SOURCE [--out cxrlib/data/samples/nih] [--size 512]
"""

from __future__ import annotations

import argparse
import gzip
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

NIH_HEADER = (
    "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Sex,View Position,"
    "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],"
)
N_FIELDS = 11

ATTRIBUTION = """\
# NIH ChestX-ray14 sample: attribution

The {n} chest X-rays in `images/` and the metadata rows in this folder are **real data** from the
NIH ChestX-ray14 (ChestX-ray8) release of the **NIH Clinical Center**, which is the data provider.

* Download site: https://nihcc.app.box.com/v/ChestXray-NIHCC
* Citation: X. Wang, Y. Peng, L. Lu, Z. Lu, M. Bagheri, R. Summers, "ChestX-ray8: Hospital-scale
  Chest X-ray Database and Benchmarks on Weakly-Supervised Classification and Localization of
  Common Thorax Diseases", IEEE CVPR 2017, pp. 3462–3471.
* Acknowledgement: the NIH Clinical Center provided the data. There are no restrictions on the use
  of the NIH chest X-ray images; the NIH asks for the link, the citation and this acknowledgement.

Changes made here: the 1024 × 1024 PNGs were **downsized to {size} × {size} px** (8-bit grayscale,
Pillow LANCZOS; two NIH files that are RGBA with R = G = B were stored as their grey channel). The
metadata files keep NIH's formats and only the rows of these images: `Data_Entry_2017_v2020.csv`,
`BBox_List_2017.csv` (boxes in NIH's 1024-px coordinates, unchanged), `train_val_list.txt` and
`test_list.txt`. Made by `tools/make_nih_sample.py`.
"""


def _data_entry(source: Path) -> Path:
    for name in ("Data_Entry_2017_v2020.csv", "Data_Entry_2017_v2020.csv.gz"):
        if (source / name).is_file():
            return source / name
    raise FileNotFoundError(f"no Data_Entry_2017_v2020.csv[.gz] under {source}")


def _lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as f:
        return f.read().splitlines()


def _grey(path: Path, size: int) -> Image.Image:
    with Image.open(path) as img:
        img.load()
        if img.size != (1024, 1024):
            raise ValueError(f"{path}: expected a 1024 x 1024 NIH PNG, got {img.size}")
        if img.mode in ("RGB", "RGBA"):
            rgb = np.asarray(img)[..., :3]
            if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
                raise ValueError(f"{path}: colour image with R != G != B")
            img = Image.fromarray(np.ascontiguousarray(rgb[..., 0]), mode="L")
        elif img.mode != "L":
            raise ValueError(f"{path}: unexpected mode {img.mode}")
        return img.resize((size, size), Image.Resampling.LANCZOS)


def make_sample(source: Path, out: Path, size: int = 512) -> list[str]:
    """Write the sample of the images under ``source/images`` to ``out``; return their names."""
    names = sorted(p.name for p in (source / "images").glob("*.png"))
    if not names:
        raise FileNotFoundError(f"no PNG under {source / 'images'}")
    wanted = set(names)
    if out.exists():
        shutil.rmtree(out)
    (out / "images").mkdir(parents=True)
    for name in names:
        _grey(source / "images" / name, size).save(out / "images" / name, optimize=True)

    entry = _lines(_data_entry(source))
    rows = []
    for text in entry[1:]:
        fields = text.split(",")
        if fields[0] in wanted:
            fields = fields[:-1] if len(fields) == N_FIELDS + 1 and fields[-1] == "" else fields
            if len(fields) != N_FIELDS:
                raise ValueError(f"Data_Entry row with {len(fields)} fields: {text!r}")
            rows.append(",".join(fields) + ",")
    found = {r.split(",", 1)[0] for r in rows}
    if found != wanted or len(rows) != len(wanted):
        raise ValueError(f"Data_Entry rows do not match the images: missing {sorted(wanted - found)}")
    (out / "Data_Entry_2017_v2020.csv").write_text("\n".join([NIH_HEADER, *rows]) + "\n")

    boxes = _lines(source / "BBox_List_2017.csv")
    kept = [b for b in boxes[1:] if b.split(",", 1)[0] in wanted]
    (out / "BBox_List_2017.csv").write_text("\n".join([boxes[0], *kept]) + "\n")

    for listed in ("train_val_list.txt", "test_list.txt"):
        chosen = [n for n in _lines(source / listed) if n.strip() in wanted]
        (out / listed).write_text("".join(n.strip() + "\n" for n in chosen))
    (out / "ATTRIBUTION.md").write_text(ATTRIBUTION.format(n=len(names), size=size))
    return names


def main() -> None:
    here = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path, help="an NIH folder with images/ and the metadata files")
    parser.add_argument("--out", type=Path, default=here / "cxrlib" / "data" / "samples" / "nih")
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    names = make_sample(args.source, args.out, args.size)
    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"wrote {len(names)} images and their metadata to {args.out} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
