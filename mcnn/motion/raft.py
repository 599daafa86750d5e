"""torchvision's RAFT-large optical flow (Teed & Deng, ECCV 2020) from a local weights file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mcnn.core.io import DataError


def raft_device() -> torch.device:
    """Where RAFT runs: the GPU when one is visible (the motion jobs declare none: RAFT on the
    CPU is slow but exact), recorded in each motion file's `device` attribute."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class RaftFlow:
    """Flow between RGB uint8 frames with RAFT-large; on the GPU when there is one.

    The weights are never downloaded: `weights` must be the file of torchvision's
    `Raft_Large_Weights` (state dict). Frames are padded to a multiple of 8 as RAFT needs.
    `device` pins the device (default: `raft_device()`).
    """

    def __init__(self, weights: str, device: str | None = None):
        from torchvision.models.optical_flow import raft_large

        path = Path(weights) if weights else None
        if path is None or not path.is_file():
            raise DataError(
                weights or "motion.flow.raft_weights",
                "RAFT weights file not found: motion.flow.method 'raft' needs torchvision's "
                "Raft_Large_Weights state dict on disk (set motion.flow.raft_weights); it is "
                "never downloaded",
            )
        self.device = torch.device(device) if device else raft_device()
        self.model = raft_large(weights=None, progress=False)
        self.model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        self.model.eval().to(self.device)

    def _tensor(self, frame: np.ndarray) -> torch.Tensor:
        image = torch.from_numpy(frame).permute(2, 0, 1).float() / 127.5 - 1.0  # [-1, 1]
        h, w = frame.shape[:2]
        pad = (0, (-w) % 8, 0, (-h) % 8)
        return torch.nn.functional.pad(image[None], pad, mode="replicate").to(self.device)

    @torch.no_grad()
    def __call__(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        h, w = first.shape[:2]
        flow = self.model(self._tensor(first), self._tensor(second))[-1][0]
        return flow[:, :h, :w].permute(1, 2, 0).cpu().numpy().astype(np.float32)
