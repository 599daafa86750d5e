"""Qualitative grid: which images are shown, and the qualitative step."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from test_eval_voc import AERO, CAT, PERSON, constant_checkpoint, png_index

from mcnn.cli import main as cli_main
from mcnn.core.io import DataError
from mcnn.evaluation.figures import pick_rows


def test_rows_spread_evenly_over_images_with_a_model_class():
    masks = [np.full((2, 2), v, np.uint8) for v in (PERSON, AERO, AERO, PERSON, CAT, AERO, CAT)]
    # eligible: 1, 2, 4, 5, 6 -> positions 0, 2, 4 of them
    assert pick_rows(masks, {AERO, CAT}, 3) == [1, 4, 6]
    assert pick_rows(masks, {AERO, CAT}, 10) == [1, 2, 4, 5, 6]
    assert pick_rows(masks, {0}, 2) == []


def test_qualitative_step_draws_one_column_per_checkpoint(tmp_path):
    masks = [np.full((12, 16), v, np.uint8) for v in (AERO, PERSON, CAT)]
    rows = png_index(tmp_path, [np.zeros((12, 16, 3), np.uint8)] * 3, masks)
    rows.to_csv(tmp_path / "i.csv", index=False)
    a = constant_checkpoint(tmp_path / "a.pt", ["aeroplane", "cat"], label=1)
    b = constant_checkpoint(tmp_path / "b.pt", ["aeroplane", "cat"], label=0)
    out = tmp_path / "grid.png"
    index = ["--index", str(tmp_path / "i.csv")]
    cli_main(["qualitative", "--checkpoints", f"EM-Adapt={a}", f"M-CNN={b}", *index,
              "--count", "2", "--output", str(out), "--device", "cpu"])  # fmt: skip
    width, height = Image.open(out).size
    assert width > height  # 2 rows of 4 columns
    with pytest.raises(DataError, match="NAME=CHECKPOINT"):
        cli_main(["qualitative", "--checkpoints", str(a), *index, "--output", str(out)])
