"""Exact reruns: a changed setting reruns exactly the rules whose step reads it.

On a finished run of the tiny config (tests/tiny_workflow.py), each case changes one setting
in a copy of config.yaml and compares Snakemake's dry-run job list with the rules that read
it and everything downstream of them. Also: a finished training run is never resumed, a killed
one is, and execution-only settings are no part of a run's identity.
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch
import yaml
from test_training import CLASSES, tiny_params, write_toy_samples
from tiny_workflow import (
    RESULTS,
    USES_THE_TINY_RUN,
    finished_run,
    job_counts,
    ran_jobs,
    snakemake,
)

import mcnn.train as tr
from mcnn.models import load_checkpoint

pytestmark = USES_THE_TINY_RUN

# Rules downstream of each training model, to build the expected sets below.
AFTER_FINETUNE = {"train_mixed": 1, "evaluate_voc": 2, "colocalize": 1}
# ... and what gathers every training (label_curves) or every evaluation (the rest).
REPORT = {"label_curves": 1, "results_table": 1, "qualitative": 1, "stage_timings": 1, "all": 1}

CASES = {
    # Execution-only settings: nothing reruns.
    "train.train.label_workers": (2, {}),
    "train.train.checkpoint_every": (3, {}),
    "resources.allow_cpu": (False, {}),  # decides only whether a GPU job without one stops
    # A timm backbone's setting: the tiny config trains a compact network, which reads none.
    "train.model.head_channels": (64, {}),
    # Read by fine-tuning only (and what follows it).
    "train.finetune.iterations": (3, {"finetune": 1, **AFTER_FINETUNE, **REPORT}),
    "labels.alpha_finetune": (1.5, {"finetune": 1, **AFTER_FINETUNE, **REPORT}),
    # EM-Adapt settings: the em_adapt model, mixed training (its images get EM-Adapt labels)
    # and the label figure, which shows every strategy.
    "labels.em_adapt_bg_portion": (
        0.5,
        {"train": 1, "train_mixed": 1, "evaluate_voc": 2, "label_figures": 1, **REPORT},
    ),
    # The M-CNN energy: the mcnn-strategy models, not em_adapt or hard.
    "labels.pairwise_weight": (
        20.0,
        {
            "train": 1,
            "select_shots": 1,
            "finetune": 1,
            "label_figures": 1,
            **AFTER_FINETUNE,
            "evaluate_voc": 3,
            **REPORT,
        },
    ),  # fmt: skip
    "evaluate.colocalization.superpixels": (60, {"colocalize": 1, "stage_timings": 1, "all": 1}),
    "evaluate.protocols": (
        ["subset"],
        {"evaluate_voc": 5, "results_table": 1, "stage_timings": 1, "all": 1},
    ),
    "evaluate.qualitative_images": (1, {"qualitative": 1, "stage_timings": 1, "all": 1}),
    "shots.sample.num_frames": (
        5,
        {
            "sample_frames": 1,
            "train": 3,
            "select_shots": 1,
            "finetune": 1,
            "label_figures": 1,
            **AFTER_FINETUNE,
            "evaluate_voc": 5,
            **REPORT,
        },
    ),  # fmt: skip
}


def changed_config(work, dotted: str, value):
    config = yaml.safe_load((work / "config.yaml").read_text())
    section = config
    *parents, key = dotted.split(".")
    for name in parents:
        section = section.setdefault(name, {})
    section[key] = value
    path = work / f"config-{dotted}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.mark.parametrize("dotted", CASES)
def test_a_changed_setting_reruns_exactly_its_rules(tmp_path_factory, dotted):
    work = finished_run(tmp_path_factory)
    value, expected = CASES[dotted]
    config = changed_config(work, dotted, value)
    proc = snakemake(work, "-n", "--configfile", str(config))
    assert job_counts(proc.stdout) == expected, proc.stdout[-3000:]


def test_train_gpus_reruns_a_training_for_real(tmp_path_factory, tmp_path):
    """`resources.train_gpus` sets the device and the effective batch: a params change that
    Snakemake's own trigger acts on in a real run (on a copy of the finished run)."""
    work = tmp_path / "run"
    shutil.copytree(finished_run(tmp_path_factory), work, symlinks=True)
    config = changed_config(work, "resources.train_gpus", 0)
    every = job_counts(snakemake(work, "-n", "--configfile", str(config)).stdout)
    assert every == {
        "train": 3, "select_shots": 1, "finetune": 1, "label_figures": 1, **AFTER_FINETUNE,
        "evaluate_voc": 5, **REPORT,
    }  # fmt: skip
    model = f"{RESULTS}/train/hard-largefov-s0/model.pt"
    proc = snakemake(work, model, "--cores", "2", "--configfile", str(config))
    assert ran_jobs(proc.stdout) == {"train": 1}
    assert "params" in proc.stdout  # the reason Snakemake gives: "Params have changed since..."
    summary = json.loads((work / RESULTS / "train/hard-largefov-s0/train.json").read_text())
    assert summary["device"] == "cpu" and summary["iterations_this_run"] == 4
    again = snakemake(work, model, "-n", "--configfile", str(config))
    assert "Nothing to be done" in again.stdout


def test_predict_input_adds_the_predict_job_and_its_timing_only(tmp_path_factory):
    work = finished_run(tmp_path_factory)
    config = changed_config(
        work, "evaluate.predict_input", f"{RESULTS}/demo_world/voc2012/JPEGImages"
    )
    proc = snakemake(work, "-n", "--configfile", str(config))
    assert job_counts(proc.stdout) == {"predict": 1, "stage_timings": 1, "all": 1}


