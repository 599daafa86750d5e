"""What each stage costs: wall time, CPU time and peak memory per stage (CSV, Markdown, chart).

From Snakemake's benchmark files (one per job, `benchmark:` in every rule).

A job's stage is the first folder of its benchmark file under --benchmarks (the same as its
log's: motion/<dataset>/<video>.tsv -> motion), or the file name for a top-level one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from mcnn.core.io import DataError, atomic_path, write_csv

#: Snakemake's benchmark columns read here: wall seconds, CPU seconds, peak resident MB.
COLUMNS = {"s": "wall_s", "cpu_time": "cpu_s", "max_rss": "max_rss_mb"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--benchmarks", required=True, type=Path, help="benchmark folder")
    parser.add_argument("--output-csv", required=True, help="per-stage table (CSV)")
    parser.add_argument("--output-md", required=True, help="per-stage table (Markdown)")
    parser.add_argument("--output-png", required=True, help="bar chart of time and memory")


def read_jobs(folder: Path) -> pd.DataFrame:
    """One row per benchmark file: stage, job (path under `folder`), wall_s, cpu_s, max_rss_mb."""
    rows = []
    for path in sorted(folder.rglob("*.tsv")):
        table = pd.read_csv(path, sep="\t", na_values=["-", "NA"])
        missing = set(COLUMNS) - set(table.columns)
        if table.empty or missing:
            raise DataError(path, f"not a Snakemake benchmark file (missing {sorted(missing)})")
        job = path.relative_to(folder).with_suffix("")
        row = table.iloc[-1][list(COLUMNS)].rename(COLUMNS)
        rows.append({"stage": job.parts[0], "job": str(job), **row.to_dict()})
    if not rows:
        raise DataError(folder, "no benchmark file (*.tsv): run the workflow first")
    return pd.DataFrame(rows)


def per_stage(jobs: pd.DataFrame) -> pd.DataFrame:
    """Jobs, summed and longest wall time, summed CPU time and peak memory per stage, in the
    order the stages first appear by cost, with a total row and each stage's share of the wall."""
    table = jobs.groupby("stage").agg(
        jobs=("job", "size"),
        wall_s=("wall_s", "sum"),
        longest_job_s=("wall_s", "max"),
        cpu_s=("cpu_s", "sum"),
        max_rss_mb=("max_rss_mb", "max"),
    )
    table = table.sort_values("wall_s", ascending=False)
    table["wall_share"] = table["wall_s"] / table["wall_s"].sum()
    total = table.agg(
        {"jobs": "sum", "wall_s": "sum", "longest_job_s": "max", "cpu_s": "sum",
         "max_rss_mb": "max", "wall_share": "sum"}
    )  # fmt: skip
    table.loc["total"] = total
    table["jobs"] = table["jobs"].astype(int)
    return table.reset_index().round(
        {"wall_s": 1, "longest_job_s": 1, "cpu_s": 1, "max_rss_mb": 0, "wall_share": 3}
    )


def markdown(table: pd.DataFrame) -> str:
    header = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "---|" * len(table.columns)
    lines = [header, rule]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(False)]
    note = (
        "Wall and CPU seconds summed over a stage's jobs (jobs run side by side, so the sum can "
        "exceed the run's elapsed time); memory = the largest peak resident set of one job."
    )
    return "\n".join(lines) + "\n\n" + note + "\n"


def bar_chart(table: pd.DataFrame, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = table[table["stage"] != "total"].iloc[::-1]
    figure, (time_axis, memory_axis) = plt.subplots(
        1, 2, figsize=(10, 0.35 * len(stages) + 1.5), sharey=True
    )
    time_axis.barh(stages["stage"], stages["wall_s"], color="tab:blue", label="wall")
    time_axis.barh(stages["stage"], stages["cpu_s"], color="none", edgecolor="k", label="CPU")
    time_axis.set_xlabel("seconds (sum over the stage's jobs)")
    time_axis.legend(loc="lower right")
    memory_axis.barh(stages["stage"], stages["max_rss_mb"], color="tab:orange")
    memory_axis.set_xlabel("peak resident memory of one job (MB)")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100)
    plt.close(figure)


def main(args: argparse.Namespace) -> None:
    table = per_stage(read_jobs(args.benchmarks))
    write_csv(args.output_csv, table)
    with atomic_path(args.output_md) as tmp:
        Path(tmp).write_text(markdown(table))
    bar_chart(table, args.output_png)
