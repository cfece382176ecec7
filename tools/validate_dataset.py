#!/usr/bin/env python
"""Check a dataset before training on it: everything tools/train_net.py would stop on, and what it
would skip, each with the file, image id and annotation id.

    python tools/validate_dataset.py --dataset coco_2017_train --train-only
    python tools/validate_dataset.py --json annotations/instances.json --image-root images/
    python tools/validate_dataset.py --dataset shapes_val --full-decode   # decode every pixel too

By default the dataset is checked as an evaluated dataset of a mask model (gn_det's presets):
every annotation needs the 'area' and 'iscrowd' that COCO evaluation reads and a 'segmentation';
--train-only and --boxes-only drop those requirements. --dataset knows gn_det's and detectron2's
built-in datasets; a dataset registered in your own code is checked with its COCO file (--json) or,
registered from dataset dicts, with gn_det.data.validation.validate_dataset in that code.

Exits with status 1 when the dataset has errors (training would not start), 0 otherwise. The kinds
of problems, and which are errors and which skips, are listed in gn_det/data/validation.py.
"""
import argparse
import sys

import gn_det  # noqa: F401  (first: fixes detectron2 v0.6 and registers gn_det's datasets)
from gn_det.data.required_fields import Use
from gn_det.data.validation import validate_coco_json, validate_dataset
from gn_det.errors import USER_ERRORS


def argument_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", help="name of a registered dataset, e.g. coco_2017_val")
    source.add_argument("--json", metavar="FILE", help="a COCO instances file")
    parser.add_argument("--image-root", default="", metavar="DIR",
                        help="folder the file_name entries of --json are relative to")
    parser.add_argument("--train-only", action="store_true",
                        help="the dataset is only trained on (DATASETS.TRAIN), never evaluated: "
                             "'area' and 'iscrowd' are not required")
    parser.add_argument("--boxes-only", action="store_true",
                        help="for a model without masks (MODEL.MASK_ON False): 'segmentation' is "
                             "not required")
    parser.add_argument("--no-image-files", action="store_true",
                        help="check the annotations only, do not open the image files")
    parser.add_argument("--full-decode", action="store_true",
                        help="decode every image completely (slower; finds damage inside files)")
    parser.add_argument("--max-listed", type=int, default=20, metavar="N",
                        help="problems listed per kind (default 20; 0 lists all)")
    return parser


def main(argv=None):
    args = argument_parser().parse_args(argv)
    check_files = not args.no_image_files
    use = Use(evaluated=not args.train_only, masks=not args.boxes_only)
    try:
        if args.dataset:
            report = validate_dataset(args.dataset, check_files, args.full_decode, use)
        else:
            report = validate_coco_json(args.json, args.image_root, check_files=check_files,
                                        full_decode=args.full_decode, use=use)
    except USER_ERRORS as error:
        sys.exit(f"gn_det: error: {error}")
    print("\n".join(report.lines(args.max_listed)))
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
