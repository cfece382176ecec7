"""Dataset validation: every kind of bad input is an error naming the file and ids with how to fix
it, or a skip counted in the report's summary."""
import json

import cv2
import numpy as np
import pycocotools.mask as mask_util
import pytest

from gn_det.data.validation import KINDS, validate_coco_json, validate_records
from gn_det.errors import DatasetError

WIDTH, HEIGHT = 40, 30
SQUARE = [[5.0, 5.0, 15.0, 5.0, 15.0, 15.0, 5.0, 15.0]]


def rle_of_box(height=HEIGHT, width=WIDTH):
    mask = np.zeros((height, width), np.uint8)
    mask[10:20, 20:30] = 1
    rle = mask_util.encode(np.asfortranarray(mask))
    return {"size": rle["size"], "counts": rle["counts"].decode("ascii")}


def good_coco():
    """Two images (a PNG and a JPEG), two categories, a polygon and an RLE annotation."""
    return {
        "images": [{"id": 1, "file_name": "a.png", "width": WIDTH, "height": HEIGHT},
                   {"id": 2, "file_name": "b.jpg", "width": WIDTH, "height": HEIGHT}],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 1, "bbox": [5, 5, 10, 10], "iscrowd": 0,
             "area": 100, "segmentation": SQUARE},
            {"id": 11, "image_id": 2, "category_id": 2, "bbox": [20, 10, 10, 10], "iscrowd": 0,
             "area": 100, "segmentation": rle_of_box()},
        ],
        "categories": [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}],
    }


def write_dataset(root, coco):
    """Write ``coco`` next to the image files a.png, b.jpg and c.png (WIDTH x HEIGHT)."""
    images = root / "images"
    images.mkdir(exist_ok=True)
    pixels = np.random.default_rng(0).integers(0, 255, (HEIGHT, WIDTH, 3), np.uint8)
    for file_name in ("a.png", "b.jpg", "c.png"):
        if not (images / file_name).exists():
            cv2.imwrite(str(images / file_name), pixels)
    json_file = root / "instances.json"
    json_file.write_text(json.dumps(coco))
    return str(json_file), str(images)


def validate(tmp_path, coco, **kwargs):
    return validate_coco_json(*write_dataset(tmp_path, coco), dataset="tiny", **kwargs)


def test_a_good_dataset_has_no_findings(tmp_path):
    report = validate(tmp_path, good_coco())
    assert report.findings == [] and report.error() is None
    assert (report.num_images, report.num_annotations) == (2, 2)
    assert "2 images, 2 annotations; errors: none; skipped in training: none" in report.summary()


def with_annotation(**changes):
    coco = good_coco()
    coco["annotations"][0].update(changes)
    return coco


def with_image(**changes):
    coco = good_coco()
    coco["images"][0].update(changes)
    return coco


def with_two(key, index=0):
    coco = good_coco()
    coco[key].append(dict(coco[key][index]))
    return coco


ERRORS = {
    "category id not in categories": (with_annotation(category_id=7), "unknown_category_id",
                                      "annotation 10 of image 1 (a.png)"),
    "annotation of an unknown image": (with_annotation(image_id=99), "unknown_image_id",
                                       "annotation 10"),
    "duplicate annotation id": (with_two("annotations"), "duplicate_id", "annotation 10"),
    "duplicate image id": (with_two("images"), "duplicate_id", "image 1"),
    "duplicate category id": (with_two("categories"), "duplicate_id", "category 1"),
    "annotation without an id": (with_annotation(id="x"), "malformed_entry", "annotation #0"),
    "image without a size": (with_image(height=None), "malformed_entry", "image 1 (a.png)"),
    "box of three numbers": (with_annotation(bbox=[1, 2, 3]), "malformed_box", "annotation 10"),
    "box with a NaN": (with_annotation(bbox=[1, 2, float("nan"), 3]), "malformed_box",
                       "annotation 10"),
    "RLE of another size": (with_annotation(segmentation=rle_of_box(15, 20)), "rle_size_mismatch",
                            "annotation 10 of image 1 (a.png)"),
    "RLE counts of another size": (with_annotation(segmentation={"size": [HEIGHT, WIDTH],
                                                                 "counts": [10, 5]}),
                                   "malformed_mask", "annotation 10"),
    "segmentation of strings": (with_annotation(segmentation=[["a", "b"]]), "malformed_mask",
                                "annotation 10"),
    "image size differs from the file": (with_image(width=WIDTH + 1), "image_size_mismatch",
                                         "image 1 (a.png)"),
    "missing image file": (with_image(file_name="missing.png"), "missing_image_file",
                           "image 1 (missing.png)"),
    "empty split": ({"images": [], "annotations": [], "categories": []}, "empty_split", ""),
}


@pytest.mark.parametrize("coco,kind,where", ERRORS.values(), ids=ERRORS.keys())
def test_bad_annotations_are_errors_naming_file_and_ids_with_a_fix(tmp_path, coco, kind, where):
    report = validate(tmp_path, coco)
    assert [f.kind for f in report.errors] == [kind]
    assert report.errors[0].where.startswith(where)
    message = str(report.error())
    assert isinstance(report.error(), DatasetError) and "\n" not in message
    assert message.startswith(f"Dataset 'tiny' ({tmp_path / 'instances.json'}): {where}")


