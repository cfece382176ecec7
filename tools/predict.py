#!/usr/bin/env python
"""Run a trained model on images: one picture per image and one COCO results JSON.

    python tools/predict.py --config-file output/run/config.yaml --input mydata/val \
        --output output/run/predictions MODEL.WEIGHTS output/run/model_final.pth
    python tools/predict.py --config-file CFG --input 'photos/*.jpg' extra.png --output out/ \
        --confidence-threshold 0.3 MODEL.WEIGHTS model.pth MODEL.DEVICE cpu

As detectron2's demo: --input takes files, folders (their .jpg/.jpeg/.png/.bmp/.tif/.tiff/.webp
files) and glob patterns; trailing KEY VALUE pairs override the config (they may follow --input's
paths, and flags may follow them); MODEL.WEIGHTS is any file or name gn_det loads. The class names
and category ids are those of the config's training set (DATASETS.TRAIN[0]). Each picture has the
input's file name; OUTPUT/predictions.json holds the COCO results of all images, each with its
file_name. A file that is not a readable image is named and skipped, the others are predicted,
and the run ends with the number skipped and exit status 1.
"""
import argparse
import sys

import gn_det  # noqa: F401  (first: fixes detectron2 v0.6 and registers gn_det's components)
from detectron2.utils.logger import setup_logger

from gn_det.cli import parse_args
from gn_det.config import load_config
from gn_det.engine.trained_model import load_trained_model
from gn_det.errors import USER_ERRORS
from gn_det.prediction import (
    default_batch_size,
    list_inputs,
    predict_files,
    split_inputs_and_overrides,
    training_metadata,
)


def argument_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-file", required=True, metavar="FILE",
                        help="the model's config, e.g. its OUTPUT_DIR/config.yaml")
    parser.add_argument("--input", required=True, nargs="+", metavar="PATH",
                        help="image files, folders or glob patterns")
    parser.add_argument("--output", required=True, metavar="DIR",
                        help="folder for the pictures and predictions.json")
    parser.add_argument("--confidence-threshold", type=float, default=0.5,
                        help="minimum score of the predictions drawn and written (default 0.5; "
                             "0.05 for a results file to evaluate)")
    parser.add_argument("--batch-size", type=int, metavar="N",
                        help="images per forward pass (default: 4 on a GPU, 1 on the CPU)")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    return parser


def main(argv=None):
    args = parse_args(argument_parser(), argv)
    args.input, overrides = split_inputs_and_overrides(args.input)
    args.opts = overrides + args.opts
    cfg = load_config(args.config_file, args.opts + [
        "MODEL.ROI_HEADS.SCORE_THRESH_TEST", str(args.confidence_threshold)])
    cfg.freeze()
    paths = list_inputs(args.input)
    metadata = training_metadata(cfg)
    setup_logger(name="fvcore")  # the weights' coverage report
    model = load_trained_model(cfg)
    run = predict_files(cfg, model, metadata, paths, args.output,
                        args.batch_size or default_batch_size(cfg.MODEL.DEVICE),
                        cfg.DATALOADER.NUM_WORKERS)
    print(f"{run.num_files - len(run.skipped)} pictures in {args.output}, {run.num_detections} "
          f"detections in {run.results_file}")
    if run.skipped:
        return (f"gn_det: error: skipped {len(run.skipped)} of {run.num_files} files that are not "
                f"readable images (named above)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except USER_ERRORS as error:
        sys.exit(f"gn_det: error: {error}")
