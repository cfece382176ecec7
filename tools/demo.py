#!/usr/bin/env python
"""`make demo`: train a small full-GN Mask R-CNN from scratch on the shapes set on the CPU, evaluate
it with pycocotools, and draw its predictions and its training curves.

    python tools/demo.py --output-dir output/demo [KEY VALUE ...]
"""
import argparse
import os
import sys
import time

import gn_det  # noqa: F401  (first: fixes detectron2 v0.6 and registers gn_det's components)

import train_net
from gn_det.cli import parse_args
from gn_det.config import load_config
from gn_det.engine.trained_model import TrainedModelPredictor
from gn_det.errors import USER_ERRORS
from gn_det.visualization import plot_training_curves, save_prediction_pictures

DEMO_CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs",
                           "shapes_mask_rcnn_R18_FPN_gn.yaml")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-file", default=DEMO_CONFIG, metavar="FILE")
    parser.add_argument("--output-dir", default="output/demo")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = parse_args(parser, argv)
    opts = args.opts + ["OUTPUT_DIR", args.output_dir]

    start = time.perf_counter()
    train_args = train_net.argument_parser().parse_args(["--config-file", args.config_file, *opts])
    results = train_net.main(train_args)
    train_and_eval_seconds = time.perf_counter() - start

    cfg = load_config(args.config_file,
                      opts + ["MODEL.WEIGHTS", os.path.join(args.output_dir, "model_final.pth")])
    pictures = save_prediction_pictures(TrainedModelPredictor(cfg), cfg.DATASETS.TEST[0],
                                        os.path.join(args.output_dir, "predictions"))
    curves = plot_training_curves([args.output_dir],
                                  os.path.join(args.output_dir, "training_curves.png"))

    print(f"\nTraining + evaluation wall time: {train_and_eval_seconds / 60:.1f} min")
    for task in ("bbox", "segm"):
        print(f"{task} AP on {cfg.DATASETS.TEST[0]}: {results[task]['AP']:.1f}")
    print(f"Results JSON: {os.path.join(args.output_dir, 'inference')}")
    print("Pictures (ground truth left, predictions right):", *pictures, sep="\n  ")
    print(f"Training curves: {curves}")
    return results


if __name__ == "__main__":
    try:
        main()
    except USER_ERRORS as error:
        sys.exit(f"gn_det: error: {error}")
