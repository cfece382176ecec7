"""Datasets: the synthetic shapes set (generated on first use) and checks that a dataset is usable.

Importing this package registers "shapes_train" and "shapes_val" with detectron2; nothing is
generated until a split is used. The shapes classification set, the pretraining proxy
(:mod:`.shapes_classification`), is an ImageFolder for torchvision, not a detectron2 dataset.
"""
from .datasets import (
    SHAPES_SPLITS,
    check_dataset_available,
    ensure_shapes_split,
    register_shapes_datasets,
    shapes_dir,
)
from .register_coco import check_categories, dataset_categories, register_coco_datasets
from .shapes import CATEGORIES, PALETTE, generate_shapes, render_image

register_shapes_datasets()

__all__ = [
    "CATEGORIES",
    "PALETTE",
    "SHAPES_SPLITS",
    "check_categories",
    "check_dataset_available",
    "dataset_categories",
    "ensure_shapes_split",
    "generate_shapes",
    "register_coco_datasets",
    "register_shapes_datasets",
    "render_image",
    "shapes_dir",
]
