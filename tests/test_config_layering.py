"""A researcher's own config: never layered on the demo, variants fitted to the data, every output
under results_dir, the effective configuration (with each value's source) written and shown.

One real run of the two ingest jobs of a tiny DAVIS-layout dataset (seconds), then dry runs.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time

import pytest
import yaml
from conftest import write_tiny_davis
from tiny_workflow import (
    DEFAULT_PROFILE,
    REPO,
    SNAKEFILE,
    SNAKEMAKE,
    job_counts,
    snakemake,
    snakemake_env,
)

from mcnn import config as mcnn_config
from mcnn import runs

TRAININGS = ("train", "finetune", "train_mixed")


@pytest.fixture(scope="module")
def own_experiment(tmp_path_factory):
    """A run folder with a config of only `datasets`, `classes` and `results_dir`, its
    datasets ingested (so that the dry runs plan every job)."""
    tmp = tmp_path_factory.mktemp("own")
    root = write_tiny_davis(tmp / "clips")
    work = tmp / "run"
    work.mkdir()
    config = {
        "classes": ["car", "cat"],
        "results_dir": "out/exp1",
        "datasets": {
            "clips": {"kind": "davis2016", "root": str(root)},
        },
        "video_datasets": ["clips"],
    }
    (work / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    first = snakemake(work, "--cores", "2", "out/exp1/index/clips.shots.csv")
    return work, first.stdout


def planned(output: str, field: str) -> list[str]:
    """The paths of every job's `output:`, `log:` or `benchmark:` line of a dry run."""
    paths = []
    for line in output.splitlines():
        if line.startswith(f"    {field}: "):
            paths += line.removeprefix(f"    {field}: ").split(", ")
    return paths


def shell_commands(output: str, rule: str) -> list[str]:
    """The shell commands of a rule's jobs in a dry run with --printshellcmds."""
    commands = []
    for block in output.split("\n\n"):
        head = re.search(r"^(?:local)?(?:rule|checkpoint) (\w+):", block, re.MULTILINE)
        if head and head[1] == rule:
            commands += re.findall(r"^Shell command: (.*)$", block, re.MULTILINE)
    return commands


def test_own_config_plans_no_demo_job_pretrained_trainings_all_under_results_dir(own_experiment):
    work, _ = own_experiment
    proc = snakemake(work, "-n")
    counts = job_counts(proc.stdout)
    assert "demo_world" not in counts and "motion_figures" not in counts
    assert counts["train"] == 3 and counts["finetune"] == 1
    # No image dataset: the default variants leave `mixed` out, saying so in one line.
    assert "train_mixed" not in counts
    assert "mcnn: variant 'mixed' left out: no image dataset in 'image_datasets'" in proc.stdout
    for field in ("output", "log", "benchmark"):
        paths = planned(proc.stdout, field)
        assert paths and all(path.startswith("out/exp1/") for path in paths), (field, paths)
    commands = [cmd for rule in TRAININGS for cmd in shell_commands(proc.stdout, rule)]
    assert len(commands) == 4
    for command in commands:
        argv = shlex.split(command.split(" > ")[0])
        model = json.loads(argv[argv.index("--params") + 1])["model"]
        assert model["backbone"] == "vgg16" and model["pretrained"] is True, command


def test_mixed_asked_for_without_images_is_one_line_naming_the_key(own_experiment, tmp_path):
    work, _ = own_experiment
    config = yaml.safe_load((work / "config.yaml").read_text())
    config["experiments"] = {"variants": ["mcnn", "mixed"]}
    path = tmp_path / "mixed.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = snakemake(work, "-n", "--configfile", str(path), check=False)
    assert proc.returncode != 0
    assert (
        "invalid configuration: config key 'experiments.variants': 'mixed' needs an image "
        "dataset in 'image_datasets'" in proc.stdout
    )


def test_the_run_writes_its_effective_configuration_and_record(own_experiment):
    work, _ = own_experiment
    text = (work / "out/exp1" / runs.EFFECTIVE_CONFIG).read_text()
    layers = [("config.yaml", mcnn_config.read(work / "config.yaml"))]
    expected = mcnn_config.layered(layers)
    mcnn_config.fit_variants(expected, layers)
    assert yaml.safe_load(text) == expected
    assert 'results_dir: "out/exp1"  # config.yaml' in text
    assert re.search(r'^    backbone: "vgg16"  # default$', text, re.MULTILINE)
    [run] = runs.read(work / "out/exp1")
    assert run["status"] == "success" and run["config"] == ["config.yaml"]
    assert run["end"] >= run["time"] and run["cpus"] >= 1
    assert not (work / "results").exists()  # nothing outside results_dir


