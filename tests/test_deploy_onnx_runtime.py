"""The standalone ONNX Runtime runner prepares images and reads outputs as detectron2 does:
its resize against detectron2's ResizeShortestEdge, its postprocessing and mask pasting against
detectron2's detector_postprocess (paste_masks_in_image)."""
import numpy as np
import pytest
import torch
from detectron2.data import transforms as T
from detectron2.modeling.postprocessing import detector_postprocess
from detectron2.structures import Boxes, Instances

from gn_det.deploy.onnx_runtime import model_input, postprocess


def _metadata(min_size, max_size, channel_order="BGR"):
    return {"input": {"channel_order": channel_order, "min_size": min_size, "max_size": max_size},
            "mask_threshold": 0.5}


@pytest.mark.parametrize("height,width,min_size,max_size", [
    (100, 150, 128, 192), (160, 96, 128, 192), (90, 600, 128, 333), (128, 128, 128, 128),
    (480, 640, 800, 1333), (333, 500, 200, 1000)])
def test_resize_is_detectron2_resize_shortest_edge(height, width, min_size, max_size):
    image = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    expected = T.ResizeShortestEdge([min_size, min_size], max_size).get_transform(image) \
        .apply_image(image)
    ours = model_input(image, _metadata(min_size, max_size))
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, expected.transpose(2, 0, 1).astype(np.float32))


def test_rgb_models_get_the_channels_reversed():
    image = np.random.default_rng(0).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    bgr, rgb = (model_input(image, _metadata(64, 80, order)) for order in ("BGR", "RGB"))
    np.testing.assert_array_equal(rgb, bgr[::-1])


def _raw_outputs(resized_h, resized_w, rng):
    boxes = np.array([[10.3, 12.7, 60.2, 50.9],   # inside
                      [-8.0, 30.0, 40.0, 90.5],    # past the left and bottom edges
                      [resized_w - 20.5, 5.2, resized_w + 30.0, 40.0],  # past the right edge
                      [resized_w + 5.0, 10.0, resized_w + 30.0, 20.0],  # outside: dropped
                      [30.0, 30.0, 33.4, 31.2]],   # small
                     dtype=np.float32)
    small = rng.random((len(boxes), 1, 7, 7)).astype(np.float32)
    masks = torch.nn.functional.interpolate(torch.from_numpy(small), size=(28, 28),
                                            mode="bilinear").numpy()
    return {"pred_boxes": boxes, "scores": rng.random(len(boxes)).astype(np.float32),
            "pred_classes": np.arange(len(boxes), dtype=np.int64), "pred_masks": masks,
            "image_size": np.array([resized_h, resized_w], dtype=np.int64)}


@pytest.mark.parametrize("height,width", [(100, 150), (160, 96), (90, 120)])
def test_postprocess_is_detectron2_detector_postprocess(height, width):
    rng = np.random.default_rng(1)
    outputs = _raw_outputs(80, 120, rng)
    # detector_postprocess scales the boxes in place: give it copies.
    instances = Instances((80, 120), pred_boxes=Boxes(torch.tensor(outputs["pred_boxes"])),
                          scores=torch.from_numpy(outputs["scores"]),
                          pred_classes=torch.from_numpy(outputs["pred_classes"]),
                          pred_masks=torch.from_numpy(outputs["pred_masks"]))
    expected = detector_postprocess(instances, height, width)
    ours = postprocess(outputs, height, width, _metadata(80, 120))
    np.testing.assert_array_equal(ours["classes"], expected.pred_classes.numpy())
    assert len(ours["classes"]) == 4  # the box outside the image is dropped
    np.testing.assert_allclose(ours["boxes"], expected.pred_boxes.tensor.numpy(), atol=1e-4)
    np.testing.assert_array_equal(ours["scores"], expected.scores.numpy())
    assert ours["masks"].shape == tuple(expected.pred_masks.shape)
    assert ours["masks"].sum() > 100
    differing = (ours["masks"] != expected.pred_masks.numpy()).sum()
    assert differing <= 0.001 * expected.pred_masks.sum().item(), differing