def test_a_new_class_reruns_ingest_but_no_motion_job(tmp_path_factory):
    """Motion jobs depend on their own video's rows of the index, not on the class list."""
    work = finished_run(tmp_path_factory)
    config = changed_config(work, "classes", ["aeroplane", "car", "cat"])
    counts = job_counts(snakemake(work, "-n", "--configfile", str(config)).stdout)
    assert counts["ingest"] == 2 and "motion_segment" not in counts


# --- training checkpoints: only an unfinished run resumes ---------------------------------


@pytest.fixture
def toy_samples(tmp_path):
    shots = {"a1_s000": ("a1", "aeroplane"), "c1_s000": ("c1", "car")}
    return write_toy_samples(tmp_path / "toy.h5", shots)


def test_a_finished_run_trains_again_from_iteration_0(tmp_path, toy_samples):
    params, labels_cfg = tiny_params(iterations=4, checkpoint_every=2)
    first = tr.train([toy_samples], params, labels_cfg, CLASSES, "hard", 0, tmp_path)
    assert first["iterations_this_run"] == 4
    assert not (tmp_path / "checkpoint.pt").exists()
    weights = load_checkpoint(tmp_path / "model.pt")["model"]
    again = tr.train([toy_samples], params, labels_cfg, CLASSES, "hard", 0, tmp_path)
    assert again["resumed_from"] is None and again["iterations_this_run"] == 4
    for name, tensor in load_checkpoint(tmp_path / "model.pt")["model"].items():
        assert torch.equal(tensor, weights[name]), name  # same seed, same weights


def killed_in_iteration_4(monkeypatch, **training) -> None:
    """`tr.train(**training)` killed during its 4th iteration (after the checkpoint at 2)."""
    real_step = tr.Trainer.step

    def dying_step(self, pending):
        if self.iteration == 3:
            raise KeyboardInterrupt
        return real_step(self, pending)

    monkeypatch.setattr(tr.Trainer, "step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        tr.train(**training)
    monkeypatch.setattr(tr.Trainer, "step", real_step)


def test_execution_settings_do_not_stop_a_resume(tmp_path, toy_samples, monkeypatch):
    """A killed run restarted with other label_workers / checkpoint_every still resumes."""
    params, labels_cfg = tiny_params(iterations=4, checkpoint_every=2)
    execution = {k: params["train"].pop(k) for k in ("label_workers", "checkpoint_every")}
    run = dict(params=params, labels_cfg=labels_cfg, classes=CLASSES, strategy="hard", seed=0)
    killed_in_iteration_4(
        monkeypatch, sample_paths=[toy_samples], **run, output_dir=tmp_path, execution=execution
    )
    faster = {"label_workers": 1, "checkpoint_every": 1}
    summary = tr.train([toy_samples], **run, output_dir=tmp_path, execution=faster)
    assert summary["resumed_from"] == 2 and summary["iterations_this_run"] == 2


def test_several_gpus_start_the_step_again_under_torchrun(monkeypatch):
    """`--gpus 2` replaces the process by torchrun with one process per GPU, same arguments."""
    import argparse
    import sys

    from mcnn.steps import train as train_step

    argv = ["train", "--samples", "s.h5", "--params", "{}", "--label-params", "{}"]
    argv += ["--classes", "[]", "--strategy", "mcnn", "--seed", "0", "--output-dir", "out"]
    argv += ["--gpus", "2", "--allow-cpu", "1"]
    parser = argparse.ArgumentParser()
    train_step.add_arguments(parser)
    monkeypatch.setattr(sys, "argv", ["mcnn/__main__.py", *argv])
    monkeypatch.delenv("LOCAL_RANK", raising=False)

    class Replaced(Exception):
        pass

    def execv(path, command):
        raise Replaced(path, command)

    monkeypatch.setattr(train_step.os, "execv", execv)
    with pytest.raises(Replaced) as replaced:
        train_step.main(parser.parse_args(argv[1:]))
    path, command = replaced.value.args
    assert path == sys.executable
    assert command[1:] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "mcnn", *argv]  # fmt: skip


def test_a_killed_run_resumes_with_the_same_code_and_restarts_with_other_code(
    tmp_path, toy_samples, monkeypatch
):
    """After a kill and a code fix, a forced (or any) rerun trains from iteration 0."""
    params, labels_cfg = tiny_params(iterations=4, checkpoint_every=2)
    run = dict(params=params, labels_cfg=labels_cfg, classes=CLASSES, strategy="hard", seed=0)
    for code_changed, resumed_from in ((False, 2), (True, None)):
        out = tmp_path / f"changed-{code_changed}"
        killed_in_iteration_4(monkeypatch, sample_paths=[toy_samples], **run, output_dir=out)
        if code_changed:
            monkeypatch.setattr(tr.run, "code_version", lambda: "edited-code")
        summary = tr.train([toy_samples], **run, output_dir=out)
        assert summary["resumed_from"] == resumed_from, code_changed
        assert summary["iterations_this_run"] == 4 - (resumed_from or 0)


def test_the_code_version_is_a_digest_of_the_package_sources(tmp_path, monkeypatch):
    from mcnn.train import checkpoints

    package = tmp_path / "mcnn"
    (package / "train").mkdir(parents=True)
    (package / "core.py").write_text("x = 1\n")
    (package / "train" / "checkpoints.py").write_text("")
    monkeypatch.setattr(checkpoints, "__file__", str(package / "train" / "checkpoints.py"))
    versions = []
    for text in ("x = 1\n", "x = 2\n", "x = 1\n"):
        (package / "core.py").write_text(text)
        checkpoints.code_version.cache_clear()
        versions.append(checkpoints.code_version())
    checkpoints.code_version.cache_clear()
    assert versions[0] == versions[2] != versions[1]
