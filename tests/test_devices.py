"""GPU jobs: a job that asked for a GPU and sees none stops naming the job and the devices it
sees, unless the configuration allows the CPU; every GPU step records the device it ran on."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from mcnn.cli import main as cli_main
from mcnn.core.device import job_device
from mcnn.core.io import DataError

#: Each GPU step's command line as its rule passes it (the files are never opened: the device
#: is decided first).
STEPS = {
    "train": ["--samples", "s.h5", "--params", "{}", "--label-params", "{}", "--classes", "[]",
              "--strategy", "mcnn", "--seed", "0", "--output-dir", "out/train"],
    "select-shots": ["--checkpoint", "m.pt", "--samples", "s.h5", "--params", "{}",
                     "--output", "out/select.csv"],
    "evaluate-voc": ["--checkpoint", "m.pt", "--index", "i.csv", "--params", "{}",
                     "--output", "out/voc.json"],
    "colocalize": ["--checkpoint", "m.pt", "--index", "i.csv", "--boxes", "b.csv",
                   "--motion", "v.h5", "--params", "{}", "--output", "out/corloc.csv"],
    "predict": ["--checkpoint", "m.pt", "--input", "photos", "--output", "out/predict"],
}  # fmt: skip


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)


@pytest.mark.parametrize("step", STEPS)
def test_a_gpu_job_without_cuda_stops_naming_job_and_devices(step, no_cuda):
    with pytest.raises(DataError) as error:
        cli_main([step, *STEPS[step], "--gpus", "1", "--allow-cpu", "0"])
    output = STEPS[step][-1]
    job = step.replace("-", "_")
    assert str(error.value) == (
        f"{output}: {job} job asked for 1 GPU(s) but sees no CUDA device "
        "(CUDA_VISIBLE_DEVICES='0', 0 CUDA device(s) visible to torch); "
        "set resources.allow_cpu: true to run GPU jobs on the CPU"
    )


def test_the_message_is_one_line_and_names_the_slurm_job(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "CUDA_VISIBLE_DEVICES": "", "SLURM_JOB_ID": "4242"}
    proc = subprocess.run(
        [sys.executable, "-m", "mcnn", "evaluate-voc", *STEPS["evaluate-voc"], "--gpus", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "error: out/voc.json: evaluate_voc job (Slurm job 4242) asked for 1 GPU(s) but sees no "
        "CUDA device (CUDA_VISIBLE_DEVICES='', 0 CUDA device(s) visible to torch); "
        "set resources.allow_cpu: true to run GPU jobs on the CPU"
    ]


def test_the_device_follows_the_request(no_cuda, monkeypatch, caplog):
    assert job_device("train", "out", 1, True, None) == "cpu"  # allowed: the CPU, said loudly
    assert "asked for 1 GPU(s) but sees none" in caplog.text
    assert job_device("train", "out", 0, False, None) == "cpu"  # asked for none
    assert job_device("predict", "out", None, False, "cuda:1") == "cuda:1"  # by hand: --device
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert job_device("train", "out", 2, False, None) == "cuda"
