"""Result tables: seeds averaged, published rows only where they compare, notes, files."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from mcnn.classes import YTO_CLASSES
from mcnn.cli import main as cli_main
from mcnn.core.io import DataError
from mcnn.evaluation import tables


def _result(path, variant, fov, seed, ious, classes, split="val", images=9):
    labels = ["background", *classes]
    defined = [v for v in ious if v is not None]
    result = {
        "variant": variant, "fov": fov, "seed": seed, "classes": classes,
        "dataset": "voc", "split": split,
        "protocols": {
            "subset": {
                "applicable": True, "labels": labels, "images": images, "iou": ious,
                "mean_iou": sum(defined) / len(defined),
            },
            "all": {"applicable": False, "reason": "not the 20 VOC classes"},
        },
    }  # fmt: skip
    path.write_text(json.dumps(result))
    return path


def test_seeds_average_into_one_row_with_sample_std(tmp_path):
    classes = ["cat", "dog"]
    paths = [
        _result(tmp_path / "a.json", "mcnn", "largefov", 0, [0.9, 0.5, 0.1], classes),
        _result(tmp_path / "b.json", "mcnn", "largefov", 1, [0.7, 0.3, None], classes),
        _result(tmp_path / "c.json", "em_adapt", "smallfov", 0, [0.6, 0.0, 0.0], classes),
    ]
    out = {k: tmp_path / f"t.{k}" for k in ("csv", "md", "png")}
    table = tables.run(paths, out["csv"], out["md"], out["png"], tmp_path / "bars.png")
    assert table["variant"].tolist() == ["em_adapt", "mcnn"]  # the paper's order
    mcnn = table.iloc[1]
    assert (mcnn["background"], mcnn["cat"]) == pytest.approx((80.0, 40.0))
    assert mcnn["dog"] == pytest.approx(10.0)  # undefined for seed 1: mean of the defined one
    # means 50 and 50: std 0; em_adapt has one seed: no std
    assert mcnn["mean"] == pytest.approx(50.0) and mcnn["std"] == pytest.approx(0.0)
    assert math.isnan(table.iloc[0]["std"]) and mcnn["seeds"] == 2
    assert set(table["source"]) == {"ours"}  # two classes: no published row
    assert pd.read_csv(out["csv"]).shape == table.shape
    md = out["md"].read_text()
    assert "| M-CNN | largefov | ours | 2 | 80.0 | 40.0 | 10.0 | 50.0 ± 0.0 |" in md
    assert "| EM-Adapt | smallfov | ours | 1 | 60.0 | 0.0 | 0.0 | 20.0 |" in md
    assert out["png"].stat().st_size > 0 and (tmp_path / "bars.png").stat().st_size > 0


def test_published_rows_follow_ours_only_for_the_papers_classes(tmp_path):
    yto = list(YTO_CLASSES)
    ious = [0.5] * 11
    paths = [
        _result(tmp_path / "m.json", "mcnn", "largefov", 0, ious, yto),
        _result(tmp_path / "x.json", "mixed", "largefov", 0, ious, yto),
        _result(tmp_path / "h.json", "mcnn_hard", "smallfov", 0, ious, yto),  # not published
    ]
    out = [tmp_path / n for n in ("t.csv", "t.md", "t.png")]
    table = tables.run(paths, *out, note="no ImageNet init; demo data")
    assert table["source"].tolist() == [
        "ours", "ours", "published (Table 1)", "ours", "published (Table 2, VOC+YTube)",
    ]  # fmt: skip
    paper = table.iloc[2]
    assert (paper["background"], paper["train"], paper["mean"], paper["std"]) == (
        86.3, 43.4, 41.2, 1.3,
    )  # fmt: skip
    assert math.isnan(table.iloc[4]["std"])
    md = out[1].read_text()
    assert "Note: no ImageNet init; demo data" in md and "Published rows" in md
    no_paper = tables.run(paths, *out, published=False)
    assert set(no_paper["source"]) == {"ours"}


def test_results_table_step_and_bad_inputs(tmp_path):
    good = _result(tmp_path / "a.json", "mcnn", "largefov", 0, [0.5, 0.5], ["cat"])
    outputs = [f"--output-{k}={tmp_path / f't.{k}'}" for k in ("csv", "md", "png")]
    cli_main(["results-table", "--results", str(good), *outputs])
    assert pd.read_csv(tmp_path / "t.csv")["mean"].tolist() == [50.0]
    untagged = json.loads(good.read_text()) | {"seed": None}
    (tmp_path / "u.json").write_text(json.dumps(untagged))
    with pytest.raises(DataError, match="lacks variant"):
        tables.load_results([tmp_path / "u.json"], "subset")
    other = _result(tmp_path / "o.json", "mcnn", "largefov", 1, [0.5, 0.5], ["dog"])
    with pytest.raises(DataError, match="differ"):
        tables.load_results([good, other], "subset")
    with pytest.raises(DataError, match="a second result"):
        tables.load_results([good, good], "subset")
    with pytest.raises(DataError, match="does not apply"):
        tables.load_results([good], "all")
