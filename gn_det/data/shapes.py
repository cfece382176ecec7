"""The "shapes" set: a deterministic synthetic instance segmentation dataset in COCO format.

Each image shows 1 to 6 flat-coloured shapes (circle, square, triangle, star, ring) on a textured
background. Colours come from one palette shared by every category, so only the shape tells the
categories apart. Later shapes occlude earlier ones; every annotation is the instance's visible
mask.

Masks are rasterized with pycocotools, the rasterizer COCO evaluation and detectron2 use for
polygons, and the image is painted through those masks. So a polygon annotation decodes to exactly
the painted pixels. Unoccluded shapes are stored as polygons; occluded shapes and rings (which have
a hole) as compressed RLE.

Everything derives from (seed, split, image index), so the same arguments give byte-identical PNG
and JSON files.
"""
import json
import math
import os
import zlib

import cv2
import numpy as np
import pycocotools.mask as mask_util
from tqdm import tqdm

# Bumped whenever the output for given arguments changes, so cached splits get regenerated.
GENERATOR_VERSION = 1

CATEGORIES = ("circle", "square", "triangle", "star", "ring")

# RGB, saturated so shapes stand out from the muted backgrounds; shared by all categories.
PALETTE = (
    (220, 40, 40),
    (40, 170, 60),
    (40, 80, 220),
    (240, 210, 40),
    (200, 60, 200),
    (40, 200, 210),
    (245, 130, 30),
    (245, 245, 245),
)

MAX_INSTANCES = 6
MIN_DIAMETER = 12
MAX_DIAMETER_FRACTION = 0.6
# Placements that would leave an earlier instance less visible than this are rejected.
MIN_VISIBLE_FRACTION = 0.3
# Share of shape pixels that may lie on background of about the shape's own colour.
MAX_CAMOUFLAGED_FRACTION = 0.2
CAMOUFLAGE_DISTANCE = 80.0
# How often a shape is placed against an earlier one, to make touching and overlapping instances.
NEIGHBOUR_PLACEMENT_PROBABILITY = 0.5
PLACEMENT_ATTEMPTS_PER_INSTANCE = 10
PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 6]


def image_rng(seed, split, index):
    """The random generator of one image: a function of (seed, split, index) only."""
    # crc32, unlike hash(), does not change between Python processes.
    return np.random.default_rng([seed, zlib.crc32(split.encode("utf-8")), index])


# ---------------------------------------------------------------------------------------------
# Backgrounds


def _muted_colour(rng):
    colour = rng.uniform(20, 235, size=3)
    return 0.6 * colour + 0.4 * colour.mean()


def _coordinates_along_random_direction(rng, size):
    angle = rng.uniform(0, math.pi)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    return xs * math.cos(angle) + ys * math.sin(angle)


def _blend(colour_a, colour_b, weight):
    """Per-pixel mix of two colours: ``weight`` (HxW, in [0, 1]) is the share of ``colour_b``."""
    weight = weight[..., None]
    return (1 - weight) * colour_a + weight * colour_b


def _noise_texture(rng, size):
    return _muted_colour(rng) + rng.normal(0, rng.uniform(8, 30), size=(size, size, 3))


def _gradient_texture(rng, size):
    along = _coordinates_along_random_direction(rng, size)
    weight = (along - along.min()) / max(float(np.ptp(along)), 1.0)
    return _blend(_muted_colour(rng), _muted_colour(rng), weight)


def _stripe_texture(rng, size):
    period = rng.uniform(6, 24)
    along = _coordinates_along_random_direction(rng, size)
    weight = 0.5 + 0.5 * np.sin(2 * math.pi * along / period)
    if rng.random() < 0.5:
        weight = (weight > 0.5).astype(np.float32)
    return _blend(_muted_colour(rng), _muted_colour(rng), weight)


def _blotch_texture(rng, size):
    cells = int(rng.integers(3, 9))
    grid = np.stack([_muted_colour(rng) for _ in range(cells * cells)]).reshape(cells, cells, 3)
    return cv2.resize(grid.astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)


_TEXTURES = (_noise_texture, _gradient_texture, _stripe_texture, _blotch_texture)


def render_background(rng, size):
    """A random textured RGB background (uint8, size x size x 3) with fine grain on top."""
    texture = _TEXTURES[rng.integers(len(_TEXTURES))](rng, size)
    texture = texture + rng.normal(0, rng.uniform(2, 8), size=texture.shape)
    return np.clip(np.rint(texture), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# Shapes


def _regular_polygon(cx, cy, radius, vertices, rotation):
    angles = rotation + np.arange(vertices) * (2 * math.pi / vertices)
    return np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], axis=1)


