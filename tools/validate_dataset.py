#!/usr/bin/env python
"""Check a dataset before training on it: everything tools/train_net.py would stop on, and what it
would skip, each with the file, image id and annotation id.

    python tools/validate_dataset.py --dataset coco_2017_train
    python tools/validate_dataset.py --json annotations/instances.json --image-root images/
    python tools/validate_dataset.py --dataset shapes_val --full-decode   # decode every pixel too

Exits with status 1 when the dataset has errors (training would not start), 0 otherwise. The kinds
of problems, and which are errors and which skips, are listed in gn_det/data/validation.py.
"""
import argparse
import sys
from collections import defaultdict

import gn_det  # noqa: F401  (first: fixes detectron2 v0.6 and registers gn_det's datasets)
from gn_det.data.validation import KINDS, validate_coco_json, validate_dataset
from gn_det.errors import USER_ERRORS


def argument_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", help="name of a registered dataset, e.g. coco_2017_val")
    source.add_argument("--json", metavar="FILE", help="a COCO instances file")
    parser.add_argument("--image-root", default="", metavar="DIR",
                        help="folder the file_name entries of --json are relative to")
    parser.add_argument("--no-image-files", action="store_true",
                        help="check the annotations only, do not open the image files")
    parser.add_argument("--full-decode", action="store_true",
                        help="decode every image completely (slower; finds damage inside files)")
    parser.add_argument("--max-listed", type=int, default=20, metavar="N",
                        help="problems listed per kind (default 20; 0 lists all)")
    return parser


def report_lines(report, max_listed):
    """The report as text: the summary, then each kind with its remedy and its findings."""
    lines = [report.summary()]
    by_kind = defaultdict(list)
    for finding in report.findings:
        by_kind[finding.kind].append(finding)
    for kind, findings in by_kind.items():
        severity = "ERROR" if KINDS[kind].error else "skipped"
        lines.append(f"{severity}: {len(findings)} {KINDS[kind].what} ({KINDS[kind].remedy})")
        listed = findings[:max_listed] if max_listed else findings
        lines.extend(f"  {finding}" for finding in listed)
        if len(listed) < len(findings):
            lines.append(f"  ... {len(findings) - len(listed)} more (--max-listed 0 lists all)")
    return lines


def main(argv=None):
    args = argument_parser().parse_args(argv)
    check_files = not args.no_image_files
    try:
        if args.dataset:
            report = validate_dataset(args.dataset, check_files, args.full_decode)
        else:
            report = validate_coco_json(args.json, args.image_root, check_files=check_files,
                                        full_decode=args.full_decode)
    except USER_ERRORS as error:
        sys.exit(f"gn_det: error: {error}")
    print("\n".join(report_lines(report, args.max_listed)))
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
