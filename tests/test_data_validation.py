"""Dataset validation: every kind of bad input is an error naming the file and ids with how to fix
it, or a skip counted in the report's summary."""
import contextlib
import io
import json
import shlex
import uuid

import cv2
import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch
from detectron2.config import get_cfg
from detectron2.data import DatasetMapper
from detectron2.data.datasets import load_coco_json, register_coco_instances
from detectron2.modeling.postprocessing import detector_postprocess
from detectron2.structures import Boxes, Instances
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from gn_det.config import get_cfg as gn_det_get_cfg
from gn_det.data.required_fields import Use
from gn_det.engine import Trainer
from gn_det.data.validation import KINDS, listing_command, validate_coco_json, validate_records
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


EVALUATED_MASKS = Use(evaluated=True, masks=True)


def evaluate_with_pycocotools(json_file, iou_type):
    """pycocotools' COCO evaluation of one perfect detection of annotation 10 (what detectron2's
    COCOEvaluator runs on a dataset's json file)."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(json_file)
        result = {"image_id": 1, "category_id": 1, "score": 1.0, "bbox": [5, 5, 10, 10]}
        if iou_type == "segm":
            result["segmentation"] = mask_util.frPyObjects(SQUARE, HEIGHT, WIDTH)[0]
        coco_eval = COCOeval(coco_gt, coco_gt.loadRes([result]), iou_type)
        coco_eval.evaluate()


def map_for_training(json_file, image_root):
    """detectron2's loading and training mapping of every image of ``json_file``."""
    cfg = get_cfg()
    cfg.INPUT.MASK_FORMAT = "bitmask"
    mapper = DatasetMapper(cfg, is_train=True)
    return [mapper(record) for record in load_coco_json(json_file, image_root)]


@pytest.mark.parametrize("field,iou_type", [("area", "bbox"), ("iscrowd", "bbox"),
                                            ("segmentation", "segm")])
def test_a_field_that_evaluation_reads_is_required_where_the_dataset_is_evaluated(
        tmp_path, field, iou_type):
    coco = good_coco()
    del coco["annotations"][0][field]
    json_file, images = write_dataset(tmp_path, coco)
    with pytest.raises(KeyError, match=field):  # the reference: what evaluation would hit
        evaluate_with_pycocotools(json_file, iou_type)

    report = validate_coco_json(json_file, images, "tiny", use=EVALUATED_MASKS)
    assert [(f.kind, f.where) for f in report.errors] == [
        ("missing_field", "annotation 10 of image 1 (a.png)")]
    message = str(report.error())
    assert message.startswith(f"Dataset 'tiny' ({json_file}): annotation 10 of image 1 (a.png): "
                              f"has no '{field}', which ")
    assert "\n" not in message


@pytest.mark.parametrize("field", ["area", "iscrowd"])
def test_fields_only_evaluation_reads_are_not_required_of_a_training_set(tmp_path, field):
    coco = good_coco()
    del coco["annotations"][0][field]
    json_file, images = write_dataset(tmp_path, coco)
    assert len(map_for_training(json_file, images)) == 2  # detectron2 trains on it
    assert validate_coco_json(json_file, images, use=Use(masks=True)).findings == []


def test_a_mask_model_needs_every_segmentation(tmp_path):
    report = validate(tmp_path, with_annotation(segmentation=[]), use=Use(masks=True))
    assert [(f.kind, f.detail) for f in report.errors] == [
        ("missing_field", "has no 'segmentation', which a mask model's training and mask "
                          "evaluation (MODEL.MASK_ON) reads")]
    assert validate(tmp_path, with_annotation(segmentation=[])).errors == []


@pytest.mark.parametrize("changes,detail", [
    ({"area": "big"}, "'area' is 'big', not a number"),
    ({"iscrowd": 2}, "'iscrowd' is 2, not 0 or 1"),
    ({"ignore": 1}, "'ignore' is 1: detectron2's load_coco_json asserts 0"),
])
def test_unusable_values_of_read_fields_are_errors(tmp_path, changes, detail):
    report = validate(tmp_path, with_annotation(**changes), use=EVALUATED_MASKS)
    assert [(f.where, f.detail) for f in report.errors] == [
        ("annotation 10 of image 1 (a.png)", detail)]


def test_ignore_other_than_0_is_what_detectron2_refuses(tmp_path):
    json_file, images = write_dataset(tmp_path, with_annotation(ignore=1))
    with pytest.raises(AssertionError, match="ignore"):
        load_coco_json(json_file, images)


def test_a_category_without_a_name_is_an_error(tmp_path):
    coco = good_coco()
    del coco["categories"][1]["name"]
    json_file, images = write_dataset(tmp_path, coco)
    with pytest.raises(KeyError, match="name"):
        load_coco_json(json_file, images, "gn_det_test_nameless_categories")
    report = validate_coco_json(json_file, images)
    assert [(f.kind, f.where, f.detail) for f in report.errors] == [
        ("missing_field", "category 2", "has no 'name', which detectron2's load_coco_json (the "
                                        "class names) reads")]


