#!/usr/bin/env python
"""Draw a trained model's predictions next to the ground truth for a few images of a dataset.

    python tools/visualize_predictions.py --config-file configs/shapes_mask_rcnn_R18_FPN_gn.yaml \
        --weights output/demo/model_final.pth --dataset shapes_val --num-images 4 --output-dir out/
"""
import argparse
import sys

import gn_det  # noqa: F401  (first: fixes detectron2 v0.6 and registers gn_det's components)

from gn_det.cli import parse_args
from gn_det.config import load_config
from gn_det.data import check_dataset_available
from gn_det.engine.trained_model import TrainedModelPredictor
from gn_det.errors import USER_ERRORS
from gn_det.visualization import save_prediction_pictures


def argument_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-file", required=True, metavar="FILE")
    parser.add_argument("--weights", required=True, help="trained model (.pth or .pkl)")
    parser.add_argument("--dataset", help="registered dataset (default: the config's first test set)")
    parser.add_argument("--num-images", type=int, default=4)
    parser.add_argument("--min-score", type=float, default=0.5, help="hide weaker predictions")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    return parser


def main(args):
    cfg = load_config(args.config_file, args.opts + ["MODEL.WEIGHTS", args.weights])
    dataset = args.dataset or cfg.DATASETS.TEST[0]
    check_dataset_available(dataset)
    paths = save_prediction_pictures(TrainedModelPredictor(cfg), dataset, args.output_dir,
                                     args.num_images, args.min_score)
    for path in paths:
        print(path)
    return paths


if __name__ == "__main__":
    try:
        main(parse_args(argument_parser()))
    except USER_ERRORS as error:
        sys.exit(f"gn_det: error: {error}")
