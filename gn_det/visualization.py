"""Pictures of a model's work: predictions next to ground truth, and training curves."""
import json
import os

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from detectron2.data import DatasetCatalog, MetadataCatalog  # noqa: E402
from detectron2.data.detection_utils import read_image  # noqa: E402
from detectron2.utils.visualizer import Visualizer  # noqa: E402


def draw_prediction_and_ground_truth(image_rgb, record, instances, metadata, scale=1.0):
    """One RGB picture: ground truth on the left, predictions on the right, enlarged by ``scale``."""
    ground_truth = Visualizer(image_rgb, metadata, scale=scale).draw_dataset_dict(record)
    predicted = Visualizer(image_rgb, metadata, scale=scale).draw_instance_predictions(instances)
    ground_truth, predicted = ground_truth.get_image(), predicted.get_image()
    gap = np.full((ground_truth.shape[0], 8, 3), 255, dtype=np.uint8)
    return np.concatenate([ground_truth, gap, predicted], axis=1)


def save_prediction_pictures(predictor, dataset_name, output_dir, num_images=4, min_score=0.5,
                             min_side=512):
    """Run ``predictor`` (a detectron2 DefaultPredictor) on the first images of a registered
    dataset and write ``<output_dir>/<image name>.png``, ground truth left, predictions right.
    Small images are enlarged to ``min_side`` pixels so labels stay readable."""
    os.makedirs(output_dir, exist_ok=True)
    metadata = MetadataCatalog.get(dataset_name)
    paths = []
    for record in DatasetCatalog.get(dataset_name)[:num_images]:
        image_bgr = read_image(record["file_name"], format="BGR")
        instances = predictor(image_bgr)["instances"].to("cpu")
        instances = instances[instances.scores >= min_score]
        scale = max(1.0, min_side / min(image_bgr.shape[:2]))
        picture = draw_prediction_and_ground_truth(image_bgr[:, :, ::-1], record, instances,
                                                   metadata, scale)
        name = os.path.splitext(os.path.basename(record["file_name"]))[0] + ".png"
        path = os.path.join(output_dir, name)
        cv2.imwrite(path, picture[:, :, ::-1])
        paths.append(path)
    return paths


def read_metrics(run_dir):
    """The records of ``<run_dir>/metrics.json`` (one JSON object per line, detectron2's format)."""
    with open(os.path.join(run_dir, "metrics.json")) as f:
        return [json.loads(line) for line in f if line.strip()]


def _series(records, key):
    points = [(r["iteration"], r[key]) for r in records if key in r]
    return [p[0] for p in points], [p[1] for p in points]


def plot_training_curves(run_dirs, output_path, labels=None):
    """Loss (left) and box/mask AP (right) against iteration for one or several runs."""
    labels = labels or [os.path.basename(os.path.normpath(d)) for d in run_dirs]
    figure, (loss_axis, ap_axis) = plt.subplots(1, 2, figsize=(11, 4))
    for run_dir, label in zip(run_dirs, labels):
        records = read_metrics(run_dir)
        loss_axis.plot(*_series(records, "total_loss"), label=label)
        for key, style in (("bbox/AP", "-o"), ("segm/AP", "--s")):
            iterations, values = _series(records, key)
            if iterations:
                ap_axis.plot(iterations, values, style, label=f"{label} {key.split('/')[0]} AP")
    loss_axis.set(xlabel="iteration", ylabel="total loss", title="training loss", yscale="log")
    ap_axis.set(xlabel="iteration", ylabel="AP", title="COCO AP (pycocotools)")
    for axis in (loss_axis, ap_axis):
        axis.grid(alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=8)
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(output_path)), exist_ok=True)
    figure.savefig(output_path, dpi=100)
    plt.close(figure)
    return output_path
