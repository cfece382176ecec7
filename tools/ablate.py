#!/usr/bin/env python
"""CPU ablations of GN's detection claims on the shapes set: box-head norm, from scratch, groups and
batch size; writes results.json, results.md (mean ± std, claim-by-claim verdicts) and PNG plots.

    python tools/ablate.py --output-dir output/ablation                # 28 trainings, ~55 min, 2 cores
    python tools/ablate.py --quick --output-dir /tmp/ablate_quick      # end-to-end check, seconds
    python tools/ablate.py --report-only --output-dir output/ablation  # report from results.json

Runs are trained one after another in this process, seed by seed (all cells at seed 0 first), and
results.json/results.md/plots are rewritten after every run, so an interrupted run still reports
what finished. Cells that resolve to the same config are trained once and shared between studies.
"""
import argparse
import json
import os
import time

import gn_det  # noqa: F401  (first: fixes detectron2 v0.6 and registers gn_det's components)
from detectron2.utils.logger import setup_logger

from gn_det.ablation import register_val_subset, resolved_config, studies, train_cell, write_report

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
                        help="2 cells per study, 1 seed, 16 images, 8 val images")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the report from OUTPUT_DIR/results.json")
    return parser


def plan(args):
    """The study list, {(study, cell): config key} and the ordered distinct runs:
    [(run name, config key, overrides, seed)], all cells at seed 0 first."""
    study_list = studies(args.images, quick=args.quick)
    extra = ["DATALOADER.NUM_WORKERS", "0"]
    if args.val_images:
        extra += ["DATASETS.TEST", f"('{register_val_subset(args.val_images)}',)"]
    keys, distinct = {}, {}
    for study in study_list:
        for cell, overrides in study.cells.items():
            key = resolved_config(args.config_file, overrides + extra)
            keys[study.name, cell] = key
            distinct.setdefault(key, overrides + extra)
    runs = [(f"cell{index:02d}_seed{seed}", key, overrides, seed)
            for seed in range(args.seeds)
            for index, (key, overrides) in enumerate(distinct.items())]
    return study_list, keys, runs


def main(args):
    if args.quick:
        args.seeds, args.images = 1, 16
    if args.val_images is None:
        args.val_images = 8 if args.quick else 100
    os.makedirs(args.output_dir, exist_ok=True)
    study_list, keys, runs_planned = plan(args)
    if args.report_only:
        with open(os.path.join(args.output_dir, "results.json")) as f:
            saved = json.load(f)
        return write_report(saved["runs"], study_list, args.output_dir, saved["wall_seconds"])
    setup_logger(args.output_dir)
    setup_logger(args.output_dir, name="gn_det")
    start, runs, text = time.perf_counter(), [], ""
    for index, (name, key, overrides, seed) in enumerate(runs_planned):
        run_dir = os.path.join(args.output_dir, "runs", name)
        box_ap, mask_ap, seconds = train_cell(args.config_file, overrides, seed, run_dir)
        runs += [{"study": study, "cell": cell, "seed": seed, "box_ap": box_ap, "mask_ap": mask_ap,
                  "seconds": seconds, "output_dir": run_dir}
                 for (study, cell), cell_key in keys.items() if cell_key == key]
        text = write_report(runs, study_list, args.output_dir, time.perf_counter() - start)
        print(f"[ablate] run {index + 1}/{len(runs_planned)} done: box AP {box_ap:.1f}, "
              f"mask AP {mask_ap:.1f}, {seconds:.0f} s", flush=True)
    print(text)
    return text


if __name__ == "__main__":
    main(argument_parser().parse_args())