def test_a_plain_run_is_the_demo_and_a_configfile_never_inherits_it(tmp_path):
    """In the repository layout: no --configfile = configs/demo.yaml; with one, the demo's
    settings are gone (the schema's defaults instead)."""
    (tmp_path / "configs").symlink_to(REPO / "configs")
    demo = subprocess.run(
        [sys.executable, "-m", "mcnn", "config"], cwd=tmp_path, capture_output=True, text=True
    )
    assert demo.returncode == 0, demo.stderr
    assert 'backbone: "compact"  # configs/demo.yaml' in demo.stdout
    own = tmp_path / "own.yaml"
    own.write_text(yaml.safe_dump({"classes": ["car"], "results_dir": "mine"}))
    shown = subprocess.run(
        [sys.executable, "-m", "mcnn", "config", "--configfile", "own.yaml"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert 'backbone: "vgg16"  # default' in shown.stdout
    assert "train_gpus: 1  # default" in shown.stdout and "demo_videos" not in shown.stdout
    # The Snakefile loads the demo only without --configfile: a plain dry run plans the demo.
    plain = subprocess.run(
        [str(SNAKEMAKE), "-s", str(SNAKEFILE), "--workflow-profile", str(DEFAULT_PROFILE), "-n"],
        cwd=tmp_path, env=snakemake_env(), capture_output=True, text=True,
    )  # fmt: skip
    assert plain.returncode == 0, plain.stderr[-3000:]
    assert job_counts(plain.stdout)["demo_world"] == 1


def test_davis_config_is_self_contained():
    """configs/davis.yaml states what it inherited when it was an overlay on the demo config:
    its backbone, one thread and no GPU per training (two trainings side by side on 2 cores)."""
    davis = mcnn_config.layered([("davis", mcnn_config.read(REPO / "configs/davis.yaml"))])
    assert davis["train"]["model"]["backbone"] == "efficientnet_lite0"
    assert davis["resources"] == {**davis["resources"], "threads": 1, "train_gpus": 0}
    assert set(davis["datasets"]) == {"davis", "voc", "web_clips", "web_clips_more"}


def test_source_of_each_value_follows_the_layers():
    layers = [
        ("a.yaml", {"seed": 1, "train": {"sgd": {"lr": 0.1}}}),
        ("b.yaml", {"train": {"sgd": {"momentum": 0.5}}}),
        ("--config", {"seed": 2}),
    ]
    config = mcnn_config.layered(layers)
    assert (config["seed"], config["train"]["sgd"]["lr"]) == (2, 0.1)
    assert mcnn_config.source(layers, ("seed",)) == "--config"
    assert mcnn_config.source(layers, ("train", "sgd", "lr")) == "a.yaml"
    assert mcnn_config.source(layers, ("train", "sgd", "momentum")) == "b.yaml"
    assert mcnn_config.source(layers, ("train", "sgd", "weight_decay")) == "default"
    assert yaml.safe_load(mcnn_config.effective_yaml(config, layers)) == config


def test_progress_lines_come_from_the_logs_that_changed(tmp_path):
    logs = tmp_path / "logs"
    (logs / "train").mkdir(parents=True)
    old = logs / "ingest.log"
    old.write_text("done\n")
    watcher = runs.ProgressWatcher(logs, every=0)
    watcher.start()  # every 0: no thread; poll by hand
    assert watcher.poll() == []  # nothing changed since the start
    log = logs / "train" / "mcnn-largefov-s0.log"
    log.write_text(
        "INFO start\ntrain mcnn:  10%|#  | 1/10 [00:01<00:09]\rtrain mcnn:  20%|## | 2/10\r"
    )
    assert watcher.poll() == [f"mcnn progress: {log}: train mcnn:  20%|## | 2/10"]
    assert watcher.poll() == []
    watcher.stop()


def test_progress_watcher_prints_on_its_thread(tmp_path):
    import io

    stream = io.StringIO()
    watcher = runs.ProgressWatcher(tmp_path, every=0.05, stream=stream).start()
    (tmp_path / "job.log").write_text("shots of v1: 3/4\n")
    deadline = time.monotonic() + 10
    while "shots of v1: 3/4" not in stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)
    watcher.stop()
    assert f"mcnn progress: {tmp_path / 'job.log'}: shots of v1: 3/4\n" in stream.getvalue()


def test_a_demo_world_outside_results_dir_is_one_line_naming_the_key(own_experiment, tmp_path):
    """No job writes outside results_dir: the demo world's folder included."""
    work, _ = own_experiment
    config = yaml.safe_load((REPO / "configs" / "demo.yaml").read_text())
    config["results_dir"] = "out/demo"  # the demo world stays at results/demo_world
    path = tmp_path / "demo-elsewhere.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = snakemake(work, "-n", "--configfile", str(path), check=False)
    assert proc.returncode != 0 and "Job stats" not in proc.stdout
    assert (
        "config key 'demo_world.root': results/demo_world is outside results_dir out/demo"
        in proc.stdout
    )
