"""Per-stage schedule: iterations, the learning-rate step, SGD groups and the label alpha ramp."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mcnn.models import unwrap

STAGES = ("train", "finetune", "mixed")


@dataclass(frozen=True)
class StageSchedule:
    name: str
    iterations: int
    lr_step: int
    alpha: float
    alpha_warmup: int  # iterations over which alpha ramps up from 0 (0 = none)

    def alpha_at(self, iteration: int) -> float:
        """Weight of the network term in the label energy for the batch of `iteration`."""
        if self.alpha_warmup == 0:
            return self.alpha
        return self.alpha * min(1.0, iteration / self.alpha_warmup)


def stage_schedule(params: dict, labels_cfg: dict, stage: str) -> StageSchedule:
    """Iterations, lr step and label alpha of a stage (finetune and mixed use alpha_finetune)."""
    if stage not in STAGES:
        raise ValueError(f"unknown training stage {stage!r}; expected one of {STAGES}")
    section = params[stage]
    alpha = labels_cfg["alpha"] if stage == "train" else labels_cfg["alpha_finetune"]
    warmup = section.get("alpha_warmup", 0)
    return StageSchedule(stage, section["iterations"], section["lr_step"], alpha, warmup)


def make_optimizer(model: torch.nn.Module, sgd: dict, lr_step: int):
    """SGD with DeepLab's larger learning rate on the classifier, and the single lr step."""
    net = unwrap(model)
    classifier = {id(p) for p in net.classifier_parameters()}
    # A frozen backbone's parameters stay out: its group may be empty (param_groups[0] keeps
    # the base rate for the log).
    trained = [p for p in net.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in trained if id(p) not in classifier], "lr": sgd["lr"]},
        {
            "params": [p for p in trained if id(p) in classifier],
            "lr": sgd["lr"] * sgd["classifier_lr_mult"],
        },
    ]
    optimizer = torch.optim.SGD(groups, momentum=sgd["momentum"], weight_decay=sgd["weight_decay"])
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, [lr_step], gamma=sgd["lr_gamma"])
    return optimizer, scheduler
