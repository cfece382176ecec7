"""Registration of the shapes splits, lazy generation, and check_dataset_available's errors."""
import dataclasses
import json
import os

import gn_det.data  # noqa: F401  (first: detectron2 fixes, then registration)
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog

from gn_det.data import (
    SHAPES_SPLITS,
    check_dataset_available,
    ensure_shapes_split,
    register_shapes_datasets,
)
from gn_det.data import datasets as shapes_datasets
from gn_det.errors import DatasetError


@pytest.fixture
def dataset_with_missing_files(tmp_path):
    """A registered dataset whose metadata points at files that do not exist."""
    name = "gn_det_test_missing_files"
    DatasetCatalog.register(name, lambda: [])
    MetadataCatalog.get(name).set(json_file=str(tmp_path / "missing.json"),
                                  image_root=str(tmp_path / "images"))
    yield name
    DatasetCatalog.remove(name)
    MetadataCatalog.remove(name)


def test_registration_is_idempotent():
    before = DatasetCatalog.list()
    register_shapes_datasets()
    register_shapes_datasets()
    assert DatasetCatalog.list() == before
    for name in SHAPES_SPLITS:
        metadata = MetadataCatalog.get(name)
        assert metadata.evaluator_type == "coco"
        assert metadata.thing_classes == list(gn_det.data.CATEGORIES)


def test_splits_differ_in_split_and_seed():
    train, val = SHAPES_SPLITS["shapes_train"], SHAPES_SPLITS["shapes_val"]
    assert train.split != val.split and train.seed != val.seed


def test_dataset_catalog_generates_on_first_use(small_shapes):
    json_file = small_shapes / "annotations" / "instances_val.json"
    assert not json_file.exists()
    records = DatasetCatalog.get("shapes_val")
    assert json_file.exists()
    assert len(records) == 3
    for record in records:
        assert os.path.isfile(record["file_name"])
        assert record["annotations"]
        for annotation in record["annotations"]:
            assert annotation["segmentation"]
            assert 0 <= annotation["category_id"] < len(gn_det.data.CATEGORIES)
    metadata = MetadataCatalog.get("shapes_val")
    assert metadata.json_file == str(json_file)
    assert metadata.image_root == str(small_shapes / "val")


def test_cached_split_is_reused_and_regenerated_when_its_size_changes(small_shapes, monkeypatch):
    json_file = ensure_shapes_split("shapes_val")
    modified = os.stat(json_file).st_mtime_ns
    assert ensure_shapes_split("shapes_val") == json_file
    assert os.stat(json_file).st_mtime_ns == modified
    monkeypatch.setitem(SHAPES_SPLITS, "shapes_val",
                        dataclasses.replace(SHAPES_SPLITS["shapes_val"], num_images=4))
    with open(ensure_shapes_split("shapes_val")) as f:
        assert len(json.load(f)["images"]) == 4


def test_check_generates_shapes_splits(small_shapes):
    check_dataset_available("shapes_train")
    assert (small_shapes / "annotations" / "instances_train.json").exists()


@pytest.mark.parametrize("typed,closest", [("shapes_vall", "shapes_val"),
                                           ("coco_2017_tran", "coco_2017_train")])
def test_check_names_the_closest_registered_name_for_an_unknown_one(typed, closest):
    with pytest.raises(DatasetError) as error:
        check_dataset_available(typed)
    assert isinstance(error.value, ValueError)
    assert str(error.value) == f"Dataset '{typed}' is not registered. Did you mean '{closest}'?"


def test_check_says_how_to_register_a_name_close_to_none():
    with pytest.raises(DatasetError, match=r"^Dataset 'my_parts' is not registered. No registered "
                                           r"dataset has a similar name: register yours .*"
                                           r"register_coco_instances"):
        check_dataset_available("my_parts")


def test_check_says_where_it_looked_for_missing_files(dataset_with_missing_files, tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        check_dataset_available(dataset_with_missing_files)
    message = str(error.value)
    assert str(tmp_path / "missing.json") in message
    assert "$DETECTRON2_DATASETS" in message and "datasets/README.md" in message


def test_check_reports_missing_coco_2017():
    json_file = MetadataCatalog.get("coco_2017_val").json_file
    if os.path.exists(json_file):
        pytest.skip("COCO 2017 is installed here")
    with pytest.raises(FileNotFoundError, match="instances_val2017.json"):
        check_dataset_available("coco_2017_val")


def test_ensure_rejects_other_names():
    with pytest.raises(DatasetError, match="shapes_train"):
        ensure_shapes_split("coco_2017_val")


def test_cache_dir_defaults_under_detectron2_datasets(monkeypatch, tmp_path):
    monkeypatch.delenv("GN_DET_SHAPES_DIR", raising=False)
    monkeypatch.setenv("DETECTRON2_DATASETS", str(tmp_path))
    assert shapes_datasets.shapes_dir() == str(tmp_path / "shapes")
