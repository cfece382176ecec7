"""DATASETS.REGISTER_COCO: own COCO files registered from the config, saved with absolute paths,
category ids that are not 1..K kept through evaluation, and the checks of the model's classes."""
import json
import os

import numpy as np
import pytest
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.detection_utils import annotations_to_instances
from detectron2.structures import Instances
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from conftest import CONFIG_DIR
from gn_det.config import load_config
from gn_det.data import check_categories, dataset_categories
from gn_det.data.shapes import CATEGORIES
from gn_det.data.shapes_export import export_split
from gn_det.engine import Trainer
from gn_det.errors import ConfigError, DatasetError
from test_tools_train_net import load_tool

DEMO_CONFIG = os.path.join(CONFIG_DIR, "shapes_mask_rcnn_R18_FPN_gn.yaml")
IDS = [3, 17, 42, 58, 90]


def register_option(*entries):
    return ["DATASETS.REGISTER_COCO", repr([list(entry) for entry in entries])]


@pytest.fixture
def own_data(tmp_path, monkeypatch):
    """A small JPEG dataset with category ids 3, 17, 42, 58, 90 in tmp_path/data, the working
    directory; the datasets a test registers are removed afterwards."""
    root = tmp_path / "data"
    export_split(str(root), "train", 3, IDS, seed=0, image_size=64)
    export_split(str(root), "val", 2, IDS, seed=1, image_size=64)
    monkeypatch.chdir(tmp_path)
    before = set(DatasetCatalog.list())
    yield root
    for name in set(DatasetCatalog.list()) - before:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)


TRAIN = ("own_train", "data/annotations/train.json", "data/train")
VAL = ("own_val", "data/annotations/val.json", "data/val")
RUN = [*register_option(TRAIN, VAL), "DATASETS.TRAIN", "('own_train',)",
       "DATASETS.TEST", "('own_val',)"]


def test_command_line_registers_the_files_with_their_own_category_ids(own_data):
    cfg = load_config(DEMO_CONFIG, RUN)
    assert cfg.DATASETS.REGISTER_COCO == [
        ["own_train", str(own_data / "annotations/train.json"), str(own_data / "train")],
        ["own_val", str(own_data / "annotations/val.json"), str(own_data / "val")]]
    metadata = MetadataCatalog.get("own_train")
    assert (metadata.json_file, metadata.image_root, metadata.evaluator_type) == (
        str(own_data / "annotations/train.json"), str(own_data / "train"), "coco")
    assert dataset_categories("own_val") == dict(zip(IDS, CATEGORIES))
    # detectron2's loader sets the same metadata (it refuses to change a value) and maps the ids.
    records = DatasetCatalog.get("own_train")
    assert len(records) == 3
    assert {a["category_id"] for r in records for a in r["annotations"]} <= set(range(5))
    assert metadata.thing_dataset_id_to_contiguous_id == {i: k for k, i in enumerate(IDS)}


def test_yaml_file_registers_the_datasets(own_data, tmp_path):
    config = tmp_path / "own.yaml"
    config.write_text(f"_BASE_: {DEMO_CONFIG}\nDATASETS:\n  REGISTER_COCO:\n"
                      f"  - [own_train, data/annotations/train.json, data/train]\n"
                      f"  TRAIN: [own_train]\n  TEST: []\n")
    cfg = load_config(str(config))
    assert cfg.DATASETS.REGISTER_COCO[0][1] == str(own_data / "annotations/train.json")
    assert len(DatasetCatalog.get("own_train")) == 3


def test_saved_config_yaml_works_alone_from_another_directory(own_data, tmp_path, monkeypatch):
    saved = tmp_path / "config.yaml"
    saved.write_text(load_config(DEMO_CONFIG, RUN).dump())
    for name in ("own_train", "own_val"):  # a new process: nothing registered yet
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    cfg = load_config(str(saved))
    assert MetadataCatalog.get("own_val").json_file == str(own_data / "annotations/val.json")
    assert len(DatasetCatalog.get("own_val")) == 2
    assert load_config(str(saved)).dump() == cfg.dump()  # loading it again changes nothing


@pytest.mark.parametrize("entry,message", [
    (("own_train", "data/annotations/nope.json", "data/train"),
     "DATASETS.REGISTER_COCO: the json file of 'own_train', {root}/annotations/nope.json, does "
     "not exist (relative paths are read from the working directory, {cwd})."),
    (("own_train", "data/annotations/train.json", "data/imgs"),
     "DATASETS.REGISTER_COCO: the image root of 'own_train', {root}/imgs, is not a folder"),
    (("coco_2017_val", "data/annotations/val.json", "data/val"),
     "DATASETS.REGISTER_COCO: dataset name 'coco_2017_val' is already registered with json file "),
])
def test_missing_files_and_taken_names_are_one_line_errors(own_data, entry, message):
    with pytest.raises(DatasetError) as error:
        load_config(DEMO_CONFIG, register_option(entry))
    assert message.format(root=own_data, cwd=os.getcwd()) in str(error.value)
    assert "\n" not in str(error.value)


