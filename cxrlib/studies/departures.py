"""How a run differs from its source: the table every study notebook shows, built from the run's Settings.

A study describes its source's protocol once (:class:`SourceProtocol`: the values the source states, or
"not stated") and lists its own items as :class:`Departure` rows computed from the settings, so the
table is true on every profile: on ``smoke`` most rows differ, on ``full`` the rows whose values now
match the source drop out, and what remains are the departures no profile removes (each with its
reason). :func:`protocol_departures` gives the rows every trained study shares (data, image size,
backbone, initialisation, optimiser, training length, seeds, evaluation split).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = ["Departure", "SourceProtocol", "protocol_departures", "departures_table", "show_departures", "NOT_STATED"]

NOT_STATED = "not stated"
#: why a CPU profile departs from the source's size
CPU_BUDGET = "the smoke/default profiles fit a 2-core CPU in minutes; `full` is the source's value"
#: why the data are not the source's
NOT_DOWNLOADABLE = (
    "SynthCXR: the source's data cannot be downloaded here, and synthetic data carry ground truth "
    "(masks, boxes, shortcut markers) the real data lack; `-p dataset ... -p data_root ...` runs the real one"
)


@dataclass(frozen=True)
class Departure:
    """One row: what the source did, what this run does, and why they differ."""

    item: str
    source: str
    this_run: str
    why: str
    differs: bool = True  #: False: the row is shown only by ``departures_table(..., everything=True)``


@dataclass(frozen=True)
class SourceProtocol:
    """What a source states about how it trained and evaluated (None: not stated, or not applicable).

    ``dataset``: the reader's name (``"chexpert"``) of the source's data and ``dataset_text`` how the
    source describes it; ``epochs_text`` the source's training length in its words; ``evaluation`` the
    split its numbers come from.
    """

    dataset: str
    dataset_text: str
    image_size: int | None = None
    backbone: str | None = None
    pretrained: bool | None = None
    lr: float | None = None
    weight_decay: float | None = None
    batch_size: int | None = None
    optimizer: str = "Adam"
    epochs_text: str = NOT_STATED
    runs_text: str = "one run per arm"
    evaluation: str = NOT_STATED


def _stated(value: Any, unit: str = "") -> str:
    return NOT_STATED if value is None else f"{value:g}{unit}" if isinstance(value, float) else f"{value}{unit}"


def protocol_departures(
    settings: Any,
    source: SourceProtocol,
    *,
    backbone: str | None = None,
    dataset: str | None = None,
    data_why: str | None = None,
) -> list[Departure]:
    """The rows every trained study shares, from ``settings`` (a study's Settings) against ``source``.

    ``backbone``: this run's network where the settings name it otherwise (default ``settings.backbone``);
    ``dataset`` (with ``data_why``): this run's data where the settings have no ``dataset`` field (the
    synthetic MRI and musculoskeletal sets). A row whose source value is not stated is kept.
    """
    s = settings
    rows = []
    n = getattr(s, "n", None)
    name = dataset or s.dataset
    synthetic = name.startswith("synth-")
    data = name + (f", {n} images" if synthetic and n else "")
    why = data_why or (NOT_DOWNLOADABLE if synthetic else "the source's data, as this machine holds them")
    rows.append(Departure("data", source.dataset_text, data, why, differs=name != source.dataset))
    if source.image_size is None:
        size_why = "the source does not state it"
    elif s.profile != "full":
        size_why = CPU_BUDGET
    else:
        size_why = f"the full profile's size; `-p image_size {source.image_size}` gives the source's"
    rows.append(
        Departure(
            "image size",
            _stated(source.image_size, " px"),
            f"{s.image_size} px",
            size_why,
            differs=source.image_size != s.image_size,
        )
    )
    ours = backbone or getattr(s, "backbone", None)
    if ours is not None:
        rows.append(
            Departure(
                "network",
                _stated(source.backbone),
                str(ours),
                "a small CNN trains in seconds on 2 cores; the source's network runs with `-p backbone ...`"
                if ours == "small-cnn"
                else CPU_BUDGET
                if s.profile != "full"
                else "",
                differs=source.backbone != ours,
            )
        )
    if hasattr(s, "pretrained"):
        start = {True: "ImageNet weights", False: "random weights", None: NOT_STATED}
        rows.append(
            Departure(
                "initialisation",
                start[source.pretrained],
                start[bool(s.pretrained)],
                "ImageNet weights need a file that CPU profiles do not ask for; `full` reads it from the local "
                "cache (the run stops naming it when absent)"
                if source.pretrained and not s.pretrained
                else "",
                differs=source.pretrained is not None and source.pretrained != bool(s.pretrained),
            )
        )
    if hasattr(s, "lr"):
        theirs = (
            f"{source.optimizer}, lr {_stated(source.lr)}, weight decay {_stated(source.weight_decay)}, "
            f"batch {_stated(source.batch_size)}"
        )
        mine = f"Adam, lr {s.lr:g}, weight decay {getattr(s, 'weight_decay', 0.0):g}, batch {s.batch_size}"
        rows.append(
            Departure(
                "optimiser",
                theirs,
                mine,
                "a higher learning rate converges in the few epochs a CPU profile allows"
                if source.lr is not None and s.lr != source.lr
                else "the source states no values for these runs"
                if source.lr is None
                else "",
                differs=theirs != mine,
            )
        )
    if hasattr(s, "epochs"):
        rows.append(
            Departure(
                "training length",
                source.epochs_text,
                f"at most {s.epochs} epochs; learning rate ×0.2 after 2 epochs without a lower validation loss, "
                "stop at the second cut, the best validation epoch's weights kept",
                "one stopping rule for every study (PYLON's), so arms stop when they stop improving rather than at a "
                "count the source tuned for its data",
            )
        )
    if hasattr(s, "seeds"):
        seeds = len(s.seeds)
        rows.append(
            Departure(
                "runs per arm",
                source.runs_text,
                f"{seeds} seed{'s' if seeds != 1 else ''}" + (" (95% Student-t intervals)" if seeds > 1 else ""),
                "several seeds give intervals, which say whether a difference between arms is more than noise",
            )
        )
    rows.append(
        Departure(
            "evaluated on",
            source.evaluation,
            "the held-out test split (patients not seen in training or validation)",
            "validation data choose the stopping epoch and (where fitted) the temperature, so they are not held out",
            differs=not source.evaluation.startswith("held-out test"),
        )
    )
    return rows


def departures_table(rows: Iterable[Departure], *, everything: bool = False) -> pd.DataFrame:
    """The rows that differ (``everything``: all rows) as a table indexed by item, columns
    ``source``, ``this run``, ``why``; an empty table (same columns) when the run matches its source."""
    kept = [r for r in rows if everything or r.differs]
    table = pd.DataFrame(
        [{"item": r.item, "source": r.source, "this run": r.this_run, "why": r.why or "–"} for r in kept],
        columns=["item", "source", "this run", "why"],
    )
    return table.set_index("item")


def show_departures(table: pd.DataFrame):
    """``table`` as the notebooks show it: an HTML table titled "How this run differs from the source", no
    cell truncated, text left-aligned (a pandas ``Styler``; ``.data`` is ``table``). An empty table reads
    as one row saying the run follows the source in every item listed."""
    if table.empty:
        table = pd.DataFrame(
            [{"source": "–", "this run": "follows the source in every item this page lists", "why": "–"}],
            index=pd.Index(["everything"], name="item"),
        )
    shown = table.copy()
    shown.index.name = None
    return shown.style.set_caption("How this run differs from the source").set_table_styles(
        [
            {"selector": "caption", "props": "caption-side: top; font-weight: bold;"},
            {"selector": "th", "props": "text-align: left; vertical-align: top;"},
            {"selector": "td", "props": "text-align: left; vertical-align: top;"},
        ]
    )
