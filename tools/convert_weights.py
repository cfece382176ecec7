#!/usr/bin/env python
"""Convert a weight file (Detectron .pkl, torchvision/timm ResNet, ...) to a detectron2 .pth.

    python tools/convert_weights.py --config-file configs/mask_rcnn_R50_FPN_gn.yaml \
        --weights R-50-GN.pkl --output R-50-GN.pth
    python tools/convert_weights.py --config-file configs/mask_rcnn_R50_FPN_gn.yaml \
        --weights Detectron/GN/48616381 --output gn_48616381.pth MODEL.ROI_HEADS.NUM_CLASSES 80

The model of the config (built on the CPU) gives the parameter names and shapes. The output holds
the tensors of the input that fit it, under the model's names, as
``{'model': state_dict, '__author__': ..., 'matching_heuristics': False}``: detectron2's
DetectionCheckpointer and gn_det's GNDetCheckpointer load it by name. The coverage report says
what was converted. When the report finds that the weights do not fit the model (wrong norm,
depth, input conventions or format), nothing is written and the exit status is 1, unless --force.
"""
import argparse
import logging
import sys

import gn_det  # noqa: F401  (first: fixes detectron2 v0.6 and registers gn_det's components)
import torch
from detectron2.modeling import build_model

from gn_det.checkpoint import export, load_weights
from gn_det.cli import parse_args
from gn_det.config import load_config
from gn_det.errors import USER_ERRORS


def argument_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-file", required=True, metavar="FILE",
                        help="config of the model the weights are for")
    parser.add_argument("--weights", required=True, help="weight file, URL or catalog handle")
    parser.add_argument("--output", required=True, help=".pth file to write")
    parser.add_argument("--trust-pickles", action="store_true",
                        help="read the input without the pickle allow-list (trusted files only)")
    parser.add_argument("--force", action="store_true",
                        help="write the output even when the report says the weights do not fit")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    return parser


def main(argv=None):
    """Write the converted checkpoint; return its coverage report."""
    args = parse_args(argument_parser(), argv)
    export.prepare_output(args.output)
    cfg = load_config(args.config_file, [*args.opts, "MODEL.DEVICE", "cpu", "MODEL.WEIGHTS", ""])
    model = build_model(cfg)
    # The report is printed below; the checkpointer's log of it would repeat it on stderr.
    logging.getLogger("fvcore").addHandler(logging.NullHandler())
    report = load_weights(model, args.weights, trust_pickles=args.trust_pickles or None)
    print(report)
    if not args.force:
        export.require_fitting_weights(report, args.output)
    torch.save(export.detectron2_checkpoint(model, report, args.weights), args.output)
    print(f"Wrote {len(report.loaded)} tensors to {args.output}")
    return report


if __name__ == "__main__":
    try:
        main()
    except USER_ERRORS as error:
        sys.exit(f"gn_det: error: {error}")
