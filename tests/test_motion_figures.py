"""The motion-figures step: FST's stages drawn on sampled frames of a real DAVIS sequence."""

from __future__ import annotations

import cv2
import numpy as np
from conftest import real_davis_shots

from mcnn import config
from mcnn.cli import main as cli_main
from mcnn.motion.figures import HEADER, flow_colours, sampled_indices


def test_sampled_indices_spread_over_the_shot():
    assert sampled_indices(25, 4) == [0, 8, 16, 24]
    assert sampled_indices(3, 4) == [0, 1, 2]


def test_flow_colours_direction_and_speed():
    flow = np.zeros((2, 2, 2), np.float32)
    flow[0, 0] = (5, 0)  # right: red on the colour wheel
    flow[0, 1] = (0, 5)  # down
    picture = flow_colours(flow)
    assert picture[0, 0].argmax() == 0 and picture[0, 0].max() == 255
    assert not np.array_equal(picture[0, 0], picture[0, 1])
    assert picture[1, 1].max() == 0  # still: black


def test_figure_of_a_real_sequence_shows_every_stage(tmp_path):
    shots, index = real_davis_shots(tmp_path, "dog-agility")
    # The first 8 frames keep the test short.
    shots = shots.assign(last_frame=shots["first_frame"] + 7, num_frames=8)
    shots.to_csv(index, index=False)
    params = config.validate({"motion": {"flow": {"max_side": 200}}})["motion"]
    output = tmp_path / "dog-agility.png"
    cli_main(
        ["motion-figures", "--index", str(index), "--video", "dog-agility", "--params",
         __import__("json").dumps(params), "--frames", "3", "--output", str(output)]
    )  # fmt: skip
    figure = cv2.imread(str(output))
    h, w = 112, 200  # 854 x 480 shrunk to a longer side of 200
    # 3 frames; 8 columns: frame, flow, boundaries, inside, location, appearance, mask, truth
    assert figure.shape == (3 * (h + HEADER), 8 * w, 3)
    panels = [figure[HEADER : HEADER + h, k * w : (k + 1) * w].astype(int) for k in range(8)]
    # The mask and truth panels are the frame with tints: each differs from the frame (the
    # dog is small in the first frame: the mask is checked on all rows together).
    rows = [
        figure[r * (h + HEADER) + HEADER : (r + 1) * (h + HEADER)].astype(int) for r in range(3)
    ]
    tinted = np.mean([(row[:, 6 * w : 7 * w] != row[:, :w]).any(axis=2).mean() for row in rows])
    assert tinted > 0.002
    assert (panels[7] != panels[0]).any(axis=2).mean() > 0.005
    # The location prior is not flat: it singles out a region.
    assert panels[4].std() > 5
