# Config validation and helpers shared by the rule files.
import json
import sys
from pathlib import Path

import pandas as pd
from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

min_version("9.0")


# The schema lives in the package so that `python -m mcnn` steps and the workflow read one truth.
# mcnn's validator first: its message names the key as a dotted path; then Snakemake's.
sys.path.insert(0, str(Path(workflow.basedir).parent))
import mcnn.config

try:
    # It also fills defaults through the per-section schema files, which Snakemake's does only
    # where a section is written out in full.
    config.update(mcnn.config.validate(config))
except mcnn.config.ConfigError as error:
    raise WorkflowError(f"invalid configuration: {error}") from None
validate(config, schema="../mcnn/schemas/config.schema.yaml")

# Rules run `python -m mcnn`: make it this workflow's own code in whatever environment runs
# them (the venv, or the conda env of envs/mcnn.yaml, which holds only the dependencies).
# (Snakemake formats the prefix too: doubled braces reach the shell as single ones.)
shell.prefix(
    f"export PYTHONPATH={Path(workflow.basedir).parent}${{{{PYTHONPATH:+:$PYTHONPATH}}}}; "
)

RESULTS = config["results_dir"]
LOGS = f"{RESULTS}/logs"
ENV = "../envs/mcnn.yaml"


wildcard_constraints:
    dataset=r"[A-Za-z0-9_.-]+",
    video=r"[A-Za-z0-9_.-]+",
    strategy=r"mcnn|hard|em_adapt",
    variant=r"em_adapt|mcnn_hard|mcnn_star|mcnn|mixed",
    fov=r"largefov|smallfov",
    seed=r"\d+",


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


_demo_root = Path(config["demo_world"]["root"]).resolve()
_uses_demo = any(
    Path(entry["root"]).resolve().is_relative_to(_demo_root)
    for entry in config["datasets"].values()
)
_unknown = set(config["demo_world"]["classes"]) - set(config["classes"])
if _uses_demo and _unknown:
    raise ValueError(
        f"config key 'demo_world.classes': {sorted(_unknown)} not in 'classes' {config['classes']}"
    )

if "mixed" in config["experiments"]["variants"] and not config["image_datasets"]:
    raise ValueError(
        "config key 'experiments.variants': 'mixed' needs an image dataset in 'image_datasets'"
    )
if config["experiments"]["variants"] and not config["video_datasets"]:
    raise ValueError(
        "config key 'video_datasets': training needs at least one video dataset"
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


def motion_step_settings():
    """The motion settings the motion-segment step reads (its rerun trigger), per method."""
    motion = config["motion"]
    if motion["method"] == "external":
        return {
            "method": "external",
            "external": motion["external"],
            "flow": {"max_side": motion["flow"]["max_side"]},
        }
    return {key: motion[key] for key in ("method", "flow", "fst")}


def motion_figure_targets():
    return [
        f"{RESULTS}/figures/motion/{entry}.png"
        for entry in config["motion"]["figures"]["videos"]
    ]


def video_samples(wildcards):
    return [f"{RESULTS}/samples/{dataset}.h5" for dataset in config["video_datasets"]]


def image_index(wildcards):
    """The index of the tagged images for mixed training: the first image dataset."""
    return f"{RESULTS}/index/{config['image_datasets'][0]}.shots.csv"


def train_settings(fov):
    """config["train"] with the field of view of this job's wildcard."""
    settings = json.loads(json.dumps(config["train"]))
    settings["model"]["arch"] = fov
    return settings


#: Where each variant's final model comes from (strategy of the first training, later stages).
VARIANT_MODEL = {
    "em_adapt": "train/em_adapt-{fov}-s{seed}",
    "mcnn_hard": "train/hard-{fov}-s{seed}",
    "mcnn_star": "train/mcnn-{fov}-s{seed}",
    "mcnn": "finetune/{fov}-s{seed}",
    "mixed": "mixed/{fov}-s{seed}",
}


def variant_model(variant, fov, seed):
    return f"{RESULTS}/{VARIANT_MODEL[variant].format(fov=fov, seed=seed)}/model.pt"


def experiment_models():
    ex = config["experiments"]
    return [
        variant_model(variant, fov, seed)
        for variant in ex["variants"]
        for fov in ex["fovs"]
        for seed in ex["seeds"]
    ]


def evaluation_results(wildcards):
    ex = config["experiments"]
    return [
        f"{RESULTS}/eval/voc/{variant}-{fov}-s{seed}.json"
        for variant in ex["variants"]
        for fov in ex["fovs"]
        for seed in ex["seeds"]
    ]


def has_boxes(dataset):
    path = checkpoints.ingest.get(dataset=dataset).output.boxes
    return not pd.read_csv(path, keep_default_na=False).empty


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
    targets += motion_figure_targets()
    targets += experiment_models()
    ex = config["experiments"]
    runs = [(fov, seed) for fov in ex["fovs"] for seed in ex["seeds"]]
    if ex["variants"] and config["image_datasets"]:
        targets.append(f"{RESULTS}/tables/voc.csv")
        targets += [
            f"{RESULTS}/figures/qualitative-{fov}-s{seed}.png" for fov, seed in runs
        ]
    if config["evaluate"]["colocalize_variant"] in ex["variants"]:
        targets += [
            f"{RESULTS}/tables/corloc-{dataset}-{fov}-s{seed}.csv"
            for dataset in config["video_datasets"]
            if has_boxes(dataset)
            for fov, seed in runs
        ]
    if config["evaluate"]["predict_input"]:
        targets.append(f"{RESULTS}/predict")
    if "mcnn_star" in config["experiments"]["variants"]:
        targets += [
            f"{RESULTS}/figures/labels/{dataset}-{fov}-s{seed}.png"
            for dataset in config["video_datasets"]
            for fov in config["experiments"]["fovs"]
            for seed in config["experiments"]["seeds"]
        ]
    return targets
