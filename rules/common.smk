# Config validation and helpers shared by the rule files.
import json
import sys
from pathlib import Path

import pandas as pd
from snakemake.utils import min_version, validate

min_version("9.0")


# The schema lives in the package so that `python -m mcnn` steps and the workflow read one truth.
validate(config, schema="../mcnn/schemas/config.schema.yaml")

# Snakemake's validator fills defaults only where a section is written out in full; mcnn's fills
# them through the per-section schema files, so every rule sees every setting.
sys.path.insert(0, str(Path(workflow.basedir).parent))
import mcnn.config

config.update(mcnn.config.validate(config))

RESULTS = "results"
LOGS = f"{RESULTS}/logs"
ENV = "../envs/mcnn.yaml"


wildcard_constraints:
    dataset=r"[A-Za-z0-9_.-]+",
    video=r"[A-Za-z0-9_.-]+",


def as_json(value):
    """A config value as one JSON string for a step's --params (also the rerun trigger)."""
    return json.dumps(value, sort_keys=True)


def dataset_config(name):
    if name not in config["datasets"]:
        raise ValueError(
            f"config key 'datasets': no dataset named {name!r} "
            f"(known: {', '.join(sorted(config['datasets'])) or 'none'})"
        )
    return config["datasets"][name]


_unknown = set(config["demo_world"]["classes"]) - set(config["classes"])
if _unknown:
    raise ValueError(
        f"config key 'demo_world.classes': {sorted(_unknown)} not in 'classes' {config['classes']}"
    )

for _role in ("video_datasets", "image_datasets"):
    for _name in config[_role]:
        dataset_config(_name)


def demo_world_input(wildcards):
    """The demo world's folder when the dataset lives inside it, so ingest runs after generation."""
    demo_root = Path(config["demo_world"]["root"]).resolve()
    root = Path(dataset_config(wildcards.dataset)["root"]).resolve()
    return [config["demo_world"]["root"]] if root.is_relative_to(demo_root) else []


def shot_index(dataset):
    """The shot index of a dataset, read after its ingest checkpoint has run."""
    path = checkpoints.ingest.get(dataset=dataset).output.shots
    return pd.read_csv(path, keep_default_na=False)


def video_ids(dataset):
    return sorted(shot_index(dataset)["video_id"].astype(str).unique())


def motion_files(wildcards):
    """The per-video motion HDF5 files of a dataset (its videos are known after ingest)."""
    return [
        f"{RESULTS}/motion/{wildcards.dataset}/{video}.h5"
        for video in video_ids(wildcards.dataset)
    ]


def has_masks(dataset):
    return bool((shot_index(dataset)["mask_path"] != "").any())


def all_targets(wildcards):
    targets = []
    for dataset in config["video_datasets"]:
        targets.append(f"{RESULTS}/samples/{dataset}.h5")
        if has_masks(dataset):
            targets.append(f"{RESULTS}/eval/motion/{dataset}.csv")
    for dataset in config["image_datasets"]:
        targets.append(f"{RESULTS}/index/{dataset}.shots.csv")
    return targets