def test_whole_float_image_sizes_are_accepted_as_detectron2_accepts_them(tmp_path):
    json_file, images = write_dataset(tmp_path, with_image(width=float(WIDTH),
                                                           height=float(HEIGHT)))
    assert len(map_for_training(json_file, images)) == 2
    for use in (Use(), Use(evaluated=True), EVALUATED_MASKS):
        assert validate_coco_json(json_file, images, use=use).findings == []


def test_evaluated_images_with_whole_float_sizes_get_their_masks_pasted(tmp_path):
    predictions = Instances((HEIGHT, WIDTH),
                            pred_boxes=Boxes(torch.tensor([[1.0, 2.0, 20.0, 25.0]])),
                            pred_masks=torch.rand(1, 1, 28, 28))
    with pytest.raises(TypeError):  # detectron2 alone: its mask pasting refuses float sizes
        detector_postprocess(predictions, float(HEIGHT), float(WIDTH))
    json_file, images = write_dataset(tmp_path, with_image(width=float(WIDTH),
                                                           height=float(HEIGHT)))
    name = f"gn_det_test_float_sizes_{uuid.uuid4().hex}"
    register_coco_instances(name, {}, json_file, images)
    cfg = gn_det_get_cfg()
    cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST = HEIGHT, WIDTH
    inputs = [batch[0] for batch in Trainer.build_test_loader(cfg, name)]
    assert [(i["height"], i["width"]) for i in inputs] == [(HEIGHT, WIDTH)] * 2
    assert all(type(i["height"]) is int and type(i["width"]) is int for i in inputs)
    pasted = detector_postprocess(predictions, inputs[0]["height"], inputs[0]["width"])
    assert pasted.pred_masks.shape == (1, HEIGHT, WIDTH)


@pytest.mark.parametrize("width", [40.5, 0, -40, 0.0, "40", True])
def test_image_sizes_that_are_not_whole_positive_numbers_are_refused(tmp_path, width):
    report = validate(tmp_path, with_image(width=width))
    assert [(f.kind, f.detail) for f in report.errors] == [
        ("malformed_entry", f"'width' is {width!r}, not a positive whole number of pixels")]


def test_a_missing_image_is_named_by_its_resolved_path_and_image_root(tmp_path):
    report = validate(tmp_path, with_image(file_name="sub/missing.png"))
    images = tmp_path / "images"
    assert [f.detail for f in report.errors] == [
        f"{images / 'sub' / 'missing.png'} does not exist (file_name resolved against the image "
        f"root {images})"]
    json_file, _ = write_dataset(tmp_path, good_coco())
    report = validate_coco_json(json_file, str(tmp_path / "elsewhere"))
    assert report.errors[0].detail.endswith(
        f"(file_name resolved against the image root {tmp_path / 'elsewhere'}, which does not "
        "exist)")


def test_dataset_dicts_need_what_detectron2_reads_for_their_use(tmp_path):
    write_dataset(tmp_path, good_coco())
    image = str(tmp_path / "images" / "a.png")
    records = [{"file_name": image, "image_id": 1, "annotations": [
        {"bbox": [5, 5, 15, 15], "category_id": 0},  # no bbox_mode
        {"bbox": [5, 5, 15, 15], "bbox_mode": 0, "category_id": 0},
    ]}]
    report = validate_records(records, "custom", use=Use(evaluated=True, masks=True))
    assert sorted((f.where, f.detail) for f in report.errors) == [
        (f"image 1 ({image})", "has no 'height', which detectron2's COCOEvaluator "
                               "(convert_to_coco_json) reads"),
        (f"image 1 ({image})", "has no 'width', which detectron2's COCOEvaluator "
                               "(convert_to_coco_json) reads")]
    report = validate_records(records, "custom", use=Use(masks=True))
    assert sorted((f.where, f.detail) for f in report.errors) == [
        (f"annotation #0 of image 1 ({image})", "has no 'bbox_mode', which detectron2's training "
                                                "(detection_utils.transform_instance_annotations) "
                                                "reads"),
        (f"annotation #0 of image 1 ({image})", "has no 'segmentation', which a mask model's "
                                                "training and mask evaluation (MODEL.MASK_ON) "
                                                "reads"),
        (f"annotation #1 of image 1 ({image})", "has no 'segmentation', which a mask model's "
                                                "training and mask evaluation (MODEL.MASK_ON) "
                                                "reads")]


def test_the_listing_command_runs_as_printed_for_paths_with_spaces(tmp_path):
    root = tmp_path / "my data"
    root.mkdir()
    json_file, image_root = write_dataset(root, good_coco())
    name = f"gn_det_listing_{uuid.uuid4().hex}"
    register_coco_instances(name, {}, json_file, image_root)
    command = listing_command(name, Use(evaluated=False, masks=True))
    assert shlex.split(command.strip("`")) == [
        "python", "tools/validate_dataset.py", "--json", json_file, "--image-root", image_root,
        "--train-only"]
