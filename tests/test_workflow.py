"""The Snakemake workflow run for real on a tiny DAVIS-layout dataset written by the test.

Each test runs `snakemake` (the CLI, in a subprocess) in its own folder with the repository's
Snakefile and profiles, limited to ingest and the motion step of two 5-frame sequences, so the
whole file takes well under a minute; one more plans configs/davis.yaml on the real data of
../shared/data. The robustness rows that need the workflow live here; the
others are in test_robustness.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import shared_dataset, write_tiny_davis
from tiny_workflow import job_counts

from mcnn.motion.store import read_video_motion

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "workflow" / "Snakefile"
DEFAULT_PROFILE = REPO / "profiles" / "default"
SLURM_PROFILE = REPO / "profiles" / "slurm"
BIN = Path(sys.executable).parent
SNAKEMAKE = BIN / "snakemake"
VIDEOS = ("seqa", "seqb")
TARGETS = [f"results/motion/tiny/{video}.h5" for video in VIDEOS]


def write_davis(root: Path, sequences=VIDEOS, frames: int = 5) -> Path:
    return write_tiny_davis(root, sequences, frames)


def write_config(work: Path, dataset: dict, **extra) -> Path:
    config = {
        "classes": ["aeroplane", "car", "cat", "horse"],
        "datasets": {"tiny": dataset},
        "video_datasets": ["tiny"],
        "experiments": {"variants": []},
        **extra,
    }
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture
def work(tmp_path) -> Path:
    """A run folder with config.yaml for the tiny dataset (outside the run folder)."""
    root = write_davis(tmp_path / "davis")
    run = tmp_path / "run"
    run.mkdir()
    write_config(run, {"kind": "davis2016", "root": str(root), "labels_file": "video_labels.csv"})
    return run


def snakemake_env(path_first: Path | None = None, **extra) -> dict:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join(
        [str(p) for p in (path_first, BIN) if p is not None] + [env.get("PATH", "")]
    )
    env.update(extra)
    return env


def snakemake(work: Path, *args: str, profile=DEFAULT_PROFILE, env=None, check=True):
    """Run the workflow's CLI in `work` with its config.yaml (unless `args` name another);
    returns the CompletedProcess (stdout + stderr)."""
    # `=`: the option takes several files, and would take the targets after it for more.
    config = [] if "--configfile" in args else ["--configfile=config.yaml"]
    cmd = [str(SNAKEMAKE), "-s", str(SNAKEFILE), "--workflow-profile", str(profile), *config]
    cmd += args
    proc = subprocess.run(
        cmd,
        cwd=work,
        env=env or snakemake_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-5000:]}")
    return proc


def mtimes(work: Path, paths) -> dict[str, int]:
    return {p: (work / p).stat().st_mtime_ns for p in paths}


def test_profiles_are_valid_snakemake_profiles(work):
    """Both profiles parse; the SLURM one is only checked for its keys (no cluster here)."""
    local = snakemake(work, "-n", *TARGETS)
    assert "motion_segment" in local.stdout
    slurm = yaml.safe_load((SLURM_PROFILE / "config.yaml").read_text())
    assert slurm["executor"] == "slurm"
    assert slurm["rerun-incomplete"] is True and slurm["retries"] >= 1
    assert {"slurm_partition", "slurm_account"} <= set(slurm["default-resources"])
    for rule in ("train", "select_shots", "finetune", "train_mixed"):
        assert "slurm_partition" in slurm["set-resources"][rule], rule
    # Partition and account are the profile's business, not the rules'.
    rules = "".join(p.read_text() for p in (REPO / "rules").glob("*.smk"))
    assert "slurm_partition" not in rules and "slurm_account" not in rules


def test_slurm_profile_dry_run_requests_gpus_for_training(work, tmp_path):
    """With the executor plugin installed: the unedited profile stops before anything is
    planned, naming a placeholder; edited, a dry run shows gpu=1 on the GPU partition for
    training (the config leaves resources.train_gpus to its default)."""
    pytest.importorskip("snakemake_executor_plugin_slurm")
    write_config(
        work,
        yaml.safe_load((work / "config.yaml").read_text())["datasets"]["tiny"],
        experiments={"variants": ["mcnn_hard"]},
    )
    snakemake(work, "results/index/tiny.shots.csv")  # the checkpoint, so the DAG is complete
    unedited = snakemake(work, "-n", profile=SLURM_PROFILE, check=False)
    assert unedited.returncode != 0 and "Job stats" not in unedited.stdout
    [line] = [line for line in unedited.stdout.splitlines() if "EDIT_ME" in line]
    assert line.startswith("profile placeholder not edited (default-resources: slurm_")
    edited = tmp_path / "slurm"
    edited.mkdir()
    text = (SLURM_PROFILE / "config.yaml").read_text()
    for placeholder, name in {
        "cpu_partition": "cpu",
        "gpu_partition": "gpu",
        "account": "lab",
    }.items():
        text = text.replace(f"EDIT_ME_{placeholder}", name)
    (edited / "config.yaml").write_text(text)
    out = snakemake(work, "-n", profile=edited).stdout
    block = out[out.index("rule train:") :].split("\n\n")[0]
    assert "gpu=1" in block and "slurm_partition=gpu" in block
    motion = out[out.index("rule motion_segment:") :].split("\n\n")[0]
    assert "gpu=" not in motion and "slurm_partition=cpu" in motion


def test_run_then_nothing_to_be_done_then_params_trigger(work):
    first = snakemake(work, *TARGETS)
    assert first.stdout.count("rule motion_segment:") == 2
    for video in VIDEOS:
        motion = read_video_motion(work / f"results/motion/tiny/{video}.h5")
        assert [m.status for m in motion.values()] == ["ok"]
    second = snakemake(work, *TARGETS)
    assert "Nothing to be done" in second.stdout
    # A changed setting reruns exactly the rules whose params carry it.
    changed = snakemake(work, "-n", *TARGETS, "--config", "seed=3")
    assert changed.stdout.count("rule motion_segment:") == 2
    assert "checkpoint ingest:" not in changed.stdout
    assert "Params have changed" in changed.stdout


@pytest.mark.parametrize(
    "override, key",
    [
        ("seed=abc", "config key 'seed'"),
        ('motion={"flow": {"max_side": "big"}}', "config key 'motion.flow.max_side'"),
        (
            'datasets={"tiny": {"kind": "davis2017", "root": "/x"}}',
            "config key 'datasets.tiny.kind'",
        ),
    ],
)
def test_malformed_config_stops_snakemake_naming_the_key(work, override, key):
    proc = snakemake(work, "-n", *TARGETS, "--config", override, check=False)
    assert proc.returncode != 0
    assert "invalid configuration" in proc.stdout and key in proc.stdout


def test_missing_dataset_path_fails_ingest_naming_it(work, tmp_path):
    missing = tmp_path / "no_such_davis"
    write_config(work, {"kind": "davis2016", "root": str(missing)})
    proc = snakemake(work, *TARGETS, check=False)
    assert proc.returncode != 0
    assert "Error in rule ingest" in proc.stdout
    log = (work / "results/logs/ingest/tiny.log").read_text()
    assert f"error: {missing}" in log and "Traceback" not in log
    # show-failed-logs (profiles/default) puts the log's message on the console too.
    assert str(missing) in proc.stdout
    assert not (work / "results/index/tiny.shots.csv").exists()


HANGING_PYTHON = """#!{python}
# Stands in for `python`: the motion job of $MCNN_HANG_VIDEO writes a torn file at its final
# path and hangs (a job killed mid-write by a non-atomic writer); every other call is python.
import os, sys, time
argv = sys.argv[1:]
video = os.environ.get("MCNN_HANG_VIDEO")
if video and "motion-segment" in argv and argv[argv.index("--video") + 1] == video:
    with open(argv[argv.index("--output") + 1], "wb") as f:
        f.write(b"torn")
    time.sleep(600)
    sys.exit(1)
