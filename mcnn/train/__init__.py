"""M-CNN training (paper 3.2, 4.2-4.4): SGD on DeepLab with latent labels inferred every batch.

One mini-batch is the 10 sampled frames of one shot (or, in mixed training, a group of tagged
images). Per batch: random crop + mirror, forward, latent labels from the network's softmax and
the motion masks (`mcnn.labels.infer_batch`), class-weighted pixel cross-entropy (1), backward.
On CPU with the same seed a resumed run ends with the same weights as an uninterrupted one.

The parts, one file each: `data` (items, crops), `label_pool` (label workers), `schedule` (lr and
alpha per stage), `distributed` (process group, device), `trainer` (state and step),
`checkpoints` (run identity, resume), `label_quality` (labels_quality.csv/png: the labels' IoU
with ground truth where the samples have it, and the M-CNN search's fallbacks), `run` (the
`train()` entry point and its outputs).
"""

from mcnn.train.checkpoints import fingerprint
from mcnn.train.data import Batch, Item, TrainingData, read_image_index, read_selection
from mcnn.train.run import train, write_loss
from mcnn.train.schedule import STAGES, StageSchedule, make_optimizer, stage_schedule
from mcnn.train.trainer import VOID, Trainer, TrainingError, training_loss

__all__ = [
    "STAGES",
    "VOID",
    "Batch",
    "Item",
    "StageSchedule",
    "Trainer",
    "TrainingData",
    "TrainingError",
    "fingerprint",
    "make_optimizer",
    "read_image_index",
    "read_selection",
    "stage_schedule",
    "train",
    "training_loss",
    "write_loss",
]
