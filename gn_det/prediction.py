"""Run a trained model on image files: one picture per image and one COCO results JSON.

:func:`list_inputs` turns files, folders and glob patterns into the list of files;
:func:`predict_files` reads them (a file that is not a readable image is named and skipped),
runs the model on batches of images, draws each image's predictions with the class names of the
training set (``DATASETS.TRAIN[0]``) and writes ``predictions.json``: COCO results (``image_id``,
``category_id`` in the training set's own ids, ``bbox`` XYWH, ``score``, ``segmentation`` RLE)
with each image's ``file_name``.
"""
import glob
import json
import os
import sys
from dataclasses import dataclass, field

import cv2
import torch
from detectron2.data import MetadataCatalog
from detectron2.data import transforms as T
from detectron2.data.detection_utils import read_image
from detectron2.evaluation.coco_evaluation import instances_to_coco_json
from detectron2.utils.visualizer import Visualizer
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from .config import get_cfg
from .data import check_categories, dataset_categories
from .errors import ConfigError

# Files a folder given as input contributes; files named one by one are tried whatever their name.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
RESULTS_FILE = "predictions.json"
# Pictures of smaller images are enlarged to this many pixels on their short side, so that the
# class labels stay readable.
MIN_PICTURE_SIDE = 512
# What reading a file that is not a (complete) image raises besides UnidentifiedImageError:
# truncated files raise OSError, some broken PNGs SyntaxError.
_UNREADABLE = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def default_batch_size(device):
    """Images per forward pass: batching helps on a GPU; on a CPU it was measured not to (README)."""
    return 4 if str(device).startswith("cuda") else 1


def split_inputs_and_overrides(tokens):
    """``--input``'s tokens up to the first config key (``nargs="+"`` also takes the KEY VALUE
    overrides that follow it), and the rest. A config key is a name whose part before the first
    dot is a top-level key of detectron2's config (MODEL.WEIGHTS, OUTPUT_DIR, ...)."""
    top_level = set(get_cfg().keys())
    for index, token in enumerate(tokens):
        if token.split(".")[0] in top_level:
            return tokens[:index], tokens[index:]
    return tokens, []


def _files_of(entry):
    if os.path.isdir(entry):
        return sorted(os.path.join(entry, name) for name in os.listdir(entry)
                      if name.lower().endswith(IMAGE_EXTENSIONS)
                      and os.path.isfile(os.path.join(entry, name)))
    if any(char in entry for char in "*?["):
        return sorted(path for path in glob.glob(entry) if os.path.isfile(path))
    return [entry] if os.path.isfile(entry) else []


def list_inputs(inputs):
    """The files of ``inputs`` (files, folders, glob patterns) in order, each once. Raises
    ConfigError for an input that gives no file and for two files of the same name, whose
    pictures would overwrite each other."""
    files = {}
    for entry in inputs:
        found = _files_of(entry)
        if not found:
            raise ConfigError(f"--input {entry}: no such file, no image file "
                              f"({', '.join(IMAGE_EXTENSIONS)}) in that folder, or no match.")
        files.update((os.path.abspath(path), path) for path in found)
    by_name = {}
    for path in files.values():
        other = by_name.setdefault(os.path.basename(path), path)
        if other != path:
            raise ConfigError(f"--input gives two files named {os.path.basename(path)} ({other} "
                              f"and {path}): their pictures would overwrite each other; predict "
                              f"them into separate --output folders.")
    return list(files.values())


class _ImageFiles(torch.utils.data.Dataset):
    """Each file read as detectron2's DefaultPredictor reads it, or the reason it cannot be."""

    def __init__(self, paths, cfg):
        self.paths = paths
        self.input_format = cfg.INPUT.FORMAT
        self.resize = T.ResizeShortestEdge([cfg.INPUT.MIN_SIZE_TEST] * 2, cfg.INPUT.MAX_SIZE_TEST)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        path = self.paths[index]
        try:
            image_bgr = read_image(path, format="BGR")
        except UnidentifiedImageError:
            return {"index": index, "path": path, "error": "not an image format Pillow reads"}
        except _UNREADABLE as error:
            return {"index": index, "path": path, "error": str(error) or type(error).__name__}
        image = image_bgr[:, :, ::-1] if self.input_format == "RGB" else image_bgr
        resized = self.resize.get_transform(image).apply_image(image)
        return {"index": index, "path": path, "image_bgr": image_bgr,
                "height": image.shape[0], "width": image.shape[1],
                "image": torch.as_tensor(resized.astype("float32").transpose(2, 0, 1))}


