"""Run an exported gn_det ONNX model with numpy, Pillow and onnxruntime only (no torch, no detectron2).

This file imports nothing from gn_det, torch or detectron2, so a program can copy it as it is:

    python onnx_runtime.py EXPORT_DIR/model.onnx image.jpg

or ``OnnxDetector("EXPORT_DIR/model.onnx")(image_bgr)`` for an HxWx3 uint8 BGR image (as
``cv2.imread`` returns it). It does what detectron2's DefaultPredictor does around the model: the
image in the model's channel order, resized as ``ResizeShortestEdge`` resizes it (Pillow bilinear,
the new size rounded as detectron2 rounds it), then the detections scaled back to the image, clipped,
empty boxes dropped and the 28x28 mask probabilities pasted into the image
(``detector_postprocess`` and ``paste_masks_in_image``: bilinear sampling at pixel centres,
threshold 0.5). The settings come from the JSON file beside the model (``model.json``).
"""
import json
import os
import sys

import numpy as np
from PIL import Image

# The JSON file that gn_det's export writes beside the model file.
METADATA_FILE = "model.json"


def read_metadata(model_path):
    """The export's settings, from ``model.json`` in the model file's folder."""
    with open(os.path.join(os.path.dirname(os.path.abspath(model_path)), METADATA_FILE)) as f:
        return json.load(f)


def resized_shape(height, width, min_size, max_size):
    """The (height, width) ``ResizeShortestEdge(min_size, max_size)`` gives an image."""
    scale = min_size / min(height, width)
    new_h, new_w = (min_size, scale * width) if height < width else (scale * height, min_size)
    if max(new_h, new_w) > max_size:
        scale = max_size / max(new_h, new_w)
        new_h, new_w = new_h * scale, new_w * scale
    return int(new_h + 0.5), int(new_w + 0.5)


def model_input(image_bgr, metadata):
    """The model's input for an HxWx3 uint8 BGR image: CHW float32 in the model's channel order,
    resized as detectron2's DefaultPredictor resizes it."""
    settings = metadata["input"]
    image = image_bgr[:, :, ::-1] if settings["channel_order"] == "RGB" else image_bgr
    height, width = image.shape[:2]
    if settings["min_size"] > 0:
        new_h, new_w = resized_shape(height, width, settings["min_size"], settings["max_size"])
        image = np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize(
            (new_w, new_h), Image.BILINEAR))
    return np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32)


def _interpolation_matrix(start, stop, low, high, size):
    # Rows: pixels start..stop-1 of the image; columns: the mask's ``size`` cells. Bilinear weights
    # of torch.nn.functional.grid_sample(align_corners=False, zero padding) at pixel centres, the
    # sampling detectron2's _do_paste_mask does across the box [low, high].
    centres = np.arange(start, stop, dtype=np.float32) + np.float32(0.5)
    normalized = (centres - low) / (high - low) * np.float32(2) - np.float32(1)
    position = ((normalized + np.float32(1)) * np.float32(size) - np.float32(1)) / np.float32(2)
    left = np.floor(position)
    fraction = position - left
    matrix = np.zeros((stop - start, size), dtype=np.float32)
    rows = np.arange(stop - start)
    for cell, weight in ((left, np.float32(1) - fraction), (left + 1, fraction)):
        inside = (cell >= 0) & (cell < size)
        matrix[rows[inside], cell[inside].astype(np.int64)] += weight[inside]
    return matrix


def paste_masks(mask_probabilities, boxes, height, width, threshold=0.5):
    """N x height x width bool masks: each MxM probability map pasted into its box, as detectron2's
    ``paste_masks_in_image`` does on the CPU."""
    masks = np.zeros((len(boxes), height, width), dtype=bool)
    for index, (mask, box) in enumerate(zip(mask_probabilities, boxes)):
        x0, y0, x1, y1 = (np.float32(value) for value in box)
        # The region detectron2 samples (the box, one pixel more); outside it the mask is 0.
        left, top = (max(int(np.floor(v)) - 1, 0) for v in (x0, y0))
        right, bottom = min(int(np.ceil(x1)) + 1, width), min(int(np.ceil(y1)) + 1, height)
        if right <= left or bottom <= top:
            continue
        rows = _interpolation_matrix(top, bottom, y0, y1, mask.shape[0])
        columns = _interpolation_matrix(left, right, x0, x1, mask.shape[1])
        masks[index, top:bottom, left:right] = rows @ mask @ columns.T >= threshold
    return masks


def postprocess(outputs, height, width, metadata):
    """The model's outputs (a dict by output name) as detections on the height x width image:
    ``boxes`` (N x 4 XYXY), ``scores``, ``classes`` and, for a mask model, ``masks`` (N x H x W)."""
    resized_h, resized_w = (float(v) for v in outputs["image_size"])
    boxes = outputs["pred_boxes"].astype(np.float32)
    boxes[:, 0::2] *= np.float32(width / resized_w)
    boxes[:, 1::2] *= np.float32(height / resized_h)
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
    keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    detections = {"boxes": boxes[keep], "scores": outputs["scores"][keep],
                  "classes": outputs["pred_classes"][keep]}
    if "pred_masks" in outputs:
        detections["masks"] = paste_masks(outputs["pred_masks"][keep, 0], detections["boxes"],
                                          height, width, metadata["mask_threshold"])
    return detections


class OnnxDetector:
    """``OnnxDetector(model_path)(image_bgr)`` -> detections (see :func:`postprocess`)."""

    def __init__(self, model_path, threads=None):
        import onnxruntime

        self.metadata = read_metadata(model_path)
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(model_path, options,
                                                    providers=["CPUExecutionProvider"])
        self.class_names = self.metadata["class_names"]

    def run_model(self, image_bgr):
        """The model's raw outputs for the image, by name."""
        values = self.session.run(None, {"image": model_input(image_bgr, self.metadata)})
        return dict(zip(self.metadata["outputs"], values))

    def __call__(self, image_bgr):
        height, width = image_bgr.shape[:2]
        return postprocess(self.run_model(image_bgr), height, width, self.metadata)


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: onnx_runtime.py MODEL.onnx IMAGE")
    detector = OnnxDetector(argv[0])
    image_bgr = np.asarray(Image.open(argv[1]).convert("RGB"))[:, :, ::-1]
    detections = detector(image_bgr)
    for box, score, label in zip(detections["boxes"], detections["scores"],
                                 detections["classes"]):
        print(f"{detector.class_names[label]} {score:.3f} "
              f"[{', '.join(f'{v:.1f}' for v in box)}]")


if __name__ == "__main__":
    main(sys.argv[1:])
