"""Write a small COCO dataset of JPEG images with category ids of your choice: the shapes images
(:mod:`.shapes`) laid out as a user's own data would be, to try ``DATASETS.REGISTER_COCO``.

    python -m gn_det.data.shapes_export mydata --category-ids 3,17,42,58,90

writes ``mydata/train/*.jpg``, ``mydata/val/*.jpg`` and ``mydata/annotations/{train,val}.json``;
category id ``ids[k]`` is shape ``CATEGORIES[k]``. The same arguments give the same annotations.
"""
import argparse
import json
import os

import cv2

from .shapes import CATEGORIES, image_rng, render_image

JPEG_QUALITY = 90


def export_split(root, split, num_images, category_ids, seed, image_size=128):
    """Write ``<root>/<split>/NNNNNN.jpg`` and ``<root>/annotations/<split>.json``; return the JSON
    path. The JSON is written last: when it exists, the split is complete."""
    os.makedirs(os.path.join(root, split), exist_ok=True)
    os.makedirs(os.path.join(root, "annotations"), exist_ok=True)
    images, annotations = [], []
    for index in range(num_images):
        image_id = index + 1
        image, image_annotations = render_image(image_rng(seed, split, index), image_size)
        file_name = f"{image_id:06d}.jpg"
        cv2.imwrite(os.path.join(root, split, file_name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        images.append({"id": image_id, "file_name": file_name, "height": image_size,
                       "width": image_size})
        for annotation in image_annotations:
            category_id = category_ids[annotation["category_id"] - 1]
            annotations.append({**annotation, "id": len(annotations) + 1, "image_id": image_id,
                                "category_id": category_id})
    categories = [{"id": category_id, "name": name, "supercategory": "shape"}
                  for category_id, name in zip(category_ids, CATEGORIES)]
    json_file = os.path.join(root, "annotations", f"{split}.json")
    with open(json_file, "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": categories}, f)
    return json_file


def _category_ids(text):
    ids = [int(part) for part in text.split(",")]
    if len(ids) != len(CATEGORIES) or len(set(ids)) != len(ids) or min(ids) < 1:
        raise argparse.ArgumentTypeError(
            f"give {len(CATEGORIES)} different positive ids, one for each of {', '.join(CATEGORIES)}")
    return ids


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", metavar="DIR")
    parser.add_argument("--category-ids", type=_category_ids, default="1,2,3,4,5",
                        help=f"comma-separated ids of {', '.join(CATEGORIES)} (default 1,2,3,4,5)")
    parser.add_argument("--train-images", type=int, default=300)
    parser.add_argument("--val-images", type=int, default=50)
    args = parser.parse_args(argv)
    for split, num_images, seed in (("train", args.train_images, 0), ("val", args.val_images, 1)):
        json_file = export_split(args.output, split, num_images, args.category_ids, seed)
        print(f"{split}: {num_images} images in {os.path.join(args.output, split)}, "
              f"annotations {json_file}")


if __name__ == "__main__":
    main()
