#!/usr/bin/env python
"""CPU ablations of GN's detection claims on the shapes set: box-head norm, from scratch, groups and
batch size; writes results.json, results.md (mean ± std, claim-by-claim verdicts) and PNG plots.

    python tools/ablate.py --output-dir output/ablation                # 28 trainings, ~55 min, 2 cores
    python tools/ablate.py --quick --output-dir /tmp/ablate_quick      # end-to-end check, seconds
    python tools/ablate.py --report-only --output-dir output/ablation  # report from results.json

Runs are trained one after another in this process, seed by seed (all cells at seed 0 first), and
results.json/results.md/plots are rewritten after every run, so an interrupted run still reports
what finished. Cells that resolve to the same config are trained once and shared between studies.
Each run's folder, OUTPUT_DIR/runs/<settings>_seed<N> (e.g. the all-GN model's
res-GN_fpn-GN_box-GN_mask-GN_G32_ims2_seed0), holds its config.yaml, metrics and model; the console
shows progress, OUTPUT_DIR/log.txt everything.
"""
import argparse
import json
import os
import sys
import time

import gn_det  # noqa: F401  (first: fixes detectron2 v0.6 and registers gn_det's components)

from gn_det.ablation import (QUICK_IMAGES, QUICK_VAL_IMAGES, plan, register_val_subset, studies,
                             train_cell, write_report)
from gn_det.engine.logs import setup_logging
from gn_det.errors import USER_ERRORS, GNDetError

CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs",
                      "shapes_mask_rcnn_R18_FPN_ablation.yaml")


def argument_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output-dir", default="output/ablation")
    parser.add_argument("--config-file", default=CONFIG)
    parser.add_argument("--seeds", type=int, default=2, help="seeds per cell")
    parser.add_argument("--images", type=int, default=800,
                        help="training images seen per run (iterations = images / batch)")
    parser.add_argument("--val-images", type=int, default=None,
                        help="evaluate on the first N shapes_val images (0: all 200; default 100, "
                             "8 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help=f"2 cells per study, 1 seed, {QUICK_IMAGES} images, "
                             f"{QUICK_VAL_IMAGES} val images: checks the pipeline, its APs mean "
                             "nothing")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the report from OUTPUT_DIR/results.json")
    return parser


def report_only(args):
    """Rewrite the report of OUTPUT_DIR from its results.json."""
    results = os.path.join(args.output_dir, "results.json")
    if not os.path.isfile(results):
        raise GNDetError(f"No results.json in {args.output_dir}: --report-only rewrites the report "
                         "of an ablation run; run tools/ablate.py --output-dir "
                         f"{args.output_dir} first.")
    with open(results) as f:
        saved = json.load(f)
    quick = saved.get("quick", False)
    return write_report(saved["runs"], studies(args.images, quick=quick), args.output_dir,
                        saved["wall_seconds"], quick)


def main(args):
    if args.report_only:
        return report_only(args)
    if args.quick:
        args.seeds, args.images = 1, QUICK_IMAGES
    if args.val_images is None:
        args.val_images = QUICK_VAL_IMAGES if args.quick else 100
    study_list = studies(args.images, quick=args.quick)
    extra = ["DATALOADER.NUM_WORKERS", "0"]
    if args.val_images:
        extra += ["DATASETS.TEST", f"('{register_val_subset(args.val_images)}',)"]
    names, runs_planned = plan(args.config_file, study_list, extra, args.seeds)
    os.makedirs(args.output_dir, exist_ok=True)
    setup_logging(args.output_dir, model_on_console=False)
    start, runs, text = time.perf_counter(), [], ""
    for index, (run_name, name, overrides, seed) in enumerate(runs_planned):
        run_dir = os.path.join(args.output_dir, "runs", run_name)
        print(f"[ablate] run {index + 1}/{len(runs_planned)}: {run_name}", flush=True)
        box_ap, mask_ap, seconds = train_cell(args.config_file, overrides, seed, run_dir)
        runs += [{"study": study, "cell": cell, "seed": seed, "box_ap": box_ap, "mask_ap": mask_ap,
                  "seconds": seconds, "output_dir": run_dir}
                 for (study, cell), cell_name in names.items() if cell_name == name]
        text = write_report(runs, study_list, args.output_dir, time.perf_counter() - start,
                            args.quick)
        print(f"[ablate] run {index + 1}/{len(runs_planned)} done: box AP {box_ap:.1f}, "
              f"mask AP {mask_ap:.1f}, {seconds:.0f} s", flush=True)
    print(text)
    return text


def run(argv=None):
    try:
        main(argument_parser().parse_args(argv))
    except USER_ERRORS as error:
        sys.exit(f"gn_det: error: {error}")


if __name__ == "__main__":
    run()
