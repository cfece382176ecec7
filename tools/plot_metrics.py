#!/usr/bin/env python
"""Plot loss and AP curves from the metrics.json of one or several runs on the same axes.

    python tools/plot_metrics.py output/run_a output/run_b --labels GN BN --output curves.png
"""
import argparse
import sys

from gn_det.visualization import plot_training_curves


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="+", help="training output folders with a metrics.json")
    parser.add_argument("--labels", nargs="+", help="one legend label per run")
    parser.add_argument("--output", required=True, help="PNG file to write")
    args = parser.parse_args(argv)
    if args.labels and len(args.labels) != len(args.run_dirs):
        parser.error(f"{len(args.labels)} labels for {len(args.run_dirs)} runs")
    try:
        print(plot_training_curves(args.run_dirs, args.output, args.labels))
    except FileNotFoundError as error:
        sys.exit(f"gn_det: error: {error}. Pass training output folders (they hold metrics.json).")


if __name__ == "__main__":
    main()
