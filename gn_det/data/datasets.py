"""The shapes splits in detectron2's DatasetCatalog and MetadataCatalog, and dataset checks.

Registration is cheap: a split is generated the first time it is used (``DatasetCatalog.get``,
:func:`ensure_shapes_split` or :func:`check_dataset_available`), into :func:`shapes_dir`.
"""
import difflib
import json
import os
from dataclasses import dataclass

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.datasets import load_coco_json

from ..errors import DatasetError
from .shapes import CATEGORIES, dataset_info, generate_shapes, json_path


@dataclass(frozen=True)
class ShapesSplit:
    """What a registered shapes split is generated from."""

    split: str
    num_images: int
    seed: int
    image_size: int = 128


# Different splits and seeds: the per-image random streams of train and val never coincide.
SHAPES_SPLITS = {
    "shapes_train": ShapesSplit("train", num_images=1200, seed=0),
    "shapes_val": ShapesSplit("val", num_images=200, seed=1),
}

DATASETS_README = "datasets/README.md"


def shapes_dir():
    """Cache directory of the shapes splits: $GN_DET_SHAPES_DIR, else
    $DETECTRON2_DATASETS/shapes (detectron2's default root: ./datasets). Read at each use."""
    if os.environ.get("GN_DET_SHAPES_DIR"):
        return os.environ["GN_DET_SHAPES_DIR"]
    return os.path.join(os.environ.get("DETECTRON2_DATASETS", "datasets"), "shapes")


def _paths(name):
    split = SHAPES_SPLITS[name].split
    return json_path(shapes_dir(), split), os.path.join(shapes_dir(), split)


def _is_current(path, spec):
    """True when ``path`` holds the split ``spec`` describes, from this generator version."""
    if not os.path.exists(path):
        return False
    with open(path) as f:
        info = json.load(f).get("info", {})
    return info == dataset_info(spec.split, spec.num_images, spec.seed, spec.image_size)


def _set_metadata(name, json_file, image_root):
    """Point the metadata of ``name`` at ``json_file`` and ``image_root``.

    detectron2 refuses to change a metadata value, so when the cache directory changed since the
    last call (e.g. GN_DET_SHAPES_DIR was set later), the entry is rebuilt with the other keys kept.
    """
    metadata = MetadataCatalog.get(name)
    if (metadata.get("json_file"), metadata.get("image_root")) == (json_file, image_root):
        return
    kept = {key: value for key, value in metadata.as_dict().items()
            if key not in ("name", "json_file", "image_root")}
    MetadataCatalog.remove(name)
    MetadataCatalog.get(name).set(json_file=json_file, image_root=image_root, **kept)


def ensure_shapes_split(name, force=False):
    """Generate shapes split ``name`` unless the cache already holds it (or ``force``), point its
    metadata at the files, and return its JSON path."""
    if name not in SHAPES_SPLITS:
        raise DatasetError(f"'{name}' is not a shapes split; shapes splits: "
                           f"{', '.join(SHAPES_SPLITS)}")
    spec = SHAPES_SPLITS[name]
    json_file, image_root = _paths(name)
    if force or not _is_current(json_file, spec):
        generate_shapes(shapes_dir(), spec.split, spec.num_images, spec.seed, spec.image_size)
    _set_metadata(name, json_file, image_root)
    return json_file


def load_shapes_split(name):
    """detectron2 dataset dicts of shapes split ``name``, generated first if needed."""
    json_file = ensure_shapes_split(name)
    return load_coco_json(json_file, MetadataCatalog.get(name).image_root, name)


def register_shapes_datasets():
    """Register the shapes splits with detectron2. Calling it again does nothing."""
    for name in SHAPES_SPLITS:
        if name in DatasetCatalog.list():
            continue
        # Bind the name now: a lambda would see the loop variable's last value.
        DatasetCatalog.register(name, lambda name=name: load_shapes_split(name))
        json_file, image_root = _paths(name)
        MetadataCatalog.get(name).set(
            thing_classes=list(CATEGORIES),
            thing_dataset_id_to_contiguous_id={i + 1: i for i in range(len(CATEGORIES))},
            json_file=json_file,
            image_root=image_root,
            evaluator_type="coco",
        )


def _closest_name_hint(name):
    closest = difflib.get_close_matches(name, DatasetCatalog.list(), n=1)
    if closest:
        return f"Did you mean '{closest[0]}'?"
    return (f"No registered dataset has a similar name: register yours (e.g. with detectron2's "
            f"register_coco_instances) in the process that uses it; see {DATASETS_README}.")


def check_dataset_available(name):
    """Make sure dataset ``name`` can be used: generate shapes splits, and check that the files
    of other datasets exist.

    Raises DatasetError (a ValueError) for an unregistered name and FileNotFoundError for missing
    annotation or image files.
    """
    if name not in DatasetCatalog.list():
        raise DatasetError(f"Dataset '{name}' is not registered. {_closest_name_hint(name)}")
    if name in SHAPES_SPLITS:
        ensure_shapes_split(name)
        return
    metadata = MetadataCatalog.get(name)
    for key in ("json_file", "image_root"):
        path = metadata.get(key)
        if path and not os.path.exists(path):
            root = os.environ.get("DETECTRON2_DATASETS")
            where = f"$DETECTRON2_DATASETS={root}" if root else "$DETECTRON2_DATASETS is unset"
            raise FileNotFoundError(
                f"Dataset '{name}': {key} '{os.path.abspath(path)}' does not exist "
                f"({where}; detectron2 looks for its built-in datasets under "
                f"$DETECTRON2_DATASETS, default ./datasets, read when detectron2 is imported). "
                f"See {DATASETS_README} for the expected layout and how to download it."
            )