@pytest.mark.parametrize("damage,kind", [
    (lambda data: b"not an image at all" + data[:10], "unreadable_image"),
    (lambda data: data[: len(data) // 2], "truncated_image"),
])
@pytest.mark.parametrize("file_name", ["a.png", "b.jpg"])
def test_corrupt_and_truncated_image_files_are_errors(tmp_path, damage, kind, file_name):
    json_file, images = write_dataset(tmp_path, good_coco())
    path = tmp_path / "images" / file_name
    path.write_bytes(damage(path.read_bytes()))
    report = validate_coco_json(json_file, images)
    assert [(f.kind, f.where.split(" (")[1]) for f in report.errors] == [(kind, f"{file_name})")]


def test_image_files_are_not_opened_when_not_asked(tmp_path):
    report = validate(tmp_path, with_image(file_name="missing.png"), check_files=False)
    assert report.errors == []


@pytest.mark.parametrize("text,detail", [
    ('{"images": [', "Expecting value at line 1, column 13"),
    ("", "Expecting value at line 1, column 1"),
])
def test_malformed_json_names_the_position(tmp_path, text, detail):
    json_file = tmp_path / "instances.json"
    json_file.write_text(text)
    report = validate_coco_json(str(json_file), str(tmp_path))
    assert [f.kind for f in report.errors] == ["unreadable_json"]
    assert detail in str(report.error()) and str(json_file) in str(report.error())


def test_json_without_coco_lists_is_an_error(tmp_path):
    json_file = tmp_path / "instances.json"
    json_file.write_text('{"images": []}')
    assert [f.kind for f in validate_coco_json(str(json_file), "").errors] == ["malformed_json"]


SKIPS = {
    "zero width": (with_annotation(bbox=[5, 5, 0, 10]), "box_without_area"),
    "negative height": (with_annotation(bbox=[5, 5, 10, -3]), "box_without_area"),
    "box right of the image": (with_annotation(bbox=[WIDTH, 5, 10, 10]), "box_outside_image"),
    "box above the image": (with_annotation(bbox=[5, -20, 10, 10]), "box_outside_image"),
    "polygon of 2 points": (with_annotation(segmentation=[[5, 5, 15, 5]]), "degenerate_polygon"),
}


@pytest.mark.parametrize("coco,kind", SKIPS.values(), ids=SKIPS.keys())
def test_unusable_annotations_are_counted_skips_that_leave_their_image_empty(tmp_path, coco,
                                                                              kind):
    report = validate(tmp_path, coco)
    assert report.errors == [] and report.error() is None
    assert [(f.kind, f.where) for f in report.skips] == [
        (kind, "annotation 10 of image 1 (a.png)"),
        ("image_without_annotations", "image 1 (a.png)")]
    assert (f"skipped in training: 1 {KINDS[kind].what}, 1 image without annotations"
            in report.summary())


def test_a_box_partly_outside_the_image_is_kept(tmp_path):
    assert validate(tmp_path, with_annotation(bbox=[30, 20, 30, 30])).findings == []


def test_a_degenerate_polygon_beside_a_good_one_is_dropped_alone(tmp_path):
    report = validate(tmp_path, with_annotation(segmentation=SQUARE + [[1, 1, 2, 2]]))
    assert [f.kind for f in report.findings] == ["degenerate_polygon"]


def test_an_image_without_annotations_is_a_counted_skip(tmp_path):
    coco = good_coco()
    coco["images"].append({"id": 3, "file_name": "c.png", "width": WIDTH, "height": HEIGHT})
    report = validate(tmp_path, coco)
    assert [(f.kind, f.where) for f in report.findings] == [
        ("image_without_annotations", "image 3 (c.png)")]
    assert "skipped in training: 1 image without annotations" in report.summary()


def test_dataset_dicts_without_a_json_are_validated_by_position(tmp_path):
    write_dataset(tmp_path, good_coco())
    image = str(tmp_path / "images" / "a.png")
    records = [
        {"file_name": image, "image_id": 1, "width": WIDTH, "height": HEIGHT, "annotations": [
            {"bbox": [5, 5, 15, 15], "bbox_mode": 0, "category_id": 0},  # XYXY_ABS
            {"bbox": [5, 5, 5, 5], "bbox_mode": 0, "category_id": 0},  # no area
            {"bbox": [5, 5, 15, 15], "bbox_mode": 0, "category_id": 3},
        ]},
        {"file_name": str(tmp_path / "gone.png"), "image_id": 1, "width": WIDTH, "height": HEIGHT,
         "annotations": [{"bbox": [1, 1, 2, 2], "bbox_mode": 1, "category_id": 1}]},
    ]
    report = validate_records(records, "custom", num_classes=2)
    assert sorted((f.kind, f.where) for f in report.findings) == [
        ("box_without_area", f"annotation #1 of image 1 ({image})"),
        ("duplicate_id", "image 1"),
        ("missing_image_file", f"image 1 ({tmp_path / 'gone.png'})"),
        ("unknown_category_id", f"annotation #2 of image 1 ({image})"),
    ]
