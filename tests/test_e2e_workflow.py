"""The whole workflow end to end through plain `snakemake --cores 2` on the tiny config.

Every rule of the DAG runs, the HTML report is produced, a second run has nothing to do, and
`--forcerun select_shots` reruns exactly the rules downstream of shot selection (fine-tuning
from iteration 0: a finished run's checkpoint is never resumed).
"""

from __future__ import annotations

import json
import re

import pytest
from tiny_workflow import REPO, RESULTS, USES_THE_TINY_RUN, finished_run, ran_jobs, snakemake

pytestmark = USES_THE_TINY_RUN

#: Every rule of rules/*.smk that the tiny config's DAG uses (all but `predict`, which needs
#: evaluate.predict_input, and the aggregate `all`).
ALL_RULES = {
    "demo_world", "ingest", "motion_segment", "motion_figures", "prune_shots", "sample_frames",
    "evaluate_motion", "train", "select_shots", "finetune", "train_mixed", "label_figures",
    "evaluate_voc", "results_table", "colocalize", "qualitative", "label_curves",
    "stage_timings",
}  # fmt: skip


def test_under_loadgroup_the_tiny_run_tests_share_a_worker(request):
    """`make test` runs pytest-xdist with `--dist loadgroup`: the tests of the tiny run must
    stay on one worker, or each worker builds the run again (pytest 9.2 with pytest-xdist 3.8
    split every group without a word, pyproject.toml)."""
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("runs under pytest-xdist --dist loadgroup only (make test)")
    assert request.node.nodeid.endswith("@tiny_run"), request.node.nodeid


def declared_rules() -> set[str]:
    text = "".join(path.read_text() for path in (REPO / "rules").glob("*.smk"))
    return set(re.findall(r"^(?:rule|checkpoint) (\w+):", text, re.MULTILINE))


def test_every_rule_runs_and_the_report_is_written(tmp_path_factory):
    work = finished_run(tmp_path_factory)
    ran = ran_jobs((work / "first_run.log").read_text())
    assert set(ran) - {"all"} == ALL_RULES
    assert declared_rules() - ALL_RULES == {"predict"}
    assert ran["motion_segment"] == 4 and ran["train"] == 3 and ran["evaluate_voc"] == 5
    snakemake(work, "--report", "report.html")
    html = (work / "report.html").read_text(errors="replace")
    assert len(html) > 100_000 and "voc.csv" in html
    assert "reads each dataset into a shot index" in html  # the landing page, workflow.rst


def test_second_run_has_nothing_to_do(tmp_path_factory):
    work = finished_run(tmp_path_factory)
    assert "Nothing to be done" in snakemake(work, "--cores", "2").stdout


def test_forcerun_select_shots_reruns_exactly_downstream(tmp_path_factory):
    work = finished_run(tmp_path_factory)
    proc = snakemake(work, "--cores", "2", "--forcerun", "select_shots")
    assert ran_jobs(proc.stdout) == {
        "select_shots": 1,
        "finetune": 1,
        "train_mixed": 1,
        "evaluate_voc": 2,  # mcnn and mixed
        "colocalize": 1,  # evaluate.colocalize_variant = mcnn
        "qualitative": 1,
        "results_table": 1,
        "label_curves": 1,  # gathers every training, the new finetune and mixed ones too
        "stage_timings": 1,
        "all": 1,
    }
    for stage in ("finetune", "mixed"):
        summary = json.loads((work / RESULTS / f"{stage}/largefov-s0/train.json").read_text())
        assert summary["resumed_from"] is None, stage
        assert summary["iterations_this_run"] == summary["iterations"] == 2, stage
        assert not (work / RESULTS / f"{stage}/largefov-s0/checkpoint.pt").exists(), stage
    assert "Nothing to be done" in snakemake(work, "--cores", "2").stdout
