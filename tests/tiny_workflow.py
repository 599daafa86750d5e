"""The tiny configuration (tests/data/tiny_workflow.yaml) run through the real `snakemake` CLI.

Shared by the end-to-end, rerun and SLURM tests: one finished run per test session, in a folder
of its own, which the tests then rerun, force or dry-run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "workflow" / "Snakefile"
DEFAULT_PROFILE = REPO / "profiles" / "default"
TINY_CONFIG = REPO / "tests" / "data" / "tiny_workflow.yaml"
#: The tiny config's results folder (its name holds a space: shell commands quote their paths).
RESULTS = yaml.safe_load(TINY_CONFIG.read_text())["results_dir"]
BIN = Path(sys.executable).parent
SNAKEMAKE = BIN / "snakemake"

_finished: dict[str, Path] = {}

#: The mark of every test that uses `finished_run`: under pytest-xdist (`make test` runs two
#: workers, `--dist loadgroup`) they go to one worker, which then runs the tiny workflow once.
USES_THE_TINY_RUN = pytest.mark.xdist_group("tiny_run")


def snakemake_env() -> dict:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    return env


def snakemake(work: Path, *args: str, profile=DEFAULT_PROFILE, timeout=600, check=True):
    """Run the workflow's CLI in `work` (stdout and stderr together in .stdout), with
    `--configfile config.yaml` (the run folder's) unless `args` name another config."""
    # `=`: the option takes several files, and would take the targets after it for more.
    config = [] if "--configfile" in args else ["--configfile=config.yaml"]
    cmd = [str(SNAKEMAKE), "-s", str(SNAKEFILE), "--workflow-profile", str(profile), *config]
    cmd += args
    proc = subprocess.run(
        cmd,
        cwd=work,
        env=snakemake_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-6000:]}")
    return proc


def new_run_folder(parent: Path, name: str) -> Path:
    work = parent / name
    work.mkdir(parents=True)
    shutil.copy(TINY_CONFIG, work / "config.yaml")
    return work


def finished_run(tmp_path_factory) -> Path:
    """A folder where the tiny workflow has run to the end (once per test session)."""
    if "local" not in _finished:
        work = new_run_folder(tmp_path_factory.mktemp("tiny"), "run")
        proc = snakemake(work, "--cores", "2")
        (work / "first_run.log").write_text(proc.stdout)
        _finished["local"] = work
    return _finished["local"]


def ran_jobs(output: str) -> dict[str, int]:
    """Rule -> number of jobs that finished, from the log of a real run."""
    counts: dict[str, int] = {}
    for rule in re.findall(r"Finished jobid: \d+ \(Rule: (\w+)\)", output):
        counts[rule] = counts.get(rule, 0) + 1
    return counts


def job_counts(output: str) -> dict[str, int]:
    """Rule -> number of jobs of a dry run, from the 'Job stats' table (empty: nothing to do).
    (A real run prints a table per DAG update, before checkpoints add jobs: use ran_jobs.)"""
    if "Nothing to be done" in output:
        return {}
    table = output[output.index("Job stats:") :].split("\n\n")[0]
    counts = {}
    for line in table.splitlines()[3:]:
        match = re.fullmatch(r"\s*(\w+)\s+(\d+)\s*", line)
        if match and match[1] != "total":
            counts[match[1]] = int(match[2])
    return counts
