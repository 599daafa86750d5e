# Config validation and helpers shared by the rule files.
import hashlib
import json
import shlex
import sys
from pathlib import Path

import pandas as pd
from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

min_version("9.0")


# The schema lives in the package so that `python -m mcnn` steps and the workflow read one truth.
# mcnn's validator first: its message names the key as a dotted path; then Snakemake's.
REPO = Path(workflow.basedir).parent
sys.path.insert(0, str(REPO))
import mcnn.config
import mcnn.demo.marker
import mcnn.runs


def _shown(path):
    """A config file's path as the user would write it (relative to the working directory)."""
    path = Path(path)
    return (
        str(path.relative_to(Path.cwd()))
        if path.is_relative_to(Path.cwd())
        else str(path)
    )


# The layers Snakemake merged into `config`, kept for the source of each value: the files of
# --configfile (the Snakefile loads the demo's only when there are none), then --config.
try:
    CONFIG_LAYERS = [
        (_shown(path), mcnn.config.read(path))
        for path in workflow.overwrite_configfiles
    ] or [(mcnn.config.DEMO_CONFIG, mcnn.config.read(mcnn.config.DEMO_CONFIG))]
    if workflow.config_settings.config:
        CONFIG_LAYERS.append(("--config", dict(workflow.config_settings.config)))
    # It also fills defaults through the per-section schema files, which Snakemake's does only
    # where a section is written out in full.
    config.update(mcnn.config.validate(config))
    # The variants follow the data: by default `mixed` only where there are tagged images.
    _left_out = mcnn.config.fit_variants(config, CONFIG_LAYERS)
except mcnn.config.ConfigError as error:
    raise WorkflowError(f"invalid configuration: {error}") from None
validate(config, schema="../mcnn/schemas/config.schema.yaml")
if _left_out and workflow.is_main_process:
    print(_left_out, file=sys.stderr)


def profile_placeholders():
    """Resources of the profile still holding an EDIT_ME placeholder, as 'key: value'."""
    settings = workflow.resource_settings
    found = [
        f"default-resources: {name}: {res.raw}"
        for name, res in (settings.default_resources or {}).items()
        if "EDIT_ME" in str(res.raw)
    ]
    for rule, resources in settings.overwrite_resources.items():
        found += [
            f"set-resources: {rule}: {name}: {getattr(res, 'raw', res)}"
            for name, res in resources.items()
            if "EDIT_ME" in str(getattr(res, "raw", res))
        ]
    return found


# Before anything is planned or submitted: a cluster profile whose placeholders are unedited.
if workflow.is_main_process and (_placeholders := profile_placeholders()):
    raise WorkflowError(
        f"profile placeholder not edited ({_placeholders[0]}, {len(_placeholders)} in all): "
        "replace every EDIT_ME_... in profiles/slurm/config.yaml with your cluster's "
        "partitions and account (docs/cluster.md)"
    )

# Rules run `python -m mcnn`: make it this workflow's own code in whatever environment runs
# them (the venv, or the conda env of envs/mcnn.yaml, which holds only the dependencies).
# (Snakemake formats the prefix too: doubled braces reach the shell as single ones.)
shell.prefix(
    f"export PYTHONPATH={shlex.quote(str(REPO))}" "${{PYTHONPATH:+:$PYTHONPATH}}; "
)

RESULTS = config["results_dir"]
LOGS = f"{RESULTS}/logs"
# One Snakemake benchmark file per job (wall and CPU time, peak memory): the stage-time table.
BENCHMARKS = f"{RESULTS}/benchmarks"
ENV = "../envs/mcnn.yaml"
# Started by the Snakefile's onstart: progress lines from the job logs on the terminal.
PROGRESS = mcnn.runs.ProgressWatcher(LOGS, config["resources"]["progress_every"])


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
# Snakemake deletes a directory() output before its job runs: refuse a root that is not a
# demo world before any job can (mcnn.demo.writer checks the same when the step runs).
_problem = _uses_demo and mcnn.demo.marker.replace_problem(_demo_root)
if _problem:
    raise WorkflowError(f"config key 'demo_world.root': {_demo_root}: {_problem}")
_unknown = set(config["demo_world"]["classes"]) - set(config["classes"])
if _uses_demo and _unknown:
    raise ValueError(
        f"config key 'demo_world.classes': {sorted(_unknown)} not in 'classes' {config['classes']}"
    )
