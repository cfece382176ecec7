"""Pretraining data: ImageFolder layout checked with one clear error, images in the detection
input convention, the training images of an epoch split between processes."""
import numpy as np
import pytest
import torch
from PIL import Image

from conftest import preset_cfg
from gn_det.errors import DatasetError
from gn_det.pretraining import check_image_folder
from gn_det.pretraining.data import DetectionInput, epoch_indices, image_folders, val_indices
from gn_det.pretraining.recipe import SHAPES


def test_image_folder_gives_the_classes(tiny_image_folder):
    classes = check_image_folder(str(tiny_image_folder))

    assert len(classes) == 20 and "blue_star" in classes


@pytest.mark.parametrize("layout, words", [
    ({}, "does not exist"),
    ({"train/a/1.png": b""}, "has no val/ folder"),
    ({"train/1.png": b"", "val/1.png": b""}, "has no class folders"),
    ({"train/a/1.png": b"", "val/b/1.png": b""}, "same class folders; 2 are in only one"),
])
def test_data_not_in_image_folder_layout_is_one_clear_error(tmp_path, layout, words):
    root = tmp_path / "data"
    for name, content in layout.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)

    with pytest.raises(DatasetError, match=words) as error:
        check_image_folder(str(root))
    assert "\n" not in str(error.value)


def test_a_file_as_data_is_not_a_folder(tmp_path):
    (tmp_path / "imagenet.tar").write_bytes(b"")

    with pytest.raises(DatasetError, match="imagenet.tar is not a folder: --data takes a folder"):
        check_image_folder(str(tmp_path / "imagenet.tar"))


def test_class_folder_without_images_is_one_clear_error(tmp_path):
    for name in ("train/a/readme.txt", "val/a/readme.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("no image")

    with pytest.raises(DatasetError, match=r"train: Found no valid file for the classes a\. "):
        image_folders(str(tmp_path), preset_cfg("shapes_mask_rcnn_R18_FPN_ablation.yaml"), SHAPES)


def test_images_come_in_the_detection_models_input_convention():
    cfg = preset_cfg("mask_rcnn_R50_FPN_gn.yaml")  # BGR, Detectron's pixel mean, std 1
    rgb = np.array([[[10, 20, 30], [200, 100, 0]]], dtype=np.uint8)

    pixels = DetectionInput(cfg)(Image.fromarray(rgb))

    mean = torch.tensor(cfg.MODEL.PIXEL_MEAN).reshape(3, 1, 1)
    std = torch.tensor(cfg.MODEL.PIXEL_STD).reshape(3, 1, 1)
    bgr = torch.tensor(rgb[..., ::-1].copy(), dtype=torch.float32).permute(2, 0, 1)
    expected = (bgr - mean) / std
    torch.testing.assert_close(pixels, expected)


def test_an_epochs_images_are_split_between_processes_and_depend_on_seed_and_epoch():
    shares = [epoch_indices(10, seed=0, epoch=3, rank=rank, processes=3) for rank in range(3)]

    assert [len(share) for share in shares] == [3, 3, 3]
    assert len(set(sum(shares, []))) == 9
    assert epoch_indices(10, 0, 3, 1, 3) == shares[1]
    assert epoch_indices(10, 0, 4, 1, 3) != shares[1]
    assert epoch_indices(10, 1, 3, 1, 3) != shares[1]


def test_every_validation_image_is_evaluated_once():
    shares = [val_indices(10, rank, 3) for rank in range(3)]

    assert sorted(sum(shares, [])) == list(range(10))