def _star(cx, cy, radius, inner_ratio, rotation):
    points = _regular_polygon(cx, cy, radius, 10, rotation)
    points[1::2] = (points[1::2] - (cx, cy)) * inner_ratio + (cx, cy)
    return points


def _circle(cx, cy, radius):
    # About one vertex per 2 px of perimeter: round at every size, cheap to store.
    vertices = int(np.clip(math.ceil(math.pi * radius), 12, 64))
    return _regular_polygon(cx, cy, radius, vertices, 0.0)


def shape_polygons(category, cx, cy, radius, rotation, rng):
    """(outline, holes) of one shape as lists of flat [x1, y1, x2, y2, ...] polygons.

    Coordinates are rounded to 0.01 px, and the rounded values are both rasterized and stored, so
    the JSON decodes to exactly the mask that was painted.
    """
    holes = []
    if category == "circle":
        outline = [_circle(cx, cy, radius)]
    elif category == "square":
        outline = [_regular_polygon(cx, cy, radius, 4, rotation)]
    elif category == "triangle":
        outline = [_regular_polygon(cx, cy, radius, 3, rotation)]
    elif category == "star":
        outline = [_star(cx, cy, radius, rng.uniform(0.4, 0.55), rotation)]
    elif category == "ring":
        outline = [_circle(cx, cy, radius)]
        holes = [_circle(cx, cy, radius * rng.uniform(0.45, 0.65))]
    else:
        raise ValueError(f"unknown shape category {category!r}; known: {CATEGORIES}")

    def flat(polygons):
        return [[round(float(v), 2) for v in polygon.reshape(-1)] for polygon in polygons]

    return flat(outline), flat(holes)


def rasterize(polygons, size):
    """Boolean size x size mask of the union of flat polygons, as pycocotools rasterizes them."""
    if not polygons:
        return np.zeros((size, size), dtype=bool)
    rle = mask_util.merge(mask_util.frPyObjects(polygons, size, size))
    return mask_util.decode(rle).astype(bool)


def encode_rle(mask):
    """COCO compressed RLE of a boolean mask, with ``counts`` as a str (JSON-serializable)."""
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("utf-8")}


class _Instance:
    """A shape placed in an image: its geometry, full mask, colour and currently visible mask."""

    def __init__(self, category_id, centre, radius, outline, holes, mask):
        self.category_id = category_id
        self.centre = centre
        self.radius = radius
        self.outline = outline
        self.has_hole = bool(holes)
        self.mask = mask
        self.full_area = int(mask.sum())
        self.visible = mask
        self.colour = None


def _sample_centre(rng, size, radius, placed):
    if placed and rng.random() < NEIGHBOUR_PLACEMENT_PROBABILITY:
        # Against an earlier shape: from well overlapping to just touching.
        anchor = placed[rng.integers(len(placed))]
        angle = rng.uniform(0, 2 * math.pi)
        distance = (anchor.radius + radius) * rng.uniform(0.5, 1.05)
        centre = np.array(anchor.centre) + distance * np.array([math.cos(angle), math.sin(angle)])
    else:
        centre = rng.uniform(0, size, size=2)
    # Shapes may cross the border, but only by a sliver.
    return tuple(np.clip(centre, 0.75 * radius, size - 0.75 * radius))


def _sample_instance(rng, size, placed):
    category_id = int(rng.integers(len(CATEGORIES))) + 1
    # Log-uniform: every octave of sizes is equally likely, so small shapes are common.
    diameter = math.exp(rng.uniform(math.log(MIN_DIAMETER),
                                    math.log(MAX_DIAMETER_FRACTION * size)))
    radius = diameter / 2
    centre = _sample_centre(rng, size, radius, placed)
    outline, holes = shape_polygons(CATEGORIES[category_id - 1], *centre, radius,
                                    rng.uniform(0, 2 * math.pi), rng)
    mask = rasterize(outline, size) & ~rasterize(holes, size)
    return _Instance(category_id, centre, radius, outline, holes, mask)


def _keeps_others_visible(candidate, placed):
    return all((p.visible & ~candidate.mask).sum() >= MIN_VISIBLE_FRACTION * p.full_area
               for p in placed)