def test_a_name_registered_with_other_files_is_refused(own_data):
    load_config(DEMO_CONFIG, register_option(TRAIN))
    with pytest.raises(DatasetError, match="'own_train' is already registered with json file "
                       f"{own_data}/annotations/train.json and image root {own_data}/train, not "
                       f"{own_data}/annotations/val.json and {own_data}/val; choose another"):
        load_config(DEMO_CONFIG, register_option(("own_train", *VAL[1:])))


def test_entries_that_are_not_triples_are_refused(own_data):
    with pytest.raises(ConfigError, match=r"entry #0 is \['own_train', 'data/train'\]; each entry "
                       r"is \[name, json file, image root\]"):
        load_config(DEMO_CONFIG, ["DATASETS.REGISTER_COCO", "[['own_train','data/train']]"])


def test_num_classes_other_than_the_training_sets_categories_is_refused(own_data):
    cfg = load_config(DEMO_CONFIG, RUN + ["MODEL.ROI_HEADS.NUM_CLASSES", "3"])
    with pytest.raises(ConfigError) as error:
        check_categories(cfg)
    assert str(error.value) == (
        f"MODEL.ROI_HEADS.NUM_CLASSES is 3 but the training set 'own_train' "
        f"({own_data}/annotations/train.json) has 5 categories: set MODEL.ROI_HEADS.NUM_CLASSES 5.")
    check_categories(load_config(DEMO_CONFIG, RUN))


def rewrite_categories(json_file, change):
    coco = json.loads(json_file.read_text())
    change(coco["categories"])
    json_file.write_text(json.dumps(coco))


def test_an_id_named_differently_in_train_and_val_is_refused(own_data):
    rewrite_categories(own_data / "annotations/val.json",
                       lambda categories: categories[1].update(name="box"))
    with pytest.raises(ConfigError, match=r"Category id 17 is 'square' in 'own_train' \(.*train"
                       r"\.json\) but 'box' in 'own_val' \(.*val\.json\): give both files the "
                       r"same 'categories' list"):
        check_categories(load_config(DEMO_CONFIG, RUN))


def test_other_category_ids_in_val_are_refused(own_data):
    # detectron2's evaluator would map the model's class 4 with val's own, shorter, mapping.
    rewrite_categories(own_data / "annotations/val.json", lambda categories: categories.pop())
    with pytest.raises(ConfigError, match=r"'own_val' \(.*\) has category ids \[3, 17, 42, 58\] "
                       r"but 'own_train' \(.*\) has \[3, 17, 42, 58, 90\]"):
        check_categories(load_config(DEMO_CONFIG, RUN))


def test_built_in_presets_pass_the_category_checks():
    check_categories(load_config(DEMO_CONFIG))
    check_categories(load_config(os.path.join(CONFIG_DIR, "mask_rcnn_R50_FPN_gn.yaml")))


def perfect_predictions(record):
    """The ground truth of ``record`` as the model's output (class indices, bitmasks, score 1)."""
    truth = annotations_to_instances(record["annotations"], (record["height"], record["width"]),
                                     mask_format="bitmask")
    return Instances(truth.image_size, pred_boxes=truth.gt_boxes, pred_classes=truth.gt_classes,
                     scores=torch.ones(len(truth)), pred_masks=truth.gt_masks.tensor)


def test_evaluation_writes_and_scores_the_files_own_category_ids(own_data, tmp_path):
    cfg = load_config(DEMO_CONFIG, RUN)
    evaluator = Trainer.build_evaluator(cfg, "own_val", str(tmp_path / "eval"))
    evaluator.reset()
    for record in DatasetCatalog.get("own_val"):
        evaluator.process([record], [{"instances": perfect_predictions(record)}])
    results = evaluator.evaluate()
    assert results["bbox"]["AP"] == pytest.approx(100) and results["segm"]["AP"] == pytest.approx(100)

    detections = json.loads((tmp_path / "eval" / "coco_instances_results.json").read_text())
    truth = json.loads((own_data / "annotations/val.json").read_text())["annotations"]
    assert sorted(d["category_id"] for d in detections) == sorted(a["category_id"] for a in truth)
    # The reference: pycocotools on the original file and the written results.
    coco = COCO(str(own_data / "annotations/val.json"))
    for iou_type in ("bbox", "segm"):
        evaluation = COCOeval(coco, coco.loadRes(detections), iou_type)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
        assert evaluation.stats[0] == pytest.approx(1.0)
    assert np.isin([d["category_id"] for d in detections], IDS).all()


@pytest.mark.parametrize("extra,message", [
    (["MODEL.ROI_HEADS.NUM_CLASSES", "4"], "MODEL.ROI_HEADS.NUM_CLASSES is 4 but the training set"),
    (register_option(TRAIN, ("coco_2017_val", *VAL[1:])),
     "dataset name 'coco_2017_val' is already registered"),
    (register_option(("own_train", "data/annotations/nope.json", "data/train"), VAL),
     "the json file of 'own_train', "),
])
def test_train_net_stops_before_writing_anything(own_data, tmp_path, extra, message):
    output = tmp_path / "run"
    with pytest.raises(SystemExit) as stop:
        load_tool("train_net").run(["--config-file", DEMO_CONFIG, *RUN, *extra,
                                    "OUTPUT_DIR", str(output)])
    assert str(stop.value.code).startswith("gn_det: error: ") and message in str(stop.value.code)
    assert not output.exists()
