"""Result tables like the paper's Tables 1 and 2: IoU (%) per class, one row per variant and FOV.

Input: evaluation JSONs (`mcnn.evaluation.voc.run`), each tagged with variant, fov and seed.
A row averages the seeds of one (variant, fov): per class the mean over seeds, and the mean IoU
as mean +- sample standard deviation (ddof 1; none with a single seed). The paper's published
rows (Table 1; Table 2's VOC+YTube row for `mixed`) are printed after our row of the same
variant and FOV, marked as published, only for the `subset` protocol and when the models'
classes are the paper's 10 YouTube-Objects classes. How our setting differs from the paper's is
not inferred: the caller passes it as a note, printed under the table.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mcnn.classes import YTO_CLASSES
from mcnn.core.io import DataError, atomic_path, write_csv

log = logging.getLogger(__name__)

VARIANTS = ("em_adapt", "mcnn_hard", "mcnn_star", "mcnn", "mixed")
VARIANT_NAMES = {
    "em_adapt": "EM-Adapt",
    "mcnn_hard": "M-CNN* hard",
    "mcnn_star": "M-CNN*",
    "mcnn": "M-CNN",
    "mixed": "M-CNN images+videos",
}
FOVS = ("largefov", "smallfov")

_PAPER_LABELS = ("background", *YTO_CLASSES)
# (variant, fov) -> (source, IoU per label in _PAPER_LABELS order, average, std over 5 models).
# Table 2 gives no std for VOC+YTube (the mean of 5 models) and no FOV: the paper's best
# variants, which are large FOV (4.3).
_PUBLISHED = {
    ("em_adapt", "smallfov"): (
        "Table 1",
        (65.7, 25.1, 20.5, 9.3, 21.6, 23.7, 12.4, 17.7, 14.9, 19.5, 25.4),
        23.2,
        3.0,
    ),
    ("em_adapt", "largefov"): (
        "Table 1",
        (69.1, 12.9, 14.7, 9.0, 12.9, 15.4, 5.6, 9.9, 7.8, 15.9, 23.0),
        17.9,
        4.4,
    ),
    ("mcnn_star", "smallfov"): (
        "Table 1",
        (83.4, 30.3, 35.2, 13.5, 11.6, 36.5, 22.1, 19.8, 22.2, 5.2, 13.7),
        26.7,
        1.0,
    ),
    ("mcnn_star", "largefov"): (
        "Table 1",
        (84.6, 35.3, 44.8, 24.7, 21.7, 44.4, 26.3, 26.5, 27.9, 10.0, 22.9),
        33.6,
        0.2,
    ),
    ("mcnn_hard", "largefov"): (
        "Table 1",
        (83.6, 35.3, 38.6, 24.0, 21.2, 39.6, 20.2, 21.3, 19.2, 7.9, 17.9),
        29.9,
        0.7,
    ),
    ("mcnn", "largefov"): (
        "Table 1",
        (86.3, 46.5, 43.5, 27.6, 34.0, 47.5, 28.7, 31.0, 30.8, 32.4, 43.4),
        41.2,
        1.3,
    ),
    ("mixed", "largefov"): (
        "Table 2, VOC+YTube",
        (85.4, 54.5, 40.8, 35.5, 41.2, 47.5, 38.3, 42.0, 41.5, 45.0, 47.8),
        47.2,
        None,
    ),
}


def published_row(variant: str, fov: str) -> dict | None:
    """The paper's row for (variant, fov): source, IoU per label, average, std; None if none."""
    if (variant, fov) not in _PUBLISHED:
        return None
    source, values, average, std = _PUBLISHED[(variant, fov)]
    return {
        "source": source,
        "iou": dict(zip(_PAPER_LABELS, values, strict=True)),
        "mean": average,
        "std": std,
    }


