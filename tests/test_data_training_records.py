"""training_records: the training data leaves out exactly what validation counts as skipped."""
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.datasets import register_coco_instances

from gn_det.config import load_config
from gn_det.data.training_records import training_records
from gn_det.data.validation import validate_dataset
from gn_det.errors import DatasetError
from test_data_validation import HEIGHT, SQUARE, WIDTH, good_coco, with_annotation, write_dataset


@pytest.fixture
def registered(tmp_path):
    """Register a COCO dataset of ``coco`` under tmp_path; yields a function coco -> name."""
    names = []

    def register(coco):
        name = f"gn_det_test_training_records_{len(names)}"
        json_file, images = write_dataset(tmp_path, coco)
        register_coco_instances(name, {}, json_file, images)
        names.append(name)
        return name

    yield register
    for name in names:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)


def test_training_leaves_out_exactly_what_validation_skips(registered):
    coco = good_coco()
    coco["images"].append({"id": 3, "file_name": "c.png", "width": WIDTH, "height": HEIGHT})
    coco["annotations"] += [
        {"id": 12, "image_id": 2, "category_id": 1, "bbox": [5, 5, 0, 4], "iscrowd": 0},
        {"id": 13, "image_id": 3, "category_id": 1, "bbox": [WIDTH + 5, 5, 4, 4], "iscrowd": 0},
        {"id": 14, "image_id": 1, "category_id": 2, "bbox": [1, 1, 9, 9], "iscrowd": 0,
         "segmentation": SQUARE + [[1, 1, 2, 2]]},
    ]
    name = registered(coco)
    report = validate_dataset(name)
    assert sorted(f.kind for f in report.skips) == [
        "box_outside_image", "box_without_area", "degenerate_polygon", "image_without_annotations"]

    cfg = load_config("", ["DATASETS.TRAIN", f"('{name}',)"])
    records = training_records(cfg)
    assert [(r["image_id"], [a["bbox"] for a in r["annotations"]]) for r in records] == [
        (1, [[5, 5, 10, 10], [1, 1, 9, 9]]), (2, [[20, 10, 10, 10]])]
    assert records[0]["annotations"][1]["segmentation"] == SQUARE


def test_training_with_nothing_usable_is_an_error_saying_how_to_list_the_skips(registered,
                                                                               tmp_path):
    coco = with_annotation(bbox=[5, 5, 0, 0])
    coco["images"], coco["annotations"] = coco["images"][:1], coco["annotations"][:1]
    name = registered(coco)
    cfg = load_config("", ["DATASETS.TRAIN", f"('{name}',)"])
    with pytest.raises(DatasetError) as error:
        training_records(cfg)
    assert str(error.value) == (
        f"No image of {name} has a usable annotation: nothing to train on. What was skipped is "
        f"listed by `python tools/validate_dataset.py --json {tmp_path / 'instances.json'} "
        f"--image-root {tmp_path / 'images'} --train-only --boxes-only`.")
