"""The SLURM path for real: the tiny config through profiles/slurm on a single-node Slurm cluster.

.ci/slurm-cluster.sh installs Debian's slurm-wlm and munge (apt-get, as root) if needed, writes
a slurm.conf with a `cpu` and a `gpu` partition on this machine (its node advertises one GPU)
and starts munged, slurmctld and slurmd. The test then fills in the profile's placeholders as a
user would and runs the whole workflow through the SLURM executor plugin: every job goes
through sbatch. Skips, saying why, where that cannot be done (not root, no apt-get, no plugin).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_e2e_workflow import ALL_RULES
from tiny_workflow import (
    REPO,
    RESULTS,
    USES_THE_TINY_RUN,
    finished_run,
    new_run_folder,
    ran_jobs,
    snakemake,
)

SLURM_PROFILE = REPO / "profiles" / "slurm" / "config.yaml"
CLUSTER_SCRIPT = REPO / ".ci" / "slurm-cluster.sh"
#: The tests that start or stop Slurm daemons run on one pytest-xdist worker, one at a time.
USES_SLURM_DAEMONS = pytest.mark.xdist_group("slurm_daemons")


def gpu_rules() -> set[str]:
    """Rules whose resources declare `gpu=`."""
    found = set()
    for path in (REPO / "rules").glob("*.smk"):
        for block in re.split(r"\n(?=rule |checkpoint )", path.read_text()):
            name = re.match(r"(?:rule|checkpoint) (\w+):", block)
            if name and re.search(r"^\s+gpu=", block, re.MULTILINE):
                found.add(name[1])
    return found


def test_the_profile_sends_exactly_the_gpu_rules_to_the_gpu_partition():
    profile = yaml.safe_load(SLURM_PROFILE.read_text())
    routed = {
        rule
        for rule, resources in profile["set-resources"].items()
        if resources.get("slurm_partition") == "EDIT_ME_gpu_partition"
    }
    assert routed == gpu_rules() == {
        "train", "finetune", "train_mixed", "select_shots", "evaluate_voc", "colocalize", "predict"
    }  # fmt: skip


def user_profile(folder: Path) -> Path:
    """profiles/slurm with its placeholders filled in for the test cluster, job sizes capped to
    its one node, and squeue for job states (the test cluster keeps no accounting)."""
    profile = yaml.safe_load(SLURM_PROFILE.read_text())
    cpus = os.cpu_count() or 1
    partitions = {"EDIT_ME_cpu_partition": "cpu", "EDIT_ME_gpu_partition": "gpu"}
    profile["default-resources"].update(
        slurm_partition="cpu", slurm_account="mcnnci", mem_mb=1500, runtime=30
    )
    profile["set-threads"] = {rule: min(n, cpus) for rule, n in profile["set-threads"].items()}
    for resources in profile["set-resources"].values():
        if "slurm_partition" in resources:
            resources["slurm_partition"] = partitions[resources["slurm_partition"]]
        resources.update(mem_mb=min(resources.get("mem_mb", 1500), 2000), runtime=30)
    profile.update(
        {
            "slurm-status-command": "squeue",
            "slurm-init-seconds-before-status-checks": 2,
            "retries": 0,  # a failure shows at once instead of three times
            "latency-wait": 10,
        }
    )
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump(profile))
    return folder


@pytest.fixture
def cluster(tmp_path):
    """SLURM_CONF of a running single-node cluster (stopped afterwards)."""
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="the SLURM plugin is absent")
    if os.geteuid() != 0:
        pytest.skip("a Slurm cluster needs root (slurmd, munged); run CI as root")
    if not shutil.which("slurmctld") and not shutil.which("apt-get"):
        pytest.skip("no Slurm installed and no apt-get to install Debian's slurm-wlm")
    folder = tmp_path / "cluster"
    try:  # a start that fails or times out may have started some daemons: stop them too
        start = subprocess.run(
            [str(CLUSTER_SCRIPT), "start", str(folder)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if start.returncode != 0:
            pytest.fail(f"{CLUSTER_SCRIPT} start failed:\n{start.stdout}\n{start.stderr}")
        yield folder / "slurm.conf"
    finally:
        subprocess.run([str(CLUSTER_SCRIPT), "stop", str(folder)], timeout=60)


@USES_SLURM_DAEMONS
def test_the_whole_workflow_runs_through_slurm(tmp_path, cluster, monkeypatch):
    """Every rule through sbatch. The DAG is the tiny one cut to one video per class and the
    variants that need every rule (M-CNN*, M-CNN and images+videos: train, label_figures,
    select_shots, finetune, train_mixed): each job here pays a Snakemake start-up inside its
    Slurm job and the plugin's status polling; the local run checks every variant's output."""
    monkeypatch.setenv("SLURM_CONF", str(cluster))
    work = new_run_folder(tmp_path, "run")
    config = yaml.safe_load((work / "config.yaml").read_text())
    config["demo_world"]["videos_per_class"] = 1
    config["experiments"] = {"variants": ["mcnn_star", "mcnn", "mixed"]}
    (work / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    profile = user_profile(tmp_path / "profile")
    proc = snakemake(work, profile=profile, timeout=1500)
    assert set(ran_jobs(proc.stdout)) - {"all"} == ALL_RULES
    submitted = re.findall(r"Job \d+ has been submitted with SLURM jobid (\d+)", proc.stdout)
    assert len(submitted) == sum(ran_jobs(proc.stdout).values()) - 1  # all but `all` (local)
    assert (work / RESULTS / "tables" / "voc.csv").is_file()


@USES_SLURM_DAEMONS
def test_stop_ends_the_daemons_of_an_earlier_crashed_run(tmp_path):
    """The PID files are in one known place: `stop` (also run first by `start`) ends daemons a
    crashed run left behind, whatever its folder was, and no process that merely reuses a PID."""
    run = tmp_path / "run"
    run.mkdir()
    fake = tmp_path / "bin" / "slurmd"  # a process whose name is slurmd's
    fake.parent.mkdir()
    shutil.copy(shutil.which("sleep"), fake)
    daemon = subprocess.Popen([str(fake), "300"])
    other = subprocess.Popen(["sleep", "300"])
    try:
        (run / "slurmd.pid").write_text(f"{daemon.pid}\n")
        (run / "slurmctld.pid").write_text(f"{other.pid}\n")  # a reused PID: not slurmctld
        env = {**os.environ, "MCNN_SLURM_RUN": str(run)}
        subprocess.run([str(CLUSTER_SCRIPT), "stop", str(tmp_path / "another")], env=env,
                       check=True, timeout=60)  # fmt: skip
        assert daemon.wait(timeout=10) is not None
        assert other.poll() is None
        assert not list(run.iterdir())
    finally:
        daemon.kill()
        other.kill()


FAKE_SLURM_TOOL = """#!{python}
# Stands in for a Slurm command: sbatch records its arguments and refuses (no cluster here);
# sacctmgr knows the account; the others answer nothing.
import json, os, sys
name = os.path.basename(sys.argv[0])
if name == "sbatch":
    with open(os.environ["FAKE_SBATCH_LOG"], "a") as log:
        log.write(json.dumps(sys.argv[1:]) + "\\n")
    sys.exit("fake sbatch: arguments recorded, nothing submitted")
