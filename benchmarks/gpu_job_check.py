"""Does a `gpu=1` Snakemake training job really run on CUDA?

Runs the tiny workflow (tests/data/tiny_workflow.yaml) through the real `snakemake` CLI up to one
first training, with `resources.train_gpus: 1` and `resources.allow_cpu: false` (so a job that
sees no GPU fails instead of falling back), and reads the device the training recorded in its
train.json. Exit status 1 unless that device is CUDA.

    python benchmarks/gpu_job_check.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
TARGET = "train/mcnn-largefov-s0/model.pt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        config = yaml.safe_load((REPO / "tests" / "data" / "tiny_workflow.yaml").read_text())
        config["resources"].update(train_gpus=1, allow_cpu=False)
        (work / "config.yaml").write_text(yaml.safe_dump(config))
        results = work / config["results_dir"]
        bin_dir = Path(sys.executable).parent
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
        command = [
            str(bin_dir / "snakemake"),
            "-s",
            str(REPO / "workflow" / "Snakefile"),
            "--workflow-profile",
            str(REPO / "profiles" / "default"),
            f"{config['results_dir']}/{TARGET}",
            "--cores",
            str(os.cpu_count()),
            "--resources",
            "gpu=1",  # `--resources` takes several values: the target comes before it
            "--configfile=config.yaml",
        ]
        start = time.perf_counter()
        proc = subprocess.run(
            command, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            print(proc.stdout[-3000:])
            job_log = results / "logs" / Path(TARGET).parent.with_suffix(".log")
            if job_log.is_file():  # the training's own message (e.g. it sees no CUDA device)
                print(f"--- {job_log.relative_to(work)}:\n{job_log.read_text()[-2000:]}")
            raise SystemExit(f"snakemake failed ({proc.returncode}) after {seconds:.0f} s")
        summary = json.loads((results / TARGET).with_name("train.json").read_text())
        device = summary["device"]
        print(
            f"gpu=1 job ({TARGET}, train_gpus 1, allow_cpu false): ran on {device!r}, "
            f"{summary['iterations']} iterations, {seconds:.0f} s for the workflow up to it"
        )
        if not device.startswith("cuda"):
            raise SystemExit("the gpu=1 job did not run on CUDA")


if __name__ == "__main__":
    main()
