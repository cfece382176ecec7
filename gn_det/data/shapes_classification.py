"""The shapes classification set: the pretraining proxy for ImageNet, in ImageFolder layout,
generated on first use like the shapes detection set.

Each 64 x 64 image shows one main shape, near the centre and larger than anything else, on the
detection set's textured backgrounds. Its class is the shape (circle, square, triangle, star, ring)
times the colour family of its hue (red, yellow, green, blue): 20 classes. Clutter makes it a
recognition task rather than a colour lookup: up to 3 smaller distractor shapes lie behind it,
up to 2 occluders cover up to 40% of it, and distractors and occluders have other colour
families, so that they never merge with the main shape's outline. Classes are balanced (image i
has class i mod 20); everything derives from (seed, split, image index), so the same arguments
give byte-identical files.

Layout (torchvision's ImageFolder, as ImageNet is usually stored)::

    shapes_classification/
      train/<class>/000001.png ...   (6000 images, 300 per class)
      val/<class>/...                (2000 images, 100 per class)
      train.json, val.json           (written last: the split is complete)
"""
import colorsys
import json
import math
import os
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from .shapes import (CATEGORIES, encode_png, image_rng, rasterize, render_background,
                     shape_polygons, write_bytes_atomically)

# Bumped whenever the output for given arguments changes, so cached splits get regenerated.
GENERATOR_VERSION = 1

# Hue ranges (degrees) of the colour families; the gaps between them keep families apart.
COLOUR_FAMILIES = {"red": (-15.0, 15.0), "yellow": (45.0, 70.0), "green": (100.0, 150.0),
                   "blue": (200.0, 250.0)}
CLASSES = tuple(f"{family}_{shape}" for family in COLOUR_FAMILIES for shape in CATEGORIES)

IMAGE_SIZE = 64
# Radius of the main shape as a fraction of the image side, and how far its centre may move.
MAIN_RADIUS = (0.22, 0.4)
CENTRE_JITTER = 0.12
# Distractors: behind the main shape, at most this many, radius a fraction of the main shape's.
MAX_DISTRACTORS = 3
DISTRACTOR_RADIUS = (0.25, 0.5)
# Occluders: in front of the main shape, on its edge; it keeps at least MIN_VISIBLE of its area.
MAX_OCCLUDERS = 2
OCCLUDER_RADIUS = (0.3, 0.55)
MIN_VISIBLE = 0.6


@dataclass(frozen=True)
class ClassificationSplit:
    """What a split is generated from."""

    name: str
    num_images: int
    seed: int
    image_size: int = IMAGE_SIZE


SPLITS = {
    "train": ClassificationSplit("train", num_images=6000, seed=0),
    "val": ClassificationSplit("val", num_images=2000, seed=1),
}


def shapes_classification_dir():
    """Cache directory of the set: $GN_DET_SHAPES_CLASSIFICATION_DIR, else
    $DETECTRON2_DATASETS/shapes_classification (default ./datasets/shapes_classification, next to
    the detection set). Read at each use."""
    if os.environ.get("GN_DET_SHAPES_CLASSIFICATION_DIR"):
        return os.environ["GN_DET_SHAPES_CLASSIFICATION_DIR"]
    return os.path.join(os.environ.get("DETECTRON2_DATASETS", "datasets"), "shapes_classification")


def _colour(rng, family):
    low, high = COLOUR_FAMILIES[family]
    hue = (rng.uniform(low, high) % 360.0) / 360.0
    rgb = colorsys.hsv_to_rgb(hue, rng.uniform(0.6, 1.0), rng.uniform(0.65, 1.0))
    return tuple(int(round(255 * channel)) for channel in rgb)


def _other_family(rng, family):
    others = [name for name in COLOUR_FAMILIES if name != family]
    return others[rng.integers(len(others))]


def _shape_mask(rng, shape, centre, radius, size):
    outline, holes = shape_polygons(shape, *centre, radius, rng.uniform(0, 2 * math.pi), rng)
    return rasterize(outline, size) & ~rasterize(holes, size)


def _random_shape(rng):
    return CATEGORIES[rng.integers(len(CATEGORIES))]


def render_crop(rng, class_name, size=IMAGE_SIZE):
    """One RGB uint8 image (size x size x 3) of class ``class_name`` ("<family>_<shape>")."""
    family, shape = class_name.split("_")
    image = render_background(rng, size)
    radius = rng.uniform(*MAIN_RADIUS) * size
    centre = size / 2 + rng.uniform(-CENTRE_JITTER, CENTRE_JITTER, size=2) * size
    for _ in range(rng.integers(MAX_DISTRACTORS + 1)):
        mask = _shape_mask(rng, _random_shape(rng), rng.uniform(0, size, size=2),
                           radius * rng.uniform(*DISTRACTOR_RADIUS), size)
        image[mask] = _colour(rng, _other_family(rng, family))
    main = _shape_mask(rng, shape, centre, radius, size)
    image[main] = _colour(rng, family)
    visible = main
    for _ in range(rng.integers(MAX_OCCLUDERS + 1)):
        angle = rng.uniform(0, 2 * math.pi)
        direction = np.array([math.cos(angle), math.sin(angle)])
        where = centre + radius * rng.uniform(0.6, 1.1) * direction
        occluder = _shape_mask(rng, _random_shape(rng), where,
                               radius * rng.uniform(*OCCLUDER_RADIUS), size)
        if (visible & ~occluder).sum() < MIN_VISIBLE * main.sum():
            continue
        image[occluder] = _colour(rng, _other_family(rng, family))
        visible = visible & ~occluder
    return image


def _info(spec):
    return {"description": "gn_det synthetic shapes classification", "split": spec.name,
            "num_images": spec.num_images, "seed": spec.seed, "image_size": spec.image_size,
            "generator_version": GENERATOR_VERSION}


def _marker_path(root, split):
    return os.path.join(root, f"{split}.json")


def generate_split(root, spec, progress=True):
    """Write split ``spec`` as ``<root>/<split>/<class>/NNNNNN.png``, then ``<root>/<split>.json``
    (written last and atomically: when it exists, the split is complete)."""
    for class_name in CLASSES:
        os.makedirs(os.path.join(root, spec.name, class_name), exist_ok=True)
    for index in tqdm(range(spec.num_images), desc=f"Generating shapes classification "
                      f"'{spec.name}'", unit="img", disable=not progress):
        class_name = CLASSES[index % len(CLASSES)]
        # Its own random streams: never those of the detection set's images.
        rng = image_rng(spec.seed, f"classification_{spec.name}", index)
        image = render_crop(rng, class_name, spec.image_size)
        path = os.path.join(root, spec.name, class_name, f"{index + 1:06d}.png")
        write_bytes_atomically(path, encode_png(image))
    text = json.dumps({"info": _info(spec), "classes": list(CLASSES)}, sort_keys=True)
    write_bytes_atomically(_marker_path(root, spec.name), text.encode("utf-8"))


def _is_current(root, spec):
    if not os.path.exists(_marker_path(root, spec.name)):
        return False
    with open(_marker_path(root, spec.name)) as f:
        return json.load(f).get("info") == _info(spec)


def ensure_shapes_classification(force=False, progress=True):
    """Generate the splits that the cache lacks or holds from another version (all with
    ``force``); return the cache directory, whose train/ and val/ are ImageFolder roots."""
    root = shapes_classification_dir()
    for spec in SPLITS.values():
        if force or not _is_current(root, spec):
            generate_split(root, spec, progress)
    return root
