"""tools/predict.py and gn_det.prediction: pictures and COCO results of a folder of images, with the
training set's own category ids; unreadable files named, skipped and counted."""
import json
import os
import shutil

import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch
from detectron2.data import MetadataCatalog
from detectron2.structures import Boxes, Instances

from gn_det.config import load_config
from gn_det.data.shapes import CATEGORIES
from gn_det.engine import Trainer
from gn_det.errors import ConfigError
from gn_det.prediction import coco_results, list_inputs, split_inputs_and_overrides
from test_data_register_coco import DEMO_CONFIG, IDS, RUN, own_data  # noqa: F401  (fixture)
from test_tools_train_net import load_tool

SMALL = ["INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "64", "DATALOADER.NUM_WORKERS", "0"]


@pytest.fixture
def weights(own_data, tmp_path):  # noqa: F811
    """A randomly initialized model of the config, saved as a checkpoint: it covers the model."""
    path = tmp_path / "model.pth"
    torch.save({"model": Trainer.build_model(load_config(DEMO_CONFIG, RUN)).state_dict()}, path)
    return path


def test_a_folder_with_bad_files_is_predicted_except_them_with_the_files_own_ids(
        own_data, weights, tmp_path, capsys):  # noqa: F811
    folder = tmp_path / "images"
    shutil.copytree(own_data / "val", folder)
    (folder / "notes.jpg").write_text("not an image")
    good = (folder / "000001.jpg").read_bytes()
    (folder / "cut.jpg").write_bytes(good[:len(good) // 2])
    output = tmp_path / "out"

    status = load_tool("predict").main([
        "--config-file", DEMO_CONFIG, "--input", str(folder), "--output", str(output),
        "--confidence-threshold", "0", *RUN, *SMALL, "MODEL.WEIGHTS", str(weights)])

    assert status == "gn_det: error: skipped 2 of 4 files that are not readable images (named above)"
    err = capsys.readouterr().err
    assert f"gn_det: warning: skipped {folder}/notes.jpg: not an image format Pillow reads" in err
    assert f"gn_det: warning: skipped {folder}/cut.jpg: " in err
    assert sorted(os.listdir(output)) == ["000001.jpg", "000002.jpg", "predictions.json"]
    results = json.loads((output / "predictions.json").read_text())
    # A random model scores every class about equally: with threshold 0 there are detections.
    assert results and {r["file_name"] for r in results} == {f"{folder}/000001.jpg",
                                                             f"{folder}/000002.jpg"}
    assert {r["category_id"] for r in results} <= set(IDS)
    for result in results:
        assert mask_util.decode(result["segmentation"]).shape == (64, 64)
        assert len(result["bbox"]) == 4 and 0 <= result["score"] <= 1


def test_a_good_run_exits_0_with_overrides_after_the_inputs_and_flags_after_them(
        own_data, weights, tmp_path):  # noqa: F811
    assert load_tool("predict").main([
        "--config-file", DEMO_CONFIG, "--input", str(own_data / "val" / "*.jpg"), *RUN, *SMALL,
        "MODEL.WEIGHTS", str(weights), "--output", str(tmp_path / "out")]) == 0
    assert sorted(os.listdir(tmp_path / "out")) == ["000001.jpg", "000002.jpg", "predictions.json"]


def test_config_keys_end_the_inputs():
    tokens = ["a.jpg", "photos/", "MODEL.WEIGHTS", "w.pth", "OUTPUT_DIR", "o", "SEED", "1"]
    assert split_inputs_and_overrides(tokens) == (tokens[:2], tokens[2:])
    assert split_inputs_and_overrides(["IMG_1.JPG", "dir"]) == (["IMG_1.JPG", "dir"], [])


def test_untrained_weights_are_refused(own_data, tmp_path):  # noqa: F811
    with pytest.raises(Exception, match="MODEL.WEIGHTS is empty"):
        load_tool("predict").main(["--config-file", DEMO_CONFIG, "--input", str(own_data / "val"),
                                   "--output", str(tmp_path / "out"), *RUN, *SMALL])
    assert not (tmp_path / "out").exists()


def test_class_indices_become_the_training_sets_ids_of_the_same_names(own_data):  # noqa: F811
    load_config(DEMO_CONFIG, RUN)
    metadata = MetadataCatalog.get("own_train")
    instances = Instances((8, 8), pred_boxes=Boxes(torch.tensor([[0.0, 1, 4, 6]] * 5)),
                          scores=torch.full((5,), 0.9), pred_classes=torch.arange(5),
                          pred_masks=torch.zeros(5, 8, 8, dtype=torch.bool))
    results = coco_results(instances, 7, "a.jpg", metadata)
    file_names = {c["id"]: c["name"] for c in json.loads(
        (own_data / "annotations/train.json").read_text())["categories"]}
    assert [file_names[r["category_id"]] for r in results] == list(CATEGORIES)
    assert results[0]["bbox"] == [0.0, 1.0, 4.0, 5.0]
    assert {(r["image_id"], r["file_name"]) for r in results} == {(7, "a.jpg")}
    assert np.array_equal(mask_util.decode(results[0]["segmentation"]), np.zeros((8, 8)))


def test_inputs_are_files_folders_and_patterns_each_once(tmp_path):
    for name in ("b.png", "a.JPG", "c.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    assert list_inputs([str(tmp_path), str(tmp_path / "*.png"), str(tmp_path / "c.txt")]) == [
        str(tmp_path / "a.JPG"), str(tmp_path / "b.png"), str(tmp_path / "c.txt")]


@pytest.mark.parametrize("make,message", [
    (lambda root: [str(root / "nope.jpg")], "--input {root}/nope.jpg: no such file"),
    (lambda root: [str(root / "*.png")], "--input {root}/*.png: no such file"),
    (lambda root: [str(root / "one/x.jpg"), str(root / "two")],
     "--input gives two files named x.jpg ({root}/one/x.jpg and {root}/two/x.jpg)"),
])
def test_inputs_without_files_or_with_clashing_names_are_refused(tmp_path, make, message):
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.jpg").write_bytes(b"x")
    with pytest.raises(ConfigError) as error:
        list_inputs(make(tmp_path))
    assert message.format(root=tmp_path) in str(error.value)
