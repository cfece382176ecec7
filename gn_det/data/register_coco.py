"""The user's own COCO-format datasets, registered from the config (``DATASETS.REGISTER_COCO``),
and the checks that the model's classes fit the run's datasets.

``DATASETS.REGISTER_COCO`` is a list of ``[name, json file, image root]`` triples.
:func:`register_coco_datasets` (called by :func:`gn_det.config.load_config`, so in every tool and
every process of a multi-process run) registers each with detectron2's ``register_coco_instances``
and rewrites the paths as absolute ones, so that the ``config.yaml`` a run saves works from any
working directory. Category ids need not be 1..K: detectron2 maps them to class indices with the
``thing_dataset_id_to_contiguous_id`` metadata (set here from the file's ``categories``), and its
COCO evaluator maps them back, so results use the file's own ids and names.

:func:`check_categories` (before training, evaluation or prediction) compares
``MODEL.ROI_HEADS.NUM_CLASSES`` with the training set and the categories of all the run's datasets
with each other.
"""
import json
import os

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.datasets import register_coco_instances

from ..errors import ConfigError, DatasetError

KEY = "DATASETS.REGISTER_COCO"


def _entries(cfg):
    """The triples of DATASETS.REGISTER_COCO, checked for shape."""
    entries = cfg.DATASETS.REGISTER_COCO
    for index, entry in enumerate(entries):
        if not (isinstance(entry, (list, tuple)) and len(entry) == 3
                and all(isinstance(part, str) and part for part in entry)):
            raise ConfigError(
                f"{KEY} entry #{index} is {entry!r}; each entry is [name, json file, image root], "
                f"e.g. {KEY} \"[['mine_train','train.json','images']]\".")
    return entries


def _absolute_paths(name, json_file, image_root):
    json_file, image_root = os.path.abspath(json_file), os.path.abspath(image_root)
    where = f"(relative paths are read from the working directory, {os.getcwd()})"
    if not os.path.isfile(json_file):
        raise DatasetError(f"{KEY}: the json file of '{name}', {json_file}, does not exist {where}.")
    if not os.path.isdir(image_root):
        raise DatasetError(f"{KEY}: the image root of '{name}', {image_root}, is not a folder "
                           f"{where}.")
    return json_file, image_root


def read_categories(json_file):
    """``{category id: name}`` of a COCO file's ``categories`` list."""
    try:
        with open(json_file, encoding="utf-8") as f:
            categories = json.load(f).get("categories")
        return {category["id"]: category["name"] for category in categories}
    except (ValueError, AttributeError, TypeError, KeyError):
        # Malformed files are named, with every problem, by the dataset validation.
        return None


def _category_metadata(json_file):
    """The metadata detectron2's ``load_coco_json`` sets from the file (the same values: it
    refuses to change them), set at registration so that tools need not load the dataset."""
    categories = read_categories(json_file)
    if not categories:
        return {}
    ids = sorted(categories)
    return {"thing_classes": [categories[i] for i in ids],
            "thing_dataset_id_to_contiguous_id": {i: index for index, i in enumerate(ids)}}


def _check_same_files(name, json_file, image_root):
    metadata = MetadataCatalog.get(name)
    registered = [metadata.get(key) for key in ("json_file", "image_root")]
    registered = [os.path.abspath(path) if path else path for path in registered]
    if registered != [json_file, image_root]:
        raise DatasetError(
            f"{KEY}: dataset name '{name}' is already registered with json file {registered[0]} "
            f"and image root {registered[1]}, not {json_file} and {image_root}; choose another "
            f"name.")


def register_coco_datasets(cfg):
    """Register the datasets of ``cfg.DATASETS.REGISTER_COCO`` (a name registered before with the
    same files is left as it is) and make their paths absolute in ``cfg`` (not frozen)."""
    resolved = []
    for name, json_file, image_root in _entries(cfg):
        json_file, image_root = _absolute_paths(name, json_file, image_root)
        if name in DatasetCatalog.list():
            _check_same_files(name, json_file, image_root)
        else:
            register_coco_instances(name, _category_metadata(json_file), json_file, image_root)
        resolved.append([name, json_file, image_root])
    cfg.DATASETS.REGISTER_COCO = resolved


def dataset_categories(name):
    """``{category id: name}`` of registered dataset ``name`` from its metadata (class index when
    the dataset has no id mapping), or None when its metadata names no classes."""
    metadata = MetadataCatalog.get(name)
    classes = metadata.get("thing_classes")
    if classes is None:
        return None
    id_map = metadata.get("thing_dataset_id_to_contiguous_id") or {i: i for i in range(len(classes))}
    return {dataset_id: classes[index] for dataset_id, index in id_map.items()}


def _source(name):
    json_file = MetadataCatalog.get(name).get("json_file")
    return f"'{name}' ({json_file})" if json_file else f"'{name}'"


def _check_same_categories(reference, name, categories, reference_categories):
    for category_id in sorted(set(categories) & set(reference_categories)):
        if categories[category_id] != reference_categories[category_id]:
            raise ConfigError(
                f"Category id {category_id} is '{reference_categories[category_id]}' in "
                f"{_source(reference)} but '{categories[category_id]}' in {_source(name)}: give "
                f"both files the same 'categories' list.")
    if set(categories) != set(reference_categories):
        raise ConfigError(
            f"{_source(name)} has category ids {sorted(categories)} but {_source(reference)} "
            f"has {sorted(reference_categories)}: the model's classes are those of "
            f"DATASETS.TRAIN; give every dataset of the run the same 'categories' list.")


def check_categories(cfg):
    """Raise ConfigError when ``MODEL.ROI_HEADS.NUM_CLASSES`` differs from the number of categories
    of the first training set, or when the run's datasets (DATASETS.TRAIN and TEST) do not have
    the same categories (an id with two names, or other ids). Datasets whose metadata names no
    classes are not checked."""
    known = {name: dataset_categories(name) for name in cfg.DATASETS.TRAIN + cfg.DATASETS.TEST
             if name in DatasetCatalog.list()}
    known = {name: categories for name, categories in known.items() if categories is not None}
    if not known:
        return
    reference = next((name for name in cfg.DATASETS.TRAIN if name in known), next(iter(known)))
    for name, categories in known.items():
        _check_same_categories(reference, name, categories, known[reference])
    num_classes = cfg.MODEL.ROI_HEADS.NUM_CLASSES
    if reference in cfg.DATASETS.TRAIN and num_classes != len(known[reference]):
        raise ConfigError(
            f"MODEL.ROI_HEADS.NUM_CLASSES is {num_classes} but the training set "
            f"{_source(reference)} has {len(known[reference])} categories: set "
            f"MODEL.ROI_HEADS.NUM_CLASSES {len(known[reference])}.")
