"""DAG scale: dry runs of the whole workflow on a YouTube-Objects-size shot index.

Writes, in a temporary folder, the ingest outputs of a YouTube-Objects v2.2-size dataset (10
classes, 155 videos, 2,511 shots; no frames) and of a VOC-2012-size image set, plus a config.yaml
whose dataset roots are dummy folders. The ingest checkpoint is therefore complete and Snakemake
expands the per-video motion jobs from the index. Then it times `snakemake -n` (a) with the SLURM
profile (the executor plugin must be installed; nothing is submitted) and (b) with the local
profile, and prints the job count per rule and the GPU request of every GPU rule.

    python benchmarks/dag_scale.py [--videos 155] [--shots 2511] [--seeds 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mcnn.core.io import write_csv  # noqa: E402
from mcnn.datasets import BOX_COLUMNS, SHOT_COLUMNS  # noqa: E402

CLASSES = ["aeroplane", "bird", "boat", "car", "cat", "cow", "dog", "horse", "motorbike", "train"]
GPU_RULES = ("train", "select_shots", "finetune", "train_mixed")


def split_counts(total: int, parts: int, rng: np.random.Generator) -> list[int]:
    """`total` items over `parts` groups, each at least 1, sizes varying around the mean."""
    weights = rng.uniform(0.5, 1.5, parts)
    counts = np.maximum(1, np.floor(weights / weights.sum() * total)).astype(int)
    for k in rng.permutation(parts)[: total - counts.sum()]:
        counts[k] += 1
    while counts.sum() > total:
        counts[np.argmax(counts)] -= 1
    return counts.tolist()


def youtube_objects_index(root: Path, videos: int, shots: int, seed: int = 0):
    """Shot and box tables shaped as ingest writes them for YouTube-Objects v2.2."""
    rng = np.random.default_rng(seed)
    shot_rows, box_rows = [], []
    per_class = split_counts(videos, len(CLASSES), rng)
    per_video = split_counts(shots, videos, rng)
    video = 0
    for cls, count in zip(CLASSES, per_class, strict=True):
        frame = 1
        for k in range(count):
            video_id = f"{cls}_{k + 1:04d}"
            split = "test" if k % 4 == 3 else "train"
            for s in range(per_video[video]):
                length = int(rng.integers(40, 500))
                shot_id = f"{video_id}_s{s:03d}"
                shot_rows.append(
                    dict(
                        dataset="yto", video_id=video_id, shot_id=shot_id, labels=cls,
                        split=split, source="frames", path=f"{root}/{cls}/{{frame:08d}}.jpg",
                        mask_path="", mask_format="", first_frame=frame,
                        last_frame=frame + length - 1, num_frames=length, width=640, height=360,
                    )
                )  # fmt: skip
                box_rows.append(
                    dict(
                        dataset="yto", video_id=video_id, shot_id=shot_id, frame=frame + 10,
                        label=cls, x0=100, y0=80, x1=300, y1=260,
                    )
                )  # fmt: skip
                frame += length
            video += 1
    return (
        pd.DataFrame(shot_rows, columns=SHOT_COLUMNS),
        pd.DataFrame(box_rows, columns=BOX_COLUMNS),
    )


def voc_index(root: Path, images: dict[str, int], seed: int = 1):
    """Shot table of VOC-2012 segmentation images (one `image` row per image)."""
    rng = np.random.default_rng(seed)
    rows = []
    for split, count in images.items():
        for k in range(count):
            image_id = f"2008_{k:06d}" if split == "train" else f"2009_{k:06d}"
            rows.append(
                dict(
                    dataset="voc", video_id=image_id, shot_id=f"{image_id}_s000",
                    labels=CLASSES[int(rng.integers(len(CLASSES)))], split=split,
                    source="image", path=f"{root}/JPEGImages/{image_id}.jpg",
                    mask_path=f"{root}/SegmentationClass/{image_id}.png", mask_format="voc",
                    first_frame=0, last_frame=0, num_frames=1, width=500, height=375,
                )
            )  # fmt: skip
    return pd.DataFrame(rows, columns=SHOT_COLUMNS), pd.DataFrame(columns=BOX_COLUMNS)


def write_setup(work: Path, videos: int, shots: int, seeds: int) -> pd.DataFrame:
    """The index tables and config.yaml of the scale setup in `work`; returns the shots table."""
    dummy = work / "dummy"
    (dummy / "yto").mkdir(parents=True)
    (dummy / "voc").mkdir(parents=True)
    yto_shots, yto_boxes = youtube_objects_index(dummy / "yto", videos, shots)
    voc_shots, voc_boxes = voc_index(dummy / "voc", {"train": 1464, "val": 1449})
    for name, (shot_table, box_table) in {
        "yto": (yto_shots, yto_boxes),
        "voc": (voc_shots, voc_boxes),
    }.items():
        write_csv(work / "results" / "index" / f"{name}.shots.csv", shot_table)
        write_csv(work / "results" / "index" / f"{name}.boxes.csv", box_table)
    config = {
        "classes": CLASSES,
        "datasets": {
            "yto": {"kind": "youtube_objects", "root": str(dummy / "yto")},
            "voc": {"kind": "voc2012", "root": str(dummy / "voc")},
        },
        "video_datasets": ["yto"],
        "image_datasets": ["voc"],
        "experiments": {"seeds": list(range(seeds))},
    }
    (work / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return yto_shots


def edited_slurm_profile(work: Path) -> Path:
    """profiles/slurm with its placeholders filled in as a user would (the workflow refuses
    to plan with them): partitions `cpu` and `gpu`, account `lab`."""
    text = (REPO / "profiles/slurm/config.yaml").read_text()
    for placeholder, name in {
        "cpu_partition": "cpu",
        "gpu_partition": "gpu",
        "account": "lab",
    }.items():
        text = text.replace(f"EDIT_ME_{placeholder}", name)
    folder = work / "slurm-profile"
    folder.mkdir(exist_ok=True)
    (folder / "config.yaml").write_text(text)
    return folder


def dry_run(work: Path, profile_args: list[str]) -> tuple[float, str]:
    """Wall seconds and output of `snakemake -n` in `work` with the given profile options."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    cmd = [
        str(Path(sys.executable).parent / "snakemake"),
        "-n",
        "-s",
        str(REPO / "workflow" / "Snakefile"),
        "--configfile=config.yaml",  # `=`: one file, not the options after it
        *profile_args,
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        sys.exit(f"dry run failed ({' '.join(cmd)}):\n{output[-4000:]}")
    return seconds, output


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run: jobs per rule."""
    counts, in_table = {}, False
    for line in output.splitlines():
        if line.startswith("Job stats:"):
            in_table = True
            continue
        if in_table:
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("job", "total"):
                counts[parts[0]] = int(parts[1])
            elif parts and parts[0] == "total":
                break
    return counts


def job_field(output: str, field: str) -> dict[str, set[str]]:
    """Per rule, the distinct values of a job line (`resources:`, `threads:`) in a dry run."""
    found: dict[str, set[str]] = {}
    rule = None
    for line in output.splitlines():
        head = re.match(r"^(?:local)?(?:rule|checkpoint) (\w+):", line.strip())
        if head:
            rule = head.group(1)
        elif rule and line.strip().startswith(f"{field}:"):
            found.setdefault(rule, set()).add(line.strip().removeprefix(f"{field}:").strip())
    return found


def report(label: str, seconds: float, output: str, videos: int) -> bool:
    counts = job_counts(output)
    resources = job_field(output, "resources")
    threads = job_field(output, "threads")
    print(f"\n== {label}: {seconds:.1f} s wall, {sum(counts.values())} jobs")
    for rule, count in sorted(counts.items()):
        print(f"  {rule:18s} {count:5d}")
    ok = counts.get("motion_segment") == videos and counts.get("train", 0) >= 1
    print(f"  per-video motion jobs: {counts.get('motion_segment')} (videos: {videos})")
    for rule in GPU_RULES:
        gpu = sorted({m for r in resources.get(rule, ()) for m in re.findall(r"gpu=\d+", r)})
        keys = sorted({kv.split("=")[0] for r in resources.get(rule, ()) for kv in r.split(", ")})
        print(
            f"  {rule:18s} GPU request: {', '.join(gpu) or 'NONE'}; threads "
            f"{', '.join(sorted(threads.get(rule, ()))) or '?'}; resources {', '.join(keys)}"
        )
        ok &= bool(gpu) or rule not in counts
    partitions = sorted(
        {m for rs in resources.values() for r in rs for m in re.findall(r"slurm_partition=\S+", r)}
    )
    if partitions:
        print(f"  partitions: {', '.join(p.rstrip(',') for p in partitions)}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=155)
    parser.add_argument("--shots", type=int, default=2511)
    parser.add_argument("--seeds", type=int, default=1, help="experiments.seeds (jobs per seed)")
    parser.add_argument("--keep", type=Path, help="write the setup here and keep it")
    parser.add_argument("--skip-slurm", action="store_true", help="only the local dry run")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="mcnn-dag-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        shots = write_setup(work, args.videos, args.shots, args.seeds)
        print(
            f"setup in {work}: {shots['video_id'].nunique()} videos, {len(shots)} shots, "
            f"{shots['num_frames'].sum()} frames (not written), "
            f"{len(set(shots['labels']))} classes"
        )
        ok = True
        local = ["--workflow-profile", str(REPO / "profiles/default")]
        runs = [("local (profiles/default)", local)]
        if not args.skip_slurm:
            # A dry run caps threads at --cores, 1 unless given; a real SLURM run has no cap.
            slurm = ["--workflow-profile", str(edited_slurm_profile(work)), "--cores", "64"]
            runs.insert(0, ("SLURM profile", slurm))
        for label, options in runs:
            seconds, output = dry_run(work, options)
            (work / f"dryrun-{label.split()[0].lower()}.txt").write_text(output)
            ok &= report(label, seconds, output, shots["video_id"].nunique())
        print("\nall checks passed" if ok else "\nCHECK FAILED (see above)")
        if not ok:
            sys.exit(1)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
