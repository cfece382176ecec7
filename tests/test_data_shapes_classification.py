"""The shapes classification set: deterministic ImageFolder splits, balanced classes, generated on
first use into its cache directory and regenerated only when out of date."""
import dataclasses
import os

import gn_det.data  # noqa: F401  (first: detectron2 fixes)
import pytest
from torchvision.datasets import ImageFolder

from gn_det.data import shapes_classification
from gn_det.data.__main__ import main as generate_main
from gn_det.data.shapes_classification import (CLASSES, SPLITS, ClassificationSplit,
                                               ensure_shapes_classification, generate_split)

NUM_IMAGES = 2 * len(CLASSES)


def split_bytes(root, split):
    """{relative path: bytes} of every image of a split."""
    files = {}
    for directory, _, names in os.walk(os.path.join(root, split)):
        for name in names:
            with open(os.path.join(directory, name), "rb") as f:
                files[os.path.relpath(os.path.join(directory, name), root)] = f.read()
    return files


@pytest.fixture
def small_splits(tmp_path, monkeypatch):
    """Splits of a few images per class, cached under tmp_path/cache; yields the cache path."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("GN_DET_SHAPES_CLASSIFICATION_DIR", str(cache))
    for name, spec in SPLITS.items():
        monkeypatch.setitem(SPLITS, name, dataclasses.replace(spec, num_images=NUM_IMAGES))
    return cache


def test_split_is_an_image_folder_with_balanced_classes(tmp_path):
    generate_split(str(tmp_path), ClassificationSplit("val", NUM_IMAGES, seed=0), progress=False)

    dataset = ImageFolder(str(tmp_path / "val"))

    assert len(CLASSES) >= 10 and sorted(dataset.classes) == sorted(CLASSES)
    assert len(dataset) == NUM_IMAGES
    assert all(dataset.targets.count(index) == 2 for index in range(len(CLASSES)))
    image, _ = dataset[0]
    assert image.size == (64, 64) and image.mode == "RGB"


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        generate_split(str(tmp_path / name), ClassificationSplit("train", NUM_IMAGES, seed),
                       progress=False)

    reference = split_bytes(tmp_path / "a", "train")
    assert len(reference) == NUM_IMAGES
    assert split_bytes(tmp_path / "b", "train") == reference
    other = split_bytes(tmp_path / "c", "train")
    assert other.keys() == reference.keys() and other != reference


def test_generated_on_first_use_then_reused(small_splits):
    root = ensure_shapes_classification(progress=False)

    assert root == str(small_splits)
    assert {len(ImageFolder(os.path.join(root, split))) for split in SPLITS} == {NUM_IMAGES}
    image = small_splits / "train" / CLASSES[0] / "000001.png"
    written = image.stat().st_mtime_ns
    ensure_shapes_classification(progress=False)
    assert image.stat().st_mtime_ns == written


def test_out_of_date_split_is_generated_again(small_splits, monkeypatch):
    ensure_shapes_classification(progress=False)
    image = small_splits / "val" / CLASSES[0] / "000001.png"
    image.unlink()

    monkeypatch.setattr(shapes_classification, "GENERATOR_VERSION",
                        shapes_classification.GENERATOR_VERSION + 1)
    ensure_shapes_classification(progress=False)

    assert image.exists()


def test_default_cache_is_next_to_the_detection_set(monkeypatch):
    monkeypatch.delenv("GN_DET_SHAPES_CLASSIFICATION_DIR", raising=False)
    monkeypatch.setenv("DETECTRON2_DATASETS", "/data")

    assert shapes_classification.shapes_classification_dir() == "/data/shapes_classification"


def test_python_m_gn_det_data_generates_it_by_name(small_splits, capsys):
    generate_main(["--splits", "shapes_classification"])

    assert capsys.readouterr().out == f"shapes_classification: {small_splits}\n"
    assert (small_splits / "train.json").exists() and (small_splits / "val.json").exists()
