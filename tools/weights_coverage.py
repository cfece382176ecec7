#!/usr/bin/env python
"""Print how much of a model a weight file initializes, per module group, without training.

    python tools/weights_coverage.py --config-file configs/mask_rcnn_R50_FPN_gn.yaml
    python tools/weights_coverage.py --config-file CFG --weights R-50-GN.pkl --strict-backbone
    python tools/weights_coverage.py --config-file CFG --weights Detectron/GN/48616381 \
        MODEL.ROI_HEADS.NUM_CLASSES 80

Without --weights it checks the config's MODEL.WEIGHTS (a path, URL or catalog handle). Trailing
KEY VALUE pairs override the config. The model is built on the CPU. With --strict-backbone the
exit status is 1 when the file does not initialize exactly the model's ResNet.
"""
import argparse
import logging
import sys

import gn_det  # noqa: F401  (first: fixes detectron2 v0.6 and registers gn_det's components)
from detectron2.modeling import build_model

from gn_det.checkpoint import load_weights, require_backbone_loaded
from gn_det.cli import parse_args
from gn_det.config import load_config
from gn_det.errors import USER_ERRORS


def argument_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-file", required=True, metavar="FILE")
    parser.add_argument("--weights", help="weight file, URL or handle (default: MODEL.WEIGHTS)")
    parser.add_argument("--strict-backbone", action="store_true",
                        help="fail unless the file initializes exactly the model's ResNet")
    parser.add_argument("--trust-pickles", action="store_true",
                        help="read the file without the pickle allow-list (trusted files only)")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    return parser


def main(argv=None):
    """Print the coverage report of the weights for the config's model; return the report."""
    parser = argument_parser()
    args = parse_args(parser, argv)
    cfg = load_config(args.config_file, [*args.opts, "MODEL.DEVICE", "cpu"])
    weights = args.weights or cfg.MODEL.WEIGHTS
    if not weights:
        parser.error("no weights to check: pass --weights or set MODEL.WEIGHTS")
    # The report is printed below; the checkpointer's log of it would repeat it on stderr.
    logging.getLogger("fvcore").addHandler(logging.NullHandler())
    report = load_weights(build_model(cfg), weights, trust_pickles=args.trust_pickles or None)
    print(report)
    if args.strict_backbone:
        require_backbone_loaded(report)
    return report


if __name__ == "__main__":
    try:
        main()
    except USER_ERRORS as error:
        sys.exit(f"gn_det: error: {error}")