def _pick_colour(rng, candidate, placed, background):
    """A palette colour that differs from the instances the candidate touches and from most of
    the background under it, so its outline can be seen; any palette colour if none does."""
    touching = cv2.dilate(candidate.mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    neighbour_colours = {p.colour for p in placed if (p.visible & touching).any()}
    under = background[candidate.mask].astype(np.float32)
    choices = [
        colour for colour in PALETTE
        if colour not in neighbour_colours
        and (np.linalg.norm(under - colour, axis=1) < CAMOUFLAGE_DISTANCE).mean()
        <= MAX_CAMOUFLAGED_FRACTION
    ]
    choices = choices or [c for c in PALETTE if c not in neighbour_colours]
    return choices[rng.integers(len(choices))]


def _annotation(instance):
    visible = instance.visible
    area = int(visible.sum())
    ys, xs = np.nonzero(visible)
    x0, y0 = int(xs.min()), int(ys.min())
    if area == instance.full_area and not instance.has_hole:
        segmentation = instance.outline
    else:
        segmentation = encode_rle(visible)
    return {
        "category_id": instance.category_id,
        "segmentation": segmentation,
        "area": area,
        # Tight box of the visible pixels: pixel (x, y) covers [x, x + 1) x [y, y + 1).
        "bbox": [x0, y0, int(xs.max()) + 1 - x0, int(ys.max()) + 1 - y0],
        "iscrowd": 0,
    }


def render_image(rng, size=128):
    """One random image: (RGB uint8 array size x size x 3, list of annotations without ids).

    Shapes are painted in order; a placement that would occlude an earlier instance below
    MIN_VISIBLE_FRACTION of its area is rejected and sampled again, so no unannotated fragments
    remain.
    """
    background = render_background(rng, size)
    image = background.copy()
    target = int(rng.integers(1, MAX_INSTANCES + 1))
    placed = []
    for _ in range(PLACEMENT_ATTEMPTS_PER_INSTANCE * target):
        if len(placed) == target:
            break
        candidate = _sample_instance(rng, size, placed)
        if not _keeps_others_visible(candidate, placed):
            continue
        candidate.colour = _pick_colour(rng, candidate, placed, background)
        for earlier in placed:
            earlier.visible = earlier.visible & ~candidate.mask
        image[candidate.mask] = candidate.colour
        placed.append(candidate)
    return image, [_annotation(instance) for instance in placed]


# ---------------------------------------------------------------------------------------------
# Files


def write_bytes_atomically(path, data):
    # A per-process temporary name, then a rename: readers never see a partial file, and
    # processes generating the same split at once (identical bytes) do not disturb each other.
    temporary = f"{path}.tmp{os.getpid()}"
    try:
        with open(temporary, "wb") as f:
            f.write(data)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def encode_png(image_rgb):
    """PNG bytes of an RGB image."""
    ok, png = cv2.imencode(".png", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR), PNG_PARAMS)
    if not ok:
        raise RuntimeError("OpenCV could not encode a PNG")
    return png.tobytes()


def json_path(root, split):
    """Where :func:`generate_shapes` writes the annotations of ``split``."""
    return os.path.join(root, "annotations", f"instances_{split}.json")


def dataset_info(split, num_images, seed, image_size):
    """The ``info`` entry of a split's JSON: everything its content depends on."""
    return {"description": "gn_det synthetic shapes", "split": split, "num_images": num_images,
            "seed": seed, "image_size": image_size, "generator_version": GENERATOR_VERSION}


def generate_shapes(root, split, num_images, seed=0, image_size=128, progress=True):
    """Generate ``split``: ``<root>/<split>/NNNNNN.png`` and ``<root>/annotations/
    instances_<split>.json`` (COCO format). Returns the JSON path.

    The JSON is written last and atomically: when it exists, the split is complete.
    """
    image_dir = os.path.join(root, split)
    os.makedirs(image_dir, exist_ok=True)
    os.makedirs(os.path.dirname(json_path(root, split)), exist_ok=True)
    images, annotations = [], []
    for index in tqdm(range(num_images), desc=f"Generating shapes '{split}'", unit="img",
                      disable=not progress):
        image_id = index + 1
        image, image_annotations = render_image(image_rng(seed, split, index), image_size)
        file_name = f"{image_id:06d}.png"
        write_bytes_atomically(os.path.join(image_dir, file_name), encode_png(image))
        images.append({"id": image_id, "file_name": file_name,
                       "height": image_size, "width": image_size})
        for annotation in image_annotations:
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, **annotation})
    coco = {
        "info": dataset_info(split, num_images, seed, image_size),
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i + 1, "name": name, "supercategory": "shape"}
                       for i, name in enumerate(CATEGORIES)],
    }
    text = json.dumps(coco, sort_keys=True, separators=(",", ":"))
    write_bytes_atomically(json_path(root, split), text.encode("utf-8"))
    return json_path(root, split)
