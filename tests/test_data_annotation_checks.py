"""The rules for one annotation: skips, errors, and what training keeps of it."""
import numpy as np
import pycocotools.mask as mask_util
import pytest

from gn_det.data.annotation_checks import (
    check_annotation,
    compressed_rle_counts,
    usable_annotations,
)
from test_data_validation import HEIGHT, SQUARE, WIDTH, rle_of_box


def test_compressed_rle_counts_decode_like_pycocotools():
    rle = rle_of_box()
    pixels = mask_util.decode(rle).ravel(order="F")  # RLE runs go down the columns
    boundaries = [0, *(np.flatnonzero(np.diff(pixels)) + 1), pixels.size]
    assert pixels[0] == 0 and compressed_rle_counts(rle["counts"]) == np.diff(boundaries).tolist()


@pytest.mark.parametrize("counts", ["", "\x7f", "PP"])
def test_rle_counts_that_do_not_fill_the_mask_are_malformed(counts):
    annotation = {"bbox": [1, 1, 4, 4], "segmentation": {"size": [HEIGHT, WIDTH], "counts": counts}}
    assert [kind for kind, _ in check_annotation(annotation, WIDTH, HEIGHT)[0]] == [
        "malformed_mask"]


def test_training_keeps_the_good_polygons_of_an_annotation_and_its_box_mode():
    record = {"width": WIDTH, "height": HEIGHT, "annotations": [
        {"bbox": [5, 5, 15, 15], "bbox_mode": 0, "segmentation": SQUARE + [[1, 1, 2, 2]]},
        {"bbox": [5, 5, 5, 9], "bbox_mode": 0},  # XYXY_ABS: no width
        {"bbox": [1, 1, 3, 3], "bbox_mode": 1, "segmentation": rle_of_box()},
    ]}
    kept = usable_annotations(record)["annotations"]
    assert kept == [{"bbox": [5, 5, 15, 15], "bbox_mode": 0, "segmentation": SQUARE},
                    record["annotations"][2]]
    assert len(record["annotations"]) == 3  # the dataset's own dicts are left as they were
