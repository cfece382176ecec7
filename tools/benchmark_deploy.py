#!/usr/bin/env python
"""Seconds per image of a model eager, on gn_det's default fast path, exported to TorchScript and
in ONNX Runtime, side by side on the same image; and the exported files' sizes.

    python tools/benchmark_deploy.py                                  # GN R-50-FPN, random weights
    python tools/benchmark_deploy.py --config-file CFG --image photo.jpg MODEL.WEIGHTS model.pth

Without MODEL.WEIGHTS the model keeps a seeded random initialization (speed does not depend on the
weights beyond the number of detections, which the table shows). The image defaults to a
synthetic 480 x 640 one, resized to the config's test size as DefaultPredictor does.
"""
import argparse
import os
import sys
import tempfile

import gn_det  # noqa: F401  (first: fixes detectron2 v0.6 and registers gn_det's components)
import torch
from detectron2.data import MetadataCatalog

from gn_det.cli import parse_args
from gn_det.config import load_config
from gn_det.deploy.benchmark import benchmark_image, build_predictors, markdown, time_predictors
from gn_det.deploy.export import eager_config, read_sample_image
from gn_det.engine.trained_model import load_trained_model
from gn_det.errors import USER_ERRORS
from gn_det.modeling import build_model

DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              "configs", "mask_rcnn_R50_FPN_gn.yaml")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-file", default=DEFAULT_CONFIG, metavar="FILE")
    parser.add_argument("--image", metavar="FILE", help="default: a synthetic 480 x 640 image")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads of every predictor")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per predictor")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = parse_args(parser, argv)
    cfg = load_config(args.config_file, ["MODEL.DEVICE", "cpu", "MODEL.WEIGHTS", "", *args.opts])
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if cfg.MODEL.WEIGHTS:
        model = load_trained_model(eager_config(cfg))
    else:
        model = build_model(eager_config(cfg)).eval()
    image = read_sample_image(args.image) if args.image else benchmark_image()
    class_names = MetadataCatalog.get(cfg.DATASETS.TRAIN[0]).get("thing_classes", [])
    with tempfile.TemporaryDirectory() as export_dir:
        predictors, sizes = build_predictors(cfg, model, class_names, export_dir, args.threads)
        results = time_predictors(predictors, image, args.repeats)
    weights = cfg.MODEL.WEIGHTS or "random weights"
    print(markdown(results, sizes, image.shape, args.threads,
                   f"{os.path.basename(args.config_file)} ({weights})"))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except USER_ERRORS as error:
        sys.exit(f"gn_det: error: {error}")
