"""Write docs/RESULTS.md from results folders: each figure beside the run that produced it.

Every folder under --results holding a `runs.jsonl` is one experiment's results_dir (the
workflow writes it, with config.effective.yaml, at the start and end of each run). Its figures
are read from the tables the workflow wrote: the VOC mean IoU per variant (tables/voc.csv), the
CorLoc average (tables/corloc-*.csv), the motion stage's J and F (eval/motion/*.json) and the job
time summed over all stages (tables/stage_times.csv). Beside each figure: the commit, date,
CPU, cores, seeds and wall time of the run that wrote its file (the last run started before the
file's modification time). No figure is typed by hand: rerun this step after a run.
"""

from __future__ import annotations

import argparse
import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import yaml

from mcnn import runs as run_records
from mcnn.core.io import DataError, atomic_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--results",
        nargs="+",
        required=True,
        type=Path,
        help="results folders (each searched for results_dirs holding a runs.jsonl)",
    )
    parser.add_argument("--output", required=True, help="Markdown file (docs/RESULTS.md)")


def results_dirs(folders: list[Path]) -> list[Path]:
    found = []
    for folder in folders:
        if not folder.is_dir():
            raise DataError(folder, "no such results folder")
        found += sorted(path.parent for path in folder.rglob(run_records.RUNS))
    if not found:
        raise DataError(folders[0], f"no {run_records.RUNS} in it: run the workflow first")
    return sorted(set(found))


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def run_of(path: Path, runs: list[dict]) -> dict | None:
    """The run that wrote `path`: the last one started at or before its modification time."""
    written = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    started = [run for run in runs if _time(run["time"]) <= written]
    return started[-1] if started else None


def _wall(run: dict) -> str:
    if run["end"] is None:
        return "unfinished"
    return duration((_time(run["end"]) - _time(run["time"])).total_seconds())


def _fmt(value: float, decimals: int = 1) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.{decimals}f}"


def figures(folder: Path) -> list[tuple[str, str, Path, bool]]:
    """(figure, value, file, over the seeds) for every figure found in a results_dir."""
    rows = []
    voc = folder / "tables" / "voc.csv"
    if voc.is_file():
        table = pd.read_csv(voc)
        for row in table[table["source"] == "ours"].to_dict("records"):
            std = "" if pd.isna(row["std"]) else f" ± {row['std']:.1f}"
            figure = f"VOC mean IoU, {row['method']} ({row['fov']})"
            rows.append((figure, _fmt(row["mean"]) + std, voc, True))
    for path in sorted((folder / "tables").glob("corloc-*.csv")):
        table = pd.read_csv(path)
        name = path.stem.removeprefix("corloc-")
        # The network's row and the raw motion masks' row beside it (both "ours").
        for row in table[table["source"].str.startswith("ours")].to_dict("records"):
            figure = f"CorLoc average, {name}, {row['method']}"
            rows.append((figure, _fmt(row["average"]), path, False))
    for path in sorted((folder / "eval" / "motion").glob("*.json")):
        summary = json.loads(path.read_text())
        value = f"J {_fmt(summary['J_mean'], 3)}, F {_fmt(summary['F_mean'], 3)}"
        figure = f"motion stage (FST), {path.stem}, {summary['sequences']} sequences"
        rows.append((figure, value, path, False))
    stages = folder / "tables" / "stage_times.csv"
    if stages.is_file():
        total = pd.read_csv(stages).set_index("stage").loc["total"]
        value = f"{duration(total['wall_s'])} wall, {duration(total['cpu_s'])} CPU"
        rows.append((f"job time summed over {int(total['jobs'])} jobs", value, stages, True))
    return rows


def section(folder: Path) -> list[str]:
    runs = run_records.read(folder)
    effective = folder / run_records.EFFECTIVE_CONFIG
    config = yaml.safe_load(effective.read_text()) if effective.is_file() else {}
    seeds = ", ".join(str(s) for s in config.get("experiments", {}).get("seeds", [])) or "–"
    lines = [
        f"## {folder}",
        "",
        f"Configuration: {folder / run_records.EFFECTIVE_CONFIG} (each value with its source).",
        "",
        "| figure | value | seeds | commit | date (UTC) | CPU | cores | run wall time | file |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    found = figures(folder)
    for figure, value, path, over_seeds in found:
        run = run_of(path, runs)
        if run is None:
            context = ["not recorded"] * 5
        else:
            cores = f"{run['cores']} of {run['cpus']}" if run["cores"] else f"{run['cpus']}"
            date = _time(run["time"]).strftime("%Y-%m-%d %H:%M")
            context = [run["commit"], date, run["cpu"], cores, _wall(run)]
        rel = path.relative_to(folder)
        cells = [figure, value, seeds if over_seeds else "–", *context, str(rel)]
        lines.append("| " + " | ".join(cells) + " |")
    if not found:
        lines.append("| (no result table yet) | | | | | | | | |")
    lines += [
        "",
        "Runs recorded in this folder (runs.jsonl):",
        "",
        "| start (UTC) | config | commit | CPU | cores | wall time | status |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        date = _time(run["time"]).strftime("%Y-%m-%d %H:%M")
        configs = ", ".join(run["config"])
        cores = f"{run['cores']} of {run['cpus']}" if run["cores"] else f"{run['cpus']}"
        status = run["status"] or "no end recorded"
        lines.append(
            f"| {date} | {configs} | {run['commit']} | {run['cpu']} | {cores} | {_wall(run)} "
            f"| {status} |"
        )
    return [*lines, ""]


def render(folders: list[Path], command: str) -> str:
    lines = [
        "# Results",
        "",
        f"Generated by `{command}`; do not edit by hand: run it again after a run of the workflow.",
        "Each figure is read from the table named beside it; commit, date, CPU, cores and wall",
        "time are those of the workflow run that wrote that table (`runs.jsonl`; a commit",
        "ending in +dirty had uncommitted changes). Wall time is the whole run's, from start to",
        "end; cores: Snakemake's `--cores` of the machine's CPUs. Seeds: the training seeds a",
        "figure averages over (– for one not per seed; a CorLoc table names its seed).",
        "",
    ]
    for folder in results_dirs(folders):
        lines += section(folder)
    return "\n".join(lines)


def main(args: argparse.Namespace) -> None:
    folders = " ".join(str(path) for path in args.results)
    text = render(
        args.results, f"python -m mcnn results-doc --results {folders} --output {args.output}"
    )
    with atomic_path(args.output) as tmp:
        tmp.write_text(text)
