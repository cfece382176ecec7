"""``gn_det.deploy.load(path)``: an exported model as a callable, image in, detectron2 Instances out.

Both formats take an HxWx3 uint8 BGR image (as ``cv2.imread`` returns it) and return the
detections at the image's size, as detectron2's DefaultPredictor does: ``pred_boxes``, ``scores``,
``pred_classes`` and, for a mask model, ``pred_masks`` (bool, one HxW mask per detection). The
image is prepared by :func:`gn_det.deploy.onnx_runtime.model_input` (detectron2's test resize).
TorchScript models are scaled back and their masks pasted by detectron2's ``detector_postprocess``;
ONNX models by :mod:`gn_det.deploy.onnx_runtime`, which needs neither torch nor detectron2.
"""
import os

import torch
from detectron2.modeling.postprocessing import detector_postprocess
from detectron2.structures import Boxes, Instances

from .export import MODEL_FILES, DeployError
from .onnx_runtime import METADATA_FILE, OnnxDetector, model_input, read_metadata

INSTALL_ONNXRUNTIME = "pip install 'gn_det[deploy]' (or: pip install onnxruntime)"


def _model_path(path):
    # ``path`` is the export folder or the model file in it.
    if os.path.isdir(path):
        found = [os.path.join(path, name) for name in MODEL_FILES.values()
                 if os.path.isfile(os.path.join(path, name))]
        if len(found) != 1:
            raise DeployError(f"{path} holds no exported model ({' or '.join(MODEL_FILES.values())}"
                              f" with {METADATA_FILE}): export one with tools/export_model.py.")
        path = found[0]
    if not os.path.isfile(path):
        raise DeployError(f"No exported model at {path}: export one with tools/export_model.py.")
    if not os.path.isfile(os.path.join(os.path.dirname(os.path.abspath(path)), METADATA_FILE)):
        raise DeployError(f"{path} has no {METADATA_FILE} beside it: keep the files that "
                          "tools/export_model.py wrote together.")
    return path


class TorchScriptPredictor:
    """An exported ``model.ts`` (needs torch and torchvision only)."""

    def __init__(self, path):
        import torchvision  # noqa: F401  (registers torchvision::nms and roi_align for the graph)

        self.metadata = read_metadata(path)
        self.model = torch.jit.load(path, map_location="cpu")

    def __call__(self, image_bgr):
        image = torch.from_numpy(model_input(image_bgr, self.metadata))
        with torch.no_grad():
            outputs = dict(zip(self.metadata["outputs"], self.model(image)))
        resized = tuple(int(v) for v in outputs.pop("image_size"))
        fields = {name: Boxes(value) if name == "pred_boxes" else value
                  for name, value in outputs.items()}
        return detector_postprocess(Instances(resized, **fields), *image_bgr.shape[:2],
                                    self.metadata["mask_threshold"])


class OnnxPredictor:
    """An exported ``model.onnx`` run by ONNX Runtime (on the CPU)."""

    def __init__(self, path, threads=None):
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            raise DeployError(f"{path} needs onnxruntime, which is not installed: "
                              f"{INSTALL_ONNXRUNTIME}.") from None
        self.detector = OnnxDetector(path, threads)
        self.metadata = self.detector.metadata

    def __call__(self, image_bgr):
        detections = self.detector(image_bgr)
        fields = {"pred_boxes": Boxes(torch.from_numpy(detections["boxes"])),
                  "scores": torch.from_numpy(detections["scores"]),
                  "pred_classes": torch.from_numpy(detections["classes"])}
        if "masks" in detections:
            fields["pred_masks"] = torch.from_numpy(detections["masks"])
        return Instances(image_bgr.shape[:2], **fields)


def load(path, threads=None):
    """The model that tools/export_model.py exported to ``path`` (its folder or model file) as a
    callable: HxWx3 uint8 BGR image -> detectron2 ``Instances`` at the image's size.
    ``threads``: ONNX Runtime's intra-op threads (default: its own)."""
    path = _model_path(path)
    if path.endswith(MODEL_FILES["onnx"]):
        return OnnxPredictor(path, threads)
    return TorchScriptPredictor(path)
