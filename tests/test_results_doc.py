"""docs/RESULTS.md from a results folder: every figure read from a table, beside its run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from mcnn import config as mcnn_config
from mcnn import runs

REPO = Path(__file__).resolve().parents[1]


def fake_results(folder: Path) -> None:
    """A results_dir as the workflow leaves it: one recorded run that wrote the tables."""
    layers = [("configs/mine.yaml", {"experiments": {"seeds": [0, 1]}})]
    runs.start(folder, mcnn_config.layered(layers), layers, cores=2, repo=REPO)
    (folder / "tables").mkdir()
    (folder / "eval" / "motion").mkdir(parents=True)
    pd.DataFrame(
        [
            {"method": "M-CNN", "variant": "mcnn", "fov": "largefov", "source": "ours",
             "seeds": 2, "mean": 22.74, "std": 3.46},
            {"method": "M-CNN", "variant": "mcnn", "fov": "largefov",
             "source": "published (Table 1)", "seeds": 5, "mean": 31.6, "std": 0.8},
            {"method": "EM-Adapt", "variant": "em_adapt", "fov": "largefov", "source": "ours",
             "seeds": 1, "mean": 10.31, "std": float("nan")},
        ]
    ).to_csv(folder / "tables" / "voc.csv", index=False)  # fmt: skip
    pd.DataFrame(
        [
            {"method": "M-CNN (ours)", "source": "ours", "car": 30.0, "average": 26.64},
            {
                "method": "motion masks (ours)",
                "source": "ours: motion stage, raw masks",
                "car": 60.0,
                "average": 60.0,
            },
            {"method": "M-CNN (Table 4)", "source": "published", "car": 77.7, "average": 72.0},
        ]
    ).to_csv(folder / "tables" / "corloc-yto-largefov-s0.csv", index=False)
    (folder / "eval" / "motion" / "davis.json").write_text(
        json.dumps({"sequences": 14, "J_mean": 0.6551, "F_mean": 0.5802})
    )
    pd.DataFrame(
        [
            {"stage": "train", "jobs": 3, "wall_s": 300.0, "cpu_s": 280.0},
            {"stage": "total", "jobs": 10, "wall_s": 3725.0, "cpu_s": 3500.0},
        ]
    ).to_csv(folder / "tables" / "stage_times.csv", index=False)
    time.sleep(1.1)  # the run's end is after the tables were written, to the second
    runs.end(folder, "success")


def test_results_doc_puts_each_figure_beside_its_run(tmp_path):
    results = tmp_path / "results"
    fake_results(results / "mine")
    output = tmp_path / "RESULTS.md"
    proc = subprocess.run(
        [sys.executable, "-m", "mcnn", "results-doc", "--results", str(results),
         "--output", str(output)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    text = output.read_text()
    [run] = runs.read(results / "mine")
    date = run["time"][:10]
    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines()}
    mcnn = rows["VOC mean IoU, M-CNN (largefov)"]
    assert "| 22.7 ± 3.5 | 0, 1 |" in mcnn and run["commit"] in mcnn and date in mcnn
    assert f"| {run['cpu']} | 2 of {os.cpu_count()} |" in mcnn
    assert mcnn.endswith("| tables/voc.csv |")
    assert re.search(r"\| \d+ s \|", mcnn)  # the run's wall time, from runs.jsonl
    assert "| 10.3 |" in rows["VOC mean IoU, EM-Adapt (largefov)"]
    assert "31.6" not in text  # published rows are the paper's, not results
    assert "| 26.6 | – |" in rows["CorLoc average, yto-largefov-s0, M-CNN (ours)"]
    assert "| 60.0 | – |" in rows["CorLoc average, yto-largefov-s0, motion masks (ours)"]
    assert "72.0" not in text
    assert "| J 0.655, F 0.580 | – |" in rows["motion stage (FST), davis, 14 sequences"]
    assert "| 1 h 02 min wall, 58 min 20 s CPU |" in rows["job time summed over 10 jobs"]
    assert "configs/mine.yaml" in text and "success" in text


def test_results_doc_without_a_recorded_run_is_one_line(tmp_path):
    (tmp_path / "results").mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "mcnn", "results-doc", "--results", str(tmp_path / "results"),
         "--output", str(tmp_path / "R.md")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'results'}: no runs.jsonl in it: run the workflow first"
    ]


@pytest.mark.parametrize("seconds, text", [(5, "5 s"), (75, "1 min 15 s"), (3725, "1 h 02 min")])
def test_duration(seconds, text):
    from mcnn.steps.results_doc import duration

    assert duration(seconds) == text
