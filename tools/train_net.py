#!/usr/bin/env python
"""Train or evaluate a gn_det model, in detectron2's conventions.

    python tools/train_net.py --config configs/mask_rcnn_R50_FPN_gn_long.yaml
    python tools/train_net.py --config-file CFG --eval-only MODEL.WEIGHTS model_final.pth
    python tools/train_net.py --config-file CFG --resume          # continue from OUTPUT_DIR
    python tools/train_net.py --config-file CFG --num-gpus 8 SOLVER.IMS_PER_BATCH 16

Trailing KEY VALUE pairs override the config; flags may come before or after them. Without a GPU
it runs on the CPU; --num-gpus N then starts N CPU processes (gloo). Under torchrun, each process
joins the job torchrun started:
    torchrun --nproc_per_node 2 tools/train_net.py --config-file CFG

Problems with the config, the datasets or the weights stop the run before training starts, with a
one-line "gn_det: error: ..." message (see gn_det.engine.preflight).
"""
import sys

import gn_det  # noqa: F401  (first: fixes detectron2 v0.6 and registers gn_det's components)
from detectron2.engine import default_argument_parser, default_setup
from detectron2.utils import comm

from gn_det.cli import parse_args
from gn_det.config import load_config
from gn_det.data import check_categories
from gn_det.engine import Trainer, launch
from gn_det.engine.logs import setup_logging
from gn_det.engine.trained_model import evaluate_trained_model
from gn_det.errors import USER_ERRORS


def setup(args):
    cfg = load_config(args.config_file, args.opts)
    cfg.freeze()
    check_categories(cfg)  # before default_setup writes anything to OUTPUT_DIR
    # detectron2's and gn_det's loggers (gn_det's: dataset summaries, the training stream), with
    # colour codes only on a terminal; default_setup then reuses them.
    setup_logging(cfg.OUTPUT_DIR, comm.get_rank())
    default_setup(cfg, args)
    return cfg


def main(args):
    cfg = setup(args)
    if args.eval_only:
        return evaluate_trained_model(cfg, resume=args.resume)
    trainer = Trainer(cfg)
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()


def argument_parser():
    parser = default_argument_parser()
    parser.add_argument("--config", dest="config_file", metavar="FILE",
                        help="path to config file (same as --config-file)")
    return parser


def run(argv=None):
    args = parse_args(argument_parser(), argv)
    try:
        launch(main, args.num_gpus, num_machines=args.num_machines,
               machine_rank=args.machine_rank, dist_url=args.dist_url, args=(args,))
    except USER_ERRORS as error:
        sys.exit(f"gn_det: error: {error}")


if __name__ == "__main__":
    run()
