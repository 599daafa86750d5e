"""Train M-CNN (or fine-tune it on selected shots, or train on selected shots + tagged images).

The stage follows from the inputs: `--images` -> mixed training (paper 4.4), `--shots` ->
fine-tuning (3.3), otherwise the first training on all shots. Run it under `torchrun` for
several GPUs. Writes DIR/model.pt, DIR/loss.csv, DIR/loss.png, DIR/train.json; an interrupted
run started again with the same arguments resumes from DIR/checkpoint.pt.
"""

from __future__ import annotations

import json

from mcnn.train import train as run_training


def add_arguments(parser) -> None:
    parser.add_argument("--samples", nargs="+", required=True, help="training samples HDF5 files")
    parser.add_argument("--params", required=True, help="config['train'] as JSON")
    parser.add_argument(
        "--execution",
        default="{}",
        help="JSON of config['train']['train'] settings that change only the speed "
        "(label_workers, checkpoint_every): kept out of --params and of the run's identity",
    )
    parser.add_argument("--label-params", required=True, help="config['labels'] as JSON")
    parser.add_argument("--classes", required=True, help="config['classes'] as JSON")
    parser.add_argument(
        "--strategy",
        required=True,
        choices=["mcnn", "hard", "em_adapt"],
        help="latent-label strategy for the video frames",
    )
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--init", help="checkpoint to start from (fine-tuning, mixed training)")
    parser.add_argument("--shots", help="select-shots table: train on its selected shots only")
    parser.add_argument("--images", help="shot index CSV of tagged images (mixed training)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--output-dir", required=True)


def main(args) -> None:
    run_training(
        args.samples,
        json.loads(args.params),
        json.loads(args.label_params),
        json.loads(args.classes),
        args.strategy,
        args.seed,
        args.output_dir,
        init=args.init,
        shots_table=args.shots,
        image_index=args.images,
        device=args.device,
        execution=json.loads(args.execution),
    )