# Every job writes under results_dir, the demo world's job too.
if _uses_demo and not _demo_root.is_relative_to(Path(RESULTS).resolve()):
    raise WorkflowError(
        f"config key 'demo_world.root': {config['demo_world']['root']} is outside "
        f"results_dir {RESULTS}: put it (and the roots of the datasets in it) under {RESULTS}/"
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


# The motion settings FST's segmentation of a shot reads (mcnn.motion.fst.segment_shot).
FST_SETTINGS = ("flow", "alternative_flows", "choose_by", "choice_min_valid", "fst")


def motion_step_settings():
    """The motion settings the motion-segment step reads (its rerun trigger), per method."""
    motion = config["motion"]
    if motion["method"] == "external":
        return {
            "method": "external",
            "external": motion["external"],
            "flow": {"max_side": motion["flow"]["max_side"]},
        }
    return {key: motion[key] for key in ("method", *FST_SETTINGS)}


def motion_figure_targets():
    return [
        f"{RESULTS}/figures/motion/{entry}.png"
        for entry in config["motion"]["figures"]["videos"]
    ]


def video_samples(wildcards):
    return [f"{RESULTS}/samples/{dataset}.h5" for dataset in config["video_datasets"]]


def training_priority(wildcards):
    """M-CNN's first training is the longest one and heads the longest chain (shot selection,
    fine-tuning, mixed training): start it before the EM-Adapt and hard trainings."""
    return 1 if wildcards.strategy == "mcnn" else 0


def image_index(wildcards):
    """The index of the tagged images for mixed training: the first image dataset."""
    return f"{RESULTS}/index/{config['image_datasets'][0]}.shots.csv"


def without(section, keys):
    """A config section less `keys` (the rest, including keys added later, stays a trigger)."""
    return {key: value for key, value in section.items() if key not in keys}


# GPUs: the one route. Training jobs ask for resources.train_gpus (with more than one, the
# train step runs itself under torchrun, one process per GPU); every other GPU job for one.
# Each rule that uses a GPU declares `gpu=`; profiles/slurm sends exactly these to the GPU
# partition (tests/test_slurm.py checks that the two lists match).
TRAIN_GPUS = config["resources"]["train_gpus"]
JOB_GPUS = min(TRAIN_GPUS, 1)
# The GPU counts are rerun triggers (params: the device and the effective batch); allowing the
# CPU changes no result, so it reaches the steps through `resources` (`--allow-cpu`).
ALLOW_CPU = int(config["resources"]["allow_cpu"])


# Per-stage views: each rule's `params` carry exactly the settings its step reads, so that a
# changed setting reruns exactly the rules that use it (Snakemake's params rerun trigger).
#: Settings that change how fast training runs, never what it writes: they stay out of the
#: rules' params (so changing them reruns nothing) and reach the step through `resources`.
TRAIN_EXECUTION_KEYS = ("label_workers", "checkpoint_every")
#: Settings of the first training only (fine-tuning and mixed training have their own).
FIRST_STAGE_KEYS = ("iterations", "lr_step", "alpha_warmup")


#: The `train.model` settings each backbone reads (any other name is a timm model).
MODEL_KEYS = {
    "compact": ("compact_widths", "compact_batch_norm", "compact_fc_channels"),
    "vgg16": ("pretrained",),
    "timm": ("pretrained", "head_channels", "freeze_batch_norm"),
}


def model_view(fov):
    """The model settings this job's backbone reads, with its field of view: a timm-only
    setting does not retrain a compact network, nor a compact one a timm network."""
    model = config["train"]["model"]
    backbone = model["backbone"]
    keys = (
        "output_stride",
        "dropout",
        "freeze_backbone",
        "unfrozen_stages",
        *MODEL_KEYS.get(backbone, MODEL_KEYS["timm"]),
    )
    return {"backbone": backbone, "arch": fov, **{key: model[key] for key in keys}}


def train_view(stage, fov):
    """The `train` settings a training stage reads: its backbone's model settings with this
    job's field of view, SGD, the shared `train` settings, the stage's own.
    """
    section = config["train"]
    shared = without(section["train"], TRAIN_EXECUTION_KEYS)
    view = {"model": model_view(fov), "sgd": section["sgd"]}
    if stage == "train":
        return {**view, "train": shared}
    return {**view, "train": without(shared, FIRST_STAGE_KEYS), stage: section[stage]}


def labels_view(stage, strategy):
    """The `labels` settings a training stage's label inference reads: `hard` needs only the
    network weight of the schedule, `em_adapt` its own settings; the M-CNN energy reads the
    rest, with the first training's alpha or the fine-tuning one; mixed training also labels
    images with EM-Adapt."""
    labels = config["labels"]
    em_adapt = {k: v for k, v in labels.items() if k.startswith("em_adapt_")}
    alpha = "alpha" if stage == "train" else "alpha_finetune"
    if strategy == "hard":
        return {alpha: labels[alpha]}
    if strategy == "em_adapt":
        return {**em_adapt, "prob_floor": labels["prob_floor"], alpha: labels[alpha]}
    energy = without(labels, {*em_adapt, "alpha", "alpha_finetune"})
    return {**energy, alpha: labels[alpha], **(em_adapt if stage == "mixed" else {})}


#: `evaluate` settings read by no evaluation step itself (rule inputs, other rules' settings).
EVALUATE_WORKFLOW_KEYS = {
    "split",
    "colocalize_variant",
    "qualitative_images",
    "predict_input",
}
EVALUATE_VOC = as_json(
    without(config["evaluate"], EVALUATE_WORKFLOW_KEYS | {"colocalization"})
)
EVALUATE_COLOC = as_json(
    without(config["evaluate"], EVALUATE_WORKFLOW_KEYS | {"protocols"})
)


def video_rows(wildcards):
    """Digest of one video's rows of the shot index: its motion job reruns when they change,
    not when another video or the class list does (the index itself is an `ancient` input).
    """
    rows = shot_index(wildcards.dataset)
    rows = rows[rows["video_id"].astype(str) == wildcards.video]
    return hashlib.sha256(rows.to_csv(index=False).encode()).hexdigest()[:16]


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
    if ex["variants"]:
        targets.append(f"{RESULTS}/tables/label_quality.csv")
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
