#!/usr/bin/env python
"""Train or evaluate a gn_det model from a LazyConfig (Python) config, in detectron2's conventions
(its tools/lazyconfig_train_net.py):

    python tools/lazyconfig_train_net.py --config-file configs/lazy/mask_rcnn_R50_FPN_gn_100ep_LSJ.py
    python tools/lazyconfig_train_net.py --config-file CFG --eval-only train.init_checkpoint=model_final.pth
    python tools/lazyconfig_train_net.py --config-file CFG --resume       # continue from train.output_dir
    python tools/lazyconfig_train_net.py --config-file CFG --num-gpus 8 train.max_iter=100

Trailing key=value tokens override the config (a key the config does not have is an error; +key=value
adds one). It runs the YAML tool's trainer (gn_det.engine.LazyTrainer: the same dataset checks,
weights coverage and strict mode, atomic checkpoints, exact resume, divergence stop and COCO
evaluation); problems stop the run with one line "gn_det: error: ...".
"""
import sys

import gn_det  # noqa: F401  (first: fixes detectron2 v0.6 and registers gn_det's components)
from detectron2.engine import default_argument_parser, default_setup
from detectron2.utils import comm

from gn_det.cli import parse_args
from gn_det.data import check_categories
from gn_det.engine import launch
from gn_det.engine.lazy_trainer import LazyTrainer
from gn_det.engine.logs import setup_logging
from gn_det.engine.trained_model import evaluate_trained_model
from gn_det.errors import USER_ERRORS
from gn_det.lazy import in_lazy_terms, load_lazy_config, training_view


def setup(args):
    cfg = load_lazy_config(args.config_file, args.opts)
    view = training_view(cfg)
    check_categories(view)  # before default_setup writes anything to the output folder
    setup_logging(view.OUTPUT_DIR, comm.get_rank())
    default_setup(cfg, args)  # logs the config and saves it as config.yaml
    return view


def main(args):
    cfg = setup(args)
    if args.eval_only:
        return evaluate_trained_model(cfg, resume=args.resume, trainer=LazyTrainer)
    trainer = LazyTrainer(cfg)
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()


def run(argv=None):
    args = parse_args(default_argument_parser(), argv, override_tokens=1)
    try:
        launch(main, args.num_gpus, num_machines=args.num_machines,
               machine_rank=args.machine_rank, dist_url=args.dist_url, args=(args,))
    except USER_ERRORS as error:
        sys.exit(f"gn_det: error: {in_lazy_terms(str(error))}")


if __name__ == "__main__":
    run()