def training_metadata(cfg):
    """The metadata of ``DATASETS.TRAIN[0]``, whose class names and ids predictions use."""
    if not cfg.DATASETS.TRAIN:
        raise ConfigError("DATASETS.TRAIN is empty: the class names and ids of the predictions "
                          "are those of the training set; give the config the model was "
                          "trained with (its OUTPUT_DIR/config.yaml).")
    check_categories(cfg)
    name = cfg.DATASETS.TRAIN[0]
    if dataset_categories(name) is None:
        raise ConfigError(f"Dataset '{name}' (DATASETS.TRAIN[0]) names no classes; register it "
                          f"with DATASETS.REGISTER_COCO or set its metadata's thing_classes.")
    return MetadataCatalog.get(name)


def draw_predictions(image_bgr, instances, metadata):
    """BGR picture of ``instances`` on the image, enlarged to MIN_PICTURE_SIDE when smaller."""
    scale = max(1.0, MIN_PICTURE_SIDE / min(image_bgr.shape[:2]))
    visualizer = Visualizer(image_bgr[:, :, ::-1], metadata, scale=scale)
    return visualizer.draw_instance_predictions(instances).get_image()[:, :, ::-1]


def coco_results(instances, image_id, file_name, metadata):
    """COCO results of one image, with the dataset's own category ids and the file name."""
    id_map = metadata.get("thing_dataset_id_to_contiguous_id") or {
        i: i for i in range(len(metadata.thing_classes))}
    dataset_id = {index: dataset_id for dataset_id, index in id_map.items()}
    results = instances_to_coco_json(instances, image_id)
    for result in results:
        result["category_id"] = dataset_id[result["category_id"]]
        result["file_name"] = file_name
    return results


def _picture_path(output_dir, path):
    name = os.path.basename(path)
    if not name.lower().endswith(IMAGE_EXTENSIONS):
        name += ".png"
    return os.path.join(output_dir, name)


def _write_json_atomically(path, data):
    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, "w") as f:
        json.dump(data, f)
    os.replace(temporary, path)


@dataclass
class PredictionRun:
    """What :func:`predict_files` did."""

    num_files: int
    results_file: str
    num_detections: int = 0
    skipped: list = field(default_factory=list)


def predict_files(cfg, model, metadata, paths, output_dir, batch_size=1, num_workers=0,
                  progress=True):
    """Predict ``paths`` with ``model`` (:func:`gn_det.engine.trained_model.load_trained_model`)
    in batches of ``batch_size``
    images; write the pictures, with the classes of ``metadata`` (:func:`training_metadata`), and
    ``<output_dir>/predictions.json``. Files that are not readable images are named on stderr and
    skipped. Returns a :class:`PredictionRun`."""
    os.makedirs(output_dir, exist_ok=True)
    loader = torch.utils.data.DataLoader(_ImageFiles(paths, cfg), batch_size=batch_size,
                                         num_workers=num_workers, collate_fn=list)
    run = PredictionRun(len(paths), os.path.join(output_dir, RESULTS_FILE))
    results = []
    with tqdm(total=len(paths), unit="img", desc="Predicting", disable=not progress) as bar:
        for batch in loader:
            for item in batch:
                if "error" in item:
                    run.skipped.append(item["path"])
                    tqdm.write(f"gn_det: warning: skipped {item['path']}: {item['error']}",
                               file=sys.stderr)
            images = [item for item in batch if "error" not in item]
            if images:
                with torch.no_grad():
                    outputs = model([{key: item[key] for key in ("image", "height", "width")}
                                     for item in images])
                for item, output in zip(images, outputs):
                    instances = output["instances"].to("cpu")
                    cv2.imwrite(_picture_path(output_dir, item["path"]),
                                draw_predictions(item["image_bgr"], instances, metadata))
                    results += coco_results(instances, item["index"] + 1, item["path"], metadata)
            bar.update(len(batch))
    _write_json_atomically(run.results_file, results)
    run.num_detections = len(results)
    return run
