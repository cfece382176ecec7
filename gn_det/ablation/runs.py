"""Training one run of the ablations, in whichever process runs it, and reading its result.

A run's folder is OUTPUT_DIR/runs/<name>, named after what it trains (:func:`run_name`); its
result.json is written last (as by a pretraining run; :func:`gn_det.pretraining.finished_result`
reads either kind), so a folder with one holds a finished run that is never trained
again. An interrupted detection run resumes from its last checkpoint (one per quarter of the
iterations), an interrupted pretraining run after its last finished epoch.
"""
import contextlib
import dataclasses
import glob
import json
import logging
import os
import time

import torch
from detectron2.data import DatasetCatalog, MetadataCatalog

from ..config import load_config
from ..data.shapes_classification import CLASSES, ClassificationSplit, generate_split
from ..engine import Trainer
from ..engine.atomic_checkpoint import write_atomically
from ..pretraining import SHAPES, WEIGHTS, finished_result, pretrain
from ..pretraining.training import RESULT
from .studies import ABLATION_CONFIG, Pretraining

# The loggers whose records go to a run's log.txt.
_LOGGERS = ("detectron2", "gn_det", "fvcore")


def detection_config(run, output_dir, weights=None, val_images=0):
    """The full config of detection ``run`` (its overrides, schedule, seed, folder, weights)."""
    overrides = list(run.overrides) + list(run.schedule_overrides()) + [
        "SEED", str(run.seed), "OUTPUT_DIR", output_dir, "DATALOADER.NUM_WORKERS", "0"]
    if weights:
        overrides += ["MODEL.WEIGHTS", weights]
    if val_images:
        overrides += ["DATASETS.TEST", f"('{register_val_subset(val_images)}',)"]
    return load_config(ABLATION_CONFIG, overrides)


def run_name(run):
    """What a run trains, as a folder name. Detection: the norm of the backbone, FPN, box head and
    mask head, the groups when a norm is GN, the frozen stages, the images seen, the backbone it
    starts from and the seed, e.g. res-GN_fpn-GN_box-GN_mask-GN_G8_freeze0_4800im_scratch_seed0."""
    if isinstance(run, Pretraining):
        return run.name
    cfg = detection_config(run, "")
    norms = {"res": cfg.MODEL.RESNETS.NORM, "fpn": cfg.MODEL.FPN.NORM,
             "box": cfg.MODEL.ROI_BOX_HEAD.NORM, "mask": cfg.MODEL.ROI_MASK_HEAD.NORM}
    parts = [f"{part}-{norm or 'none'}" for part, norm in norms.items()]
    if "GN" in norms.values():
        gn = cfg.MODEL.GN
        parts.append(f"G{gn.NUM_GROUPS}" if gn.NUM_GROUPS > 0
                     else f"{gn.DIM_PER_GROUP}ch-per-group")
    start = run.pretrained.name if run.pretrained else "scratch"
    return "_".join(parts + [f"freeze{cfg.MODEL.BACKBONE.FREEZE_AT}", f"{run.images}im", start,
                             f"seed{run.seed}"])


def register_val_subset(num_images, source="shapes_val"):
    """Register the first ``num_images`` of ``source`` as its own dataset."""
    name = f"{source}_first{num_images}"
    if name not in DatasetCatalog.list():
        DatasetCatalog.register(name, lambda: DatasetCatalog.get(source)[:num_images])
        MetadataCatalog.get(name).set(
            thing_classes=MetadataCatalog.get(source).thing_classes, evaluator_type="coco")
    return name


def quick_classification_set(output_dir):
    """A shapes classification set of 2 training and 1 validation image per class, 32 x 32, under
    ``output_dir`` (--quick's pretraining data); returns its folder."""
    root = os.path.join(output_dir, "classification")
    for split, per_class in (("train", 2), ("val", 1)):
        if not os.path.isfile(os.path.join(root, f"{split}.json")):
            generate_split(root, ClassificationSplit(split, per_class * len(CLASSES), seed=0,
                                                     image_size=32), progress=False)
    return root


@contextlib.contextmanager
def _log_to(path):
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("[%(asctime)s %(name)s]: %(message)s", "%m/%d %H:%M:%S"))
    saved = []
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        for logger, level in saved:
            logger.removeHandler(handler)
            logger.setLevel(level)
        handler.close()


def train_run(run, runs_dir, classification_data, val_images, threads=None):
    """Train (or resume) ``run`` in this process under ``runs_dir``; return its result."""
    if threads:
        torch.set_num_threads(threads)
    run_dir = os.path.join(runs_dir, run_name(run))
    finished = finished_result(run_dir)
    if finished:
        return finished
    os.makedirs(run_dir, exist_ok=True)
    start = time.perf_counter()
    with _log_to(os.path.join(run_dir, "log.txt")):
        if isinstance(run, Pretraining):
            cfg = load_config(ABLATION_CONFIG, list(run.config_overrides()))
            recipe = dataclasses.replace(SHAPES, epochs=run.epochs, seed=run.seed, lr=run.lr,
                                         lr_steps=run.lr_steps,
                                         images_per_batch=run.images_per_batch)
            return pretrain(cfg, classification_data, recipe, run_dir, resume=True,
                            log=logging.getLogger("gn_det").info)
        weights = None
        if run.pretrained:
            weights = os.path.join(runs_dir, run_name(run.pretrained), WEIGHTS)
        cfg = detection_config(run, run_dir, weights, val_images)
        with open(os.path.join(run_dir, "config.yaml"), "w") as f:
            f.write(cfg.dump())
        trainer = Trainer(cfg)
        trainer.resume_or_load(resume=True)
        metrics = trainer.train()
    result = {"box_ap": metrics["bbox"]["AP"], "mask_ap": metrics["segm"]["AP"],
              "seconds": time.perf_counter() - start, "iterations": cfg.SOLVER.MAX_ITER,
              "images": run.images, "seed": run.seed, "weights": weights or "scratch"}
    write_atomically(os.path.join(run_dir, RESULT),
                     lambda f: f.write(json.dumps(result, indent=1).encode("utf-8")))
    # The periodic checkpoints only serve resuming; model_final.pth stays.
    for path in glob.glob(os.path.join(run_dir, "model_0*.pth")):
        os.remove(path)
    return result
