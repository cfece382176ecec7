"""Generate the shapes sets into their cache directories (see gn_det.data.shapes_dir and
gn_det.data.shapes_classification.shapes_classification_dir).

    python -m gn_det.data            # generate the detection splits that are missing or out of date
    python -m gn_det.data --force    # regenerate them all
    python -m gn_det.data --splits shapes_classification   # the pretraining proxy (ImageFolder)
"""
import argparse

import gn_det  # noqa: F401  (first: fixes detectron2 v0.6 before it is used)
from gn_det.data import SHAPES_SPLITS, ensure_shapes_split
from gn_det.data.shapes_classification import ensure_shapes_classification

# The classification set (both of its splits) under one name, next to the detection splits.
CLASSIFICATION = "shapes_classification"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="regenerate even if up to date")
    parser.add_argument("--splits", nargs="+", choices=sorted([*SHAPES_SPLITS, CLASSIFICATION]),
                        default=list(SHAPES_SPLITS), metavar="NAME",
                        help=f"splits to generate (default: the detection splits: "
                             f"{', '.join(SHAPES_SPLITS)}; {CLASSIFICATION}: the classification "
                             "set)")
    args = parser.parse_args(argv)
    for name in args.splits:
        if name == CLASSIFICATION:
            print(f"{name}: {ensure_shapes_classification(force=args.force)}")
        else:
            print(f"{name}: {ensure_shapes_split(name, force=args.force)}")


if __name__ == "__main__":
    main()
