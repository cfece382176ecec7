#!/usr/bin/env python
"""Export a trained model to TorchScript or ONNX, with a model.json beside it.

    python tools/export_model.py --config-file output/run/config.yaml --format onnx \\
        --output output/run/onnx MODEL.WEIGHTS output/run/model_final.pth
    python tools/export_model.py --config-file configs/mask_rcnn_R50_FPN_gn.yaml \\
        --format torchscript --output exported/ --sample-image photo.jpg MODEL.WEIGHTS model.pkl

MODEL.WEIGHTS is any file or name gn_det loads; they must cover the whole model. The exported
model is the eager one (gn_det's fast path is not exported); it takes a resized CHW image and runs
on images of any size. Run it with ``gn_det.deploy.load(OUTPUT)`` (image in, detectron2 Instances
out), or an ONNX export without detectron2 with gn_det/deploy/onnx_runtime.py (README, "Deploy").
"""
import argparse
import sys

import gn_det  # noqa: F401  (first: fixes detectron2 v0.6 and registers gn_det's components)
from detectron2.utils.logger import setup_logger

from gn_det.cli import parse_args
from gn_det.config import load_config
from gn_det.deploy import FORMATS
from gn_det.deploy.export import export_trained_model
from gn_det.errors import USER_ERRORS


def argument_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-file", required=True, metavar="FILE",
                        help="the model's config, e.g. its OUTPUT_DIR/config.yaml")
    parser.add_argument("--format", required=True, help=f"one of {', '.join(FORMATS)}")
    parser.add_argument("--output", required=True, metavar="DIR",
                        help="folder for model.ts or model.onnx and model.json")
    parser.add_argument("--sample-image", metavar="FILE",
                        help="image to trace the model on (default: a synthetic one)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the contents of a non-empty --output folder")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    return parser


def main(argv=None):
    args = parse_args(argument_parser(), argv)
    cfg = load_config(args.config_file, args.opts)
    setup_logger(name="fvcore")  # the weights' coverage report
    path = export_trained_model(cfg, args.format, args.output, args.sample_image, args.overwrite)
    print(f"Exported {path} and its model.json")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except USER_ERRORS as error:
        sys.exit(f"gn_det: error: {error}")
