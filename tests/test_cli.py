"""The `mcnn` command line: version, help, and input errors in one line with exit status 2."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from mcnn.cli import USER_STEPS, _step_modules


def mcnn(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mcnn", *args], cwd=cwd, capture_output=True, text=True
    )


def test_version():
    proc = mcnn("--version")
    assert proc.returncode == 0 and proc.stdout == f"mcnn {version('mcnn')}\n"


def test_help_has_one_described_line_per_step_user_steps_first():
    proc = mcnn("--help")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    user = lines.index("steps to run yourself:")
    internal = next(k for k, line in enumerate(lines) if line.startswith("workflow steps"))
    assert user < internal
    steps = _step_modules()
    listed = {}
    for k, line in enumerate(lines):
        words = line.split(maxsplit=1)
        if line.startswith("  ") and words[0] in steps:
            assert len(words) == 2 and len(words[1]) > 10, line  # a description
            listed[words[0]] = k
    assert set(listed) == set(steps)
    assert all(user < listed[s] < internal for s in USER_STEPS)
    assert all(listed[s] > internal for s in set(steps) - set(USER_STEPS))


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["prune-shots", "--motion", "m.h5", "--params", "{bad", "--output", "o.csv"],
            "mcnn prune-shots: error: argument --params: not valid JSON",
        ),
        (["prune-shots", "--motion", "m.h5"], "mcnn prune-shots: error: the following argument"),
        (["no-such-step"], "mcnn: error: unknown step 'no-such-step'"),
        (["config", "--configfile", "missing.yaml"], "error: missing.yaml: No such file"),
    ],
)
def test_input_errors_are_one_line_exit_2(tmp_path, args, message):
    proc = mcnn(*args, cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), proc.stderr


def test_citation_file_cites_the_paper_and_this_version():
    import yaml

    citation = yaml.safe_load((Path(__file__).resolve().parents[1] / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["version"] == version("mcnn")
    paper = citation["preferred-citation"]
    assert paper["title"] == "Weakly-Supervised Semantic Segmentation using Motion Cues"
    assert [a["family-names"] for a in paper["authors"]] == ["Tokmakov", "Alahari", "Schmid"]
    assert paper["year"] == 2016
