"""Run one study without a notebook, e.g. on a multi-GPU box under torchrun::

    torchrun --nproc_per_node=8 -m cxrlib.studies 01_baseline --profile full
    python -m cxrlib.studies 01_baseline --profile smoke -p epochs 1 -p backbones small-cnn

Parameters are the notebook's (``-p NAME VALUE``, read like papermill's); rank 0 writes
``results/<study>.json``, saves the weights a later study loads (01's for 10, 08's for 09) as the notebook
does, and prints the run header.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..book import record_results
from ..distributed import is_main_process
from . import STUDY_RUNNERS
from .runinfo import run_header_table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cxrlib.studies", description=__doc__.split("\n")[0])
    parser.add_argument("study", choices=sorted(STUDY_RUNNERS))
    parser.add_argument("--profile", default="default", choices=["smoke", "default", "full"])
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    args = parser.parse_args(argv)
    settings_fn, run = STUDY_RUNNERS[args.study]
    settings = settings_fn(args.profile, **{name: value for name, value in args.p})
    result = run(settings)
    if is_main_process():
        record_results(args.study, result.headline)
        if hasattr(result, "save_weights"):
            result.save_weights()
        print(run_header_table(result.headline.get("run", {})).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