if name == "sacctmgr":
    print("mcnnci")
"""


def fake_slurm(folder: Path) -> Path:
    folder.mkdir()
    for name in ("sbatch", "sinfo", "squeue", "sacct", "sacctmgr", "sshare", "scontrol"):
        (folder / name).write_text(FAKE_SLURM_TOOL.format(python=sys.executable))
        (folder / name).chmod(0o755)
    return folder


@USES_THE_TINY_RUN
def test_the_sbatch_call_of_a_training_job(tmp_path_factory, tmp_path, monkeypatch):
    """What the plugin sends for one training job of a config that leaves the GPUs to their
    default: the GPU partition, one GPU, the account, memory and time of profiles/slurm
    (capped as user_profile caps them). Documented in docs/cluster.md."""
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="the SLURM plugin is absent")
    work = tmp_path / "run"
    shutil.copytree(finished_run(tmp_path_factory), work, symlinks=True)
    tools = fake_slurm(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SBATCH_LOG", str(tmp_path / "sbatch.log"))
    profile = user_profile(tmp_path / "profile")
    model = f"{RESULTS}/train/hard-largefov-s0/model.pt"
    proc = snakemake(work, model, "--forcerun", "train", profile=profile, check=False)
    assert proc.returncode != 0 and "fake sbatch: arguments recorded" in proc.stdout
    [argv] = [json.loads(line) for line in (tmp_path / "sbatch.log").read_text().splitlines()]
    wrap = next(arg for arg in argv if arg.startswith("--wrap="))
    sent = " ".join(arg for arg in argv if arg != wrap)
    cpus = yaml.safe_load((profile / "config.yaml").read_text())["set-threads"]["train"]
    assert (
        "--comment rule_train_wildcards_hard_largefov_0 -A mcnnci -p gpu -t 30 --mem 2000" in sent
    )
    assert sent.endswith(f" --cpus-per-task={cpus} -D {work} --gpus=1")
    assert "--target-jobs 'train:strategy=hard,fov=largefov,seed=0'" in wrap