def load_results(paths: Sequence[str | os.PathLike], protocol: str) -> tuple[pd.DataFrame, dict]:
    """Long table (variant, fov, seed, label, iou %) and the results' shared facts.

    Every result must carry variant, fov and seed, apply to `protocol`, and share classes,
    dataset and split with the others; a (variant, fov, seed) may occur once.
    """
    records, facts, seen = [], None, set()
    for path in paths:
        result = _read_json(Path(path))
        tags = {key: result.get(key) for key in ("variant", "fov", "seed")}
        if any(value is None for value in tags.values()):
            raise DataError(path, "result lacks variant, fov or seed (evaluate-voc --variant ...)")
        if tags["variant"] not in VARIANTS or tags["fov"] not in FOVS:
            raise DataError(path, f"unknown variant or fov {tags}")
        key = tuple(tags.values())
        if key in seen:
            raise DataError(path, f"a second result for {tags}")
        seen.add(key)
        res = result.get("protocols", {}).get(protocol)
        if res is None:
            raise DataError(path, f"result has no protocol {protocol!r}")
        if not res["applicable"]:
            raise DataError(path, f"protocol {protocol!r} does not apply: {res['reason']}")
        shared = {k: result.get(k) for k in ("classes", "dataset", "split")}
        shared |= {"labels": res["labels"], "images": res["images"]}
        if facts is None:
            facts = shared
        elif shared != facts:
            raise DataError(path, f"classes, dataset, split or images {shared} differ: {facts}")
        for label, iou in zip(res["labels"], res["iou"], strict=True):
            records.append(tags | {"label": label, "iou": math.nan if iou is None else 100 * iou})
        mean = res["mean_iou"]
        records.append(tags | {"label": "mean", "iou": math.nan if mean is None else 100 * mean})
    if facts is None:
        raise ValueError("no result to tabulate")
    return pd.DataFrame(records), facts


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(path, f"cannot read the evaluation result: {exc}") from exc


def build_table(long: pd.DataFrame, labels: list[str], with_published: bool) -> pd.DataFrame:
    """One row per (variant, fov) in the paper's order, published rows after their match."""
    rows = []
    for (variant, fov), group in sorted(
        long.groupby(["variant", "fov"]), key=lambda g: (VARIANTS.index(g[0][0]), g[0][1])
    ):
        by_label = group.pivot(index="seed", columns="label", values="iou")
        means = by_label["mean"].to_numpy()
        rows.append(
            {
                "method": VARIANT_NAMES[variant], "variant": variant, "fov": fov,
                "source": "ours", "seeds": len(by_label),
                **{label: _nanmean(by_label[label]) for label in labels},
                "mean": float(np.mean(means)),
                "std": float(np.std(means, ddof=1)) if len(means) > 1 else math.nan,
            }
        )  # fmt: skip
        paper = published_row(variant, fov) if with_published else None
        if paper is not None:
            rows.append(
                {
                    "method": VARIANT_NAMES[variant], "variant": variant, "fov": fov,
                    "source": f"published ({paper['source']})", "seeds": 5,
                    **{label: paper["iou"][label] for label in labels},
                    "mean": paper["mean"],
                    "std": math.nan if paper["std"] is None else paper["std"],
                }
            )  # fmt: skip
    return pd.DataFrame(rows, columns=[*_ROW_HEAD, *labels, "mean", "std"])


_ROW_HEAD = ["method", "variant", "fov", "source", "seeds"]


def _nanmean(values: pd.Series) -> float:
    defined = values.dropna()
    return float(defined.mean()) if len(defined) else math.nan


def published_applies(classes: Sequence[str], protocol: str) -> bool:
    """The paper's per-class numbers compare only on its 10-class protocol and classes."""
    return protocol == "subset" and set(classes) == set(YTO_CLASSES)


