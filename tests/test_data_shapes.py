"""The shapes generator: deterministic files, masks that match the pixels, boxes and areas."""
import json
import os

import cv2
import gn_det.data  # noqa: F401  (first: detectron2 fixes)
import numpy as np
import pycocotools.mask as mask_util
import pytest

from gn_det.data.shapes import CATEGORIES, PALETTE, generate_shapes

NUM_IMAGES = 8


def split_files(root, split):
    """{relative path: bytes} of every file of a generated split."""
    files = {}
    for directory in (split, "annotations"):
        for name in sorted(os.listdir(os.path.join(root, directory))):
            with open(os.path.join(root, directory, name), "rb") as f:
                files[os.path.join(directory, name)] = f.read()
    return files


def decode(segmentation, height, width):
    """Boolean mask of a COCO segmentation, decoded the way COCO evaluation does."""
    if isinstance(segmentation, list):
        rle = mask_util.merge(mask_util.frPyObjects(segmentation, height, width))
    else:
        rle = segmentation
    return mask_util.decode(rle).astype(bool)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """(root, COCO dict) of a small split generated once for this module."""
    root = str(tmp_path_factory.mktemp("shapes"))
    with open(generate_shapes(root, "val", NUM_IMAGES, seed=0, progress=False)) as f:
        return root, json.load(f)


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path, generated):
    root, _ = generated
    again, other = str(tmp_path / "again"), str(tmp_path / "other")
    generate_shapes(again, "val", NUM_IMAGES, seed=0, progress=False)
    generate_shapes(other, "val", NUM_IMAGES, seed=1, progress=False)
    reference = split_files(root, "val")
    assert len(reference) == NUM_IMAGES + 1
    assert split_files(again, "val") == reference
    different = split_files(other, "val")
    assert different.keys() == reference.keys()
    assert all(different[path] != reference[path] for path in reference)


def test_split_name_changes_the_images(tmp_path, generated):
    root, _ = generated
    generate_shapes(str(tmp_path), "train", 2, seed=0, progress=False)
    with open(os.path.join(root, "val", "000001.png"), "rb") as f:
        val_png = f.read()
    with open(tmp_path / "train" / "000001.png", "rb") as f:
        assert f.read() != val_png


def test_coco_structure(generated):
    root, coco = generated
    assert [image["id"] for image in coco["images"]] == list(range(1, NUM_IMAGES + 1))
    assert [a["id"] for a in coco["annotations"]] == list(range(1, len(coco["annotations"]) + 1))
    assert [c["id"] for c in coco["categories"]] == list(range(1, len(CATEGORIES) + 1))
    assert len(coco["categories"]) >= 5
    per_image = [sum(a["image_id"] == image["id"] for a in coco["annotations"])
                 for image in coco["images"]]
    assert 1 <= min(per_image) and max(per_image) <= 6
    for image in coco["images"]:
        pixels = cv2.imread(os.path.join(root, "val", image["file_name"]), cv2.IMREAD_UNCHANGED)
        assert pixels.shape == (image["height"], image["width"], 3) == (128, 128, 3)
    assert not [name for name in os.listdir(os.path.join(root, "annotations"))
                if not name.endswith(".json")], "temporary files left behind"


def test_masks_match_area_bbox_and_painted_pixels(generated):
    root, coco = generated
    images = {image["id"]: image for image in coco["images"]}
    for annotation in coco["annotations"]:
        image = images[annotation["image_id"]]
        mask = decode(annotation["segmentation"], image["height"], image["width"])
        assert annotation["iscrowd"] == 0
        assert annotation["area"] == mask.sum() > 0
        rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
        assert annotation["bbox"] == mask_util.toBbox(rle).tolist()
        rgb = cv2.imread(os.path.join(root, "val", image["file_name"]))[:, :, ::-1]
        # Flat colour: every visible pixel of the instance is painted in one palette colour.
        colours = np.unique(rgb[mask], axis=0)
        assert len(colours) == 1 and tuple(colours[0]) in PALETTE


def test_polygons_and_rles_both_occur_and_rings_are_rle(generated):
    _, coco = generated
    kinds = {type(a["segmentation"]) for a in coco["annotations"]}
    assert kinds == {list, dict}
    ring_id = CATEGORIES.index("ring") + 1
    for annotation in coco["annotations"]:
        if isinstance(annotation["segmentation"], dict):
            assert isinstance(annotation["segmentation"]["counts"], str)
        elif annotation["category_id"] == ring_id:
            pytest.fail("a ring (it has a hole) stored as a polygon")


def test_categories_share_colours(generated):
    root, coco = generated
    images = {image["id"]: image for image in coco["images"]}
    categories_by_colour = {}
    for annotation in coco["annotations"]:
        image = images[annotation["image_id"]]
        rgb = cv2.imread(os.path.join(root, "val", image["file_name"]))[:, :, ::-1]
        mask = decode(annotation["segmentation"], image["height"], image["width"])
        colour = tuple(rgb[mask][0])
        categories_by_colour.setdefault(colour, set()).add(annotation["category_id"])
    assert max(len(categories) for categories in categories_by_colour.values()) >= 2


def boxes_intersect(a, b):
    return (a[0] < b[0] + b[2] and b[0] < a[0] + a[2]
            and a[1] < b[1] + b[3] and b[1] < a[1] + a[3])


def test_overlapping_and_occluded_instances_occur(generated):
    _, coco = generated
    boxes_by_image = {}
    for annotation in coco["annotations"]:
        boxes_by_image.setdefault(annotation["image_id"], []).append(annotation["bbox"])
    assert any(boxes_intersect(a, b)
               for boxes in boxes_by_image.values()
               for i, a in enumerate(boxes) for b in boxes[i + 1:])
    occluded = [a for a in coco["annotations"] if isinstance(a["segmentation"], dict)
                and a["category_id"] != CATEGORIES.index("ring") + 1]
    assert occluded, "no occluded instance"
