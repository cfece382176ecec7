#!/usr/bin/env python
"""Plot loss and AP curves from the metrics.json of one or several runs on the same axes.

    python tools/plot_metrics.py output/run_a output/run_b --labels GN BN --output curves.png

A run is its training output folder or that folder's metrics.json.
"""
import argparse
import os
import sys

from gn_det.visualization import plot_training_curves


def run_dir(path):
    """The training output folder that ``path`` (the folder, or its metrics.json) names."""
    if not os.path.isfile(path):
        return path
    if os.path.basename(path) != "metrics.json":
        raise NotADirectoryError(f"{path} is a file, not a training output folder (pass the "
                                 "folder that holds metrics.json, or its metrics.json)")
    return os.path.dirname(path) or "."


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="+",
                        help="training output folders with a metrics.json (or the metrics.json)")
    parser.add_argument("--labels", nargs="+", help="one legend label per run")
    parser.add_argument("--output", required=True, help="PNG file to write")
    args = parser.parse_args(argv)
    if args.labels and len(args.labels) != len(args.run_dirs):
        parser.error(f"{len(args.labels)} labels for {len(args.run_dirs)} runs")
    try:
        print(plot_training_curves([run_dir(path) for path in args.run_dirs], args.output,
                                   args.labels))
    except NotADirectoryError as error:
        sys.exit(f"gn_det: error: {error}.")
    except FileNotFoundError as error:
        sys.exit(f"gn_det: error: {error}. Pass training output folders (they hold metrics.json).")


if __name__ == "__main__":
    main()
