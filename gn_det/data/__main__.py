"""Generate the registered shapes splits into the cache directory (see gn_det.data.shapes_dir).

    python -m gn_det.data            # generate the splits that are missing or out of date
    python -m gn_det.data --force    # regenerate them all
"""
import argparse

import gn_det  # noqa: F401  (first: fixes detectron2 v0.6 before it is used)
from gn_det.data import SHAPES_SPLITS, ensure_shapes_split


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="regenerate even if up to date")
    parser.add_argument("--splits", nargs="+", choices=sorted(SHAPES_SPLITS),
                        default=list(SHAPES_SPLITS), metavar="NAME",
                        help=f"splits to generate (default: all: {', '.join(SHAPES_SPLITS)})")
    args = parser.parse_args(argv)
    for name in args.splits:
        print(f"{name}: {ensure_shapes_split(name, force=args.force)}")


if __name__ == "__main__":
    main()
