#!/usr/bin/env python
"""Pretrain a detection config's ResNet by classification, for its MODEL.WEIGHTS.

    python tools/pretrain_backbone.py --output output/pretrain/gn        # shapes proxy, GN preset
    python tools/pretrain_backbone.py --output output/pretrain/bn MODEL.RESNETS.NORM FrozenBN
    torchrun --nproc_per_node 8 tools/pretrain_backbone.py --data /data/imagenet \
        --config-file configs/mask_rcnn_R50_FPN_gn.yaml --output output/R-50-GN   # the paper's

The ResNet is the config's (depth, widths, MODEL.RESNETS.NORM, MODEL.GN groups, GN+WS with
MODEL.GN.WEIGHT_STANDARDIZATION, stride placement, input format and pixel statistics); a BN or BN*
(FrozenBN) config pretrains with BN in training mode, statistics per process. --data is a folder in
ImageFolder layout (train/<class>/..., val/<class>/...); without it, the shapes classification set
(generated on first use). Writes OUTPUT/model_final.pth, which MODEL.WEIGHTS loads with the
whole ResNet covered, and OUTPUT/result.json with the top-1 error on val/. Trailing KEY VALUE pairs
override the config.
"""
import argparse
import dataclasses
import os
import sys

import gn_det  # noqa: F401  (first: fixes detectron2 v0.6 and registers gn_det's components)

from gn_det.cli import parse_args
from gn_det.config import load_config
from gn_det.data.shapes_classification import ensure_shapes_classification
from gn_det.errors import USER_ERRORS
from gn_det.pretraining import IMAGENET, LR_PER_256_IMAGES, SHAPES, pretrain

CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs",
                      "shapes_mask_rcnn_R18_FPN_ablation.yaml")


def argument_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-file", default=CONFIG, metavar="FILE",
                        help="detection config whose backbone is pretrained (default: the "
                             "ablation preset)")
    parser.add_argument("--data", metavar="DIR",
                        help="dataset in ImageFolder layout (default: the shapes classification "
                             "set, generated on first use)")
    parser.add_argument("--output", default="output/pretrain", metavar="DIR",
                        help="where checkpoint.pth, model_final.pth and result.json go (default "
                             "output/pretrain)")
    parser.add_argument("--epochs", type=int,
                        help=f"default {SHAPES.epochs} on the shapes set, {IMAGENET.epochs} on "
                             "--data (the paper's ImageNet schedule)")
    parser.add_argument("--batch-size", type=int,
                        help=f"images per process (per GPU) and step; BN's statistics are over "
                             f"these (default {IMAGENET.images_per_batch}, the paper's)")
    parser.add_argument("--lr", type=float,
                        help=f"LR of the total batch (batch size x processes); default: linear "
                             f"scaling, {LR_PER_256_IMAGES} x total batch / 256")
    parser.add_argument("--image-size", type=int,
                        help=f"crop side in pixels (default {SHAPES.image_size} on the shapes "
                             f"set, {IMAGENET.image_size} on --data)")
    parser.add_argument("--min-crop-scale", type=float,
                        help=f"smallest training crop area as a fraction of the image (default "
                             f"{SHAPES.min_crop_scale} on the shapes set, "
                             f"{IMAGENET.min_crop_scale} on --data)")
    parser.add_argument("--seed", type=int, help="seed of init, data order and augmentation "
                                                 "(default 0)")
    parser.add_argument("--workers", type=int, default=4,
                        help="data loading processes per process (default 4)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the interrupted run in --output; a finished one is not "
                             "trained again")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    return parser


def recipe_from_args(args):
    """The recipe of the data source (shapes set or --data), with the options given."""
    chosen = {"epochs": args.epochs, "images_per_batch": args.batch_size, "lr": args.lr,
              "image_size": args.image_size, "min_crop_scale": args.min_crop_scale,
              "seed": args.seed}
    base = IMAGENET if args.data else SHAPES
    return dataclasses.replace(base, **{key: value for key, value in chosen.items()
                                        if value is not None})


def main(argv=None):
    """Pretrain; return the result (top-1 error, settings, per-epoch losses)."""
    args = parse_args(argument_parser(), argv)
    cfg = load_config(args.config_file, args.opts)
    data = args.data or ensure_shapes_classification()
    return pretrain(cfg, data, recipe_from_args(args), args.output, resume=args.resume,
                    workers=args.workers)


if __name__ == "__main__":
    try:
        main()
    except USER_ERRORS as error:
        sys.exit(f"gn_det: error: {error}")