def markdown(table: pd.DataFrame, value_columns: list[str], notes: Sequence[str]) -> str:
    """A Markdown table (values with one decimal, mean +- std) followed by note lines."""
    head = [c for c in ("method", "fov", "source", "seeds") if c in table.columns]
    header = [*head, *value_columns, *(["mean"] if "mean" in table.columns else [])]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in table.to_dict("records"):
        cells = [str(row[c]) for c in head] + [_fmt(row[c]) for c in value_columns]
        if "mean" in table.columns:
            std = row.get("std", math.nan)
            cells.append(_fmt(row["mean"]) + ("" if _missing(std) else f" ± {std:.1f}"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join([*lines, "", *notes]) + "\n"


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _fmt(value) -> str:
    return "–" if _missing(value) else f"{value:.1f}"


def write_markdown(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def render_png(path: str | os.PathLike, table: pd.DataFrame, value_columns, title, notes) -> None:
    """The table as a picture (published rows in grey italics)."""
    plt = _pyplot()
    head = ["method", "fov", "source"]
    cells = []
    for row in table.to_dict("records"):
        std = row["std"]
        mean = _fmt(row["mean"]) + ("" if _missing(std) else f" ± {std:.1f}")
        cells.append([str(row[c]) for c in head] + [_fmt(row[c]) for c in value_columns] + [mean])
    columns = [*head, *[_short(c) for c in value_columns], "mean"]
    # Column widths follow the longest text; the table fills the axes, the notes go below.
    chars = np.array(
        [max(len(columns[c]), *(len(r[c]) for r in cells)) for c in range(len(columns))]
    )
    width = 0.09 * chars.sum() + 0.5
    fig, ax = plt.subplots(figsize=(width, 0.28 * (len(cells) + 1)))
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    drawn = ax.table(
        cellText=cells, colLabels=columns, cellLoc="center", bbox=[0, 0, 1, 1],
        colWidths=list(chars / chars.sum()),
    )  # fmt: skip
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(7)
    for r, source in enumerate(table["source"], start=1):
        if source != "ours":
            for c in range(len(columns)):
                drawn[r, c].set_text_props(color="0.4", style="italic")
    ax.text(0, -0.1, "\n".join(notes), fontsize=7, va="top", transform=ax.transAxes)
    _save(fig, path)


def render_bars(path: str | os.PathLike, table: pd.DataFrame, value_columns, title) -> None:
    """Grouped bars: IoU per class, one bar per table row (published rows hatched)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * len(value_columns) * max(1, len(table) / 3), 4))
    width = 0.8 / len(table)
    x = np.arange(len(value_columns) + 1)
    # Our row and its published counterpart share a colour.
    groups = list(dict.fromkeys(zip(table["variant"], table["fov"], strict=True)))
    for k, row in enumerate(table.to_dict("records")):
        values = [row[c] for c in value_columns] + [row["mean"]]
        published = row["source"] != "ours"
        label = f"{row['method']} {row['fov']}" + (" (published)" if published else "")
        ax.bar(
            x - 0.4 + (k + 0.5) * width, np.nan_to_num(values), width, label=label,
            hatch="//" if published else None, alpha=0.6 if published else 1.0,
            color=f"C{groups.index((row['variant'], row['fov'])) % 10}",
        )  # fmt: skip
    ax.set_xticks(x, [_short(c) for c in value_columns] + ["mean"], rotation=45, ha="right")
    ax.set_ylabel("IoU (%)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, ncols=2)
    _save(fig, path)


def _short(label: str) -> str:
    return {"background": "bkg", "aeroplane": "aero", "motorbike": "mbike"}.get(label, label)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)


def run(
    result_paths: Sequence[str | os.PathLike],
    output_csv: str | os.PathLike,
    output_md: str | os.PathLike,
    output_png: str | os.PathLike,
    output_bars: str | os.PathLike | None = None,
    protocol: str = "subset",
    note: str = "",
    published: bool = True,
) -> pd.DataFrame:
    """Tabulate evaluation results; writes the CSV, Markdown, PNG table (and the bar chart).

    `published=False` leaves the paper's rows out even when they would compare.
    """
    long, facts = load_results(result_paths, protocol)
    labels = facts["labels"]
    with_published = published and published_applies(facts["classes"], protocol)
    table = build_table(long, labels, with_published)
    title = (
        f"IoU (%) on {facts['dataset']} {facts['split']}, protocol '{protocol}' "
        f"({facts['images']} images)"
    )
    notes = [f"{title}; mean ± sample std over seeds."]
    if with_published:
        notes.append("Published rows: Tokmakov et al., ECCV 2016 (mean of 5 models).")
    if note:
        notes.append(f"Note: {note}")
    write_csv(output_csv, table)
    write_markdown(output_md, markdown(table, labels, notes))
    render_png(output_png, table, labels, title, notes[1:])
    if output_bars is not None:
        render_bars(output_bars, table, labels, title)
    published_rows = int((table["source"] != "ours").sum())
    log.info(
        "%d rows (%d published) from %d results", len(table), published_rows, len(result_paths)
    )
    return table
