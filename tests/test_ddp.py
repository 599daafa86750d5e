"""The train step under torchrun: DistributedDataParallel on CPU (gloo), two processes."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
from test_training import CLASSES, tiny_params, write_toy_samples

from mcnn import train as training
from mcnn.models import load_checkpoint


def test_two_process_training_splits_the_batches(tmp_path):
    shots = {f"v{k}_s000": (f"v{k}", CLASSES[k % 2]) for k in range(4)}
    samples = write_toy_samples(tmp_path / "toy.h5", shots)
    params, labels_cfg = tiny_params(iterations=4, checkpoint_every=2, label_prefetch=1)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "mcnn",
        "train",
        "--samples",
        str(samples),
        "--params",
        json.dumps(params),
        "--label-params",
        json.dumps(labels_cfg),
        "--classes",
        json.dumps(CLASSES),
        "--strategy",
        "mcnn",
        "--seed",
        "3",
        "--device",
        "cpu",
        "--output-dir",
        str(tmp_path / "out"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]

    summary = json.loads((tmp_path / "out" / "train.json").read_text())
    assert summary["world_size"] == 2 and summary["iterations"] == 4
    # Rank 0 trains on the even global batch indices, rank 1 on the odd ones, so the two
    # processes together visit every shot once per two iterations.
    data = training.TrainingData([samples], CLASSES, params["train"], "mcnn")
    loss = pd.read_csv(tmp_path / "out" / "loss.csv")
    assert loss["batch"].tolist() == [data.item_at(2 * t, seed=3).key for t in range(4)]
    assert load_checkpoint(tmp_path / "out" / "model.pt")["iteration"] == 4
    # A finished run removes its resume checkpoint (a later forced run starts afresh).
    assert not (tmp_path / "out" / "checkpoint.pt").exists()