os.execv({python!r}, [{python!r}, *argv])
"""


def test_interrupted_run_redoes_exactly_the_incomplete_output(work, tmp_path):
    a, b = TARGETS
    snakemake(work, a)
    before = mtimes(work, [a, "results/index/tiny.shots.csv"])

    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "python").write_text(HANGING_PYTHON.format(python=sys.executable))
    (shim / "python").chmod(0o755)
    cmd = [str(SNAKEMAKE), "-s", str(SNAKEFILE), "--workflow-profile", str(DEFAULT_PROFILE)]
    cmd += ["--configfile=config.yaml", a, b]
    env = snakemake_env(shim, MCNN_HANG_VIDEO="seqb")
    proc = subprocess.Popen(
        cmd, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (work / b).exists():
            assert proc.poll() is None, "snakemake ended before the motion job of seqb started"
            assert time.monotonic() < deadline, "the motion job of seqb never started"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole run dies at once: no cleanup
        proc.wait()
    assert (work / b).read_bytes() == b"torn"

    # Without --rerun-incomplete Snakemake refuses to trust the torn output, naming it.
    snakemake(work, "--unlock", profile="none")
    refused = snakemake(work, "--cores", "1", a, b, profile="none", check=False)
    assert refused.returncode != 0
    assert "incomplete" in refused.stdout.lower() and b in refused.stdout

    # The default profile sets rerun-incomplete: only seqb is redone.
    redo = snakemake(work, a, b)
    assert redo.stdout.count("rule motion_segment:") == 1
    assert "output: " + b in redo.stdout
    assert mtimes(work, before) == before
    assert [m.status for m in read_video_motion(work / b).values()] == ["ok"]
    assert "Nothing to be done" in snakemake(work, a, b).stdout


def test_the_davis_config_plans_its_whole_experiment(tmp_path):
    """configs/davis.yaml, as README runs it (from a checkout with ../shared beside it): it
    validates, ingests the real data, and plans every video's motion job and every training."""
    data = shared_dataset("davis2016").parent
    work = tmp_path / "checkout"
    work.mkdir()
    (tmp_path / "shared").symlink_to(data.parent)
    (work / "configs").symlink_to(REPO / "configs")
    config = ("--configfile", "configs/davis.yaml")
    clip_folders = ("web_clips", "web_clips_more")
    index = [f"results/davis/index/{d}.shots.csv" for d in ("davis", *clip_folders, "voc")]
    snakemake(work, *index, *config)
    counts = job_counts(snakemake(work, "-n", *config).stdout)
    experiments = yaml.safe_load((REPO / "configs" / "davis.yaml").read_text())["experiments"]
    seeds = len(experiments["seeds"])
    sequences = len(list((data / "davis2016" / "JPEGImages" / "480p").iterdir()))
    clips = sum(
        len((data / folder / "labels.csv").read_text().splitlines()) - 1 for folder in clip_folders
    )
    assert counts["motion_segment"] == sequences + clips
    # one first training per label strategy (EM-Adapt, motion masks, M-CNN) and seed
    assert counts["train"] == 3 * seeds and counts["finetune"] == seeds
    assert counts["evaluate_voc"] == len(experiments["variants"]) * seeds
