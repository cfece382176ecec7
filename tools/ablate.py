#!/usr/bin/env python
"""The paper's claims in miniature on the CPU: pretrain BN and GN backbones on the shapes
classification set at 32 to 2 images per batch, fine-tune them as BN* and GN Mask R-CNNs at two
schedules (and, at 1x, from the backbones pretrained at 2 images per batch), and train from scratch
with other norms and groups; every cell with several seeds, every verdict from a 95% interval over
them. Writes results.json, results.md and PNG plots.

    python tools/ablate.py --output-dir output/ablation                # the default run, resumable
    python tools/ablate.py --quick --output-dir /tmp/ablate_quick      # end-to-end check, a minute
    python tools/ablate.py --report-only --output-dir output/ablation  # report from results.json

It prints its estimated wall time before training. Running it again on the same folder continues
an interrupted run: finished runs are never trained again, an unfinished one resumes from its last
checkpoint. Each run's folder, OUTPUT_DIR/runs/<what it trains>, holds its config.yaml, log.txt,
result.json and final weights; OUTPUT_DIR/log.txt holds this tool's progress lines.
"""
import argparse
import json
import os
import sys
import time

import gn_det  # noqa: F401  (first: fixes detectron2 v0.6 and registers gn_det's components)

from gn_det.ablation import (DEFAULT_SCHEDULE, QUICK_SCHEDULE, estimated_wall_seconds, plan,
                             quick_classification_set, run_all, run_name, studies, unfinished,
                             write_report)
from gn_det.data.shapes_classification import ensure_shapes_classification
from gn_det.errors import USER_ERRORS, GNDetError


def argument_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output-dir", default="output/ablation")
    parser.add_argument("--seeds", type=int,
                        help="seeds per cell (default 3; 1 with --quick)")
    parser.add_argument("--workers", type=int, default=2,
                        help="runs trained at the same time, each in its own process (default 2)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads per run (default: CPU cores / workers)")
    parser.add_argument("--quick", action="store_true",
                        help="two cells per study, batch sizes 32 and 2, 1 seed, a few images: "
                             "checks the pipeline, its numbers mean nothing")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the report of OUTPUT_DIR from its results.json")
    return parser


def _say(output_dir, message):
    print(message, flush=True)
    with open(os.path.join(output_dir, "log.txt"), "a") as f:
        f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")


def _previous_results(output_dir):
    path = os.path.join(output_dir, "results.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def report_only(args):
    saved = _previous_results(args.output_dir)
    if saved is None:
        raise GNDetError(f"No results.json in {args.output_dir}: --report-only rewrites the report "
                         "of an ablation run; run tools/ablate.py --output-dir "
                         f"{args.output_dir} first.")
    schedule = QUICK_SCHEDULE if saved["quick"] else DEFAULT_SCHEDULE
    runs = {record["output_dir"] for record in saved["records"]}
    text = write_report(saved["records"], studies(schedule, saved["quick"]), args.output_dir,
                        saved["wall_seconds"], len(runs), saved["quick"])
    print(text)
    return text


def main(args):
    if args.report_only:
        return report_only(args)
    if (args.seeds is not None and args.seeds < 1) or args.workers < 1:
        raise GNDetError("--seeds and --workers must be at least 1.")
    schedule = QUICK_SCHEDULE if args.quick else DEFAULT_SCHEDULE
    seeds = args.seeds or (1 if args.quick else 3)
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.workers)
    study_list = studies(schedule, args.quick)
    cells, runs = plan(study_list, seeds)
    os.makedirs(args.output_dir, exist_ok=True)
    previous = _previous_results(args.output_dir)
    if previous is not None and previous["quick"] != args.quick:
        raise GNDetError(f"{args.output_dir} holds a {'quick' if previous['quick'] else 'full'} "
                         "ablation: give another --output-dir.")
    runs_dir = os.path.join(args.output_dir, "runs")
    data = (quick_classification_set(args.output_dir) if args.quick
            else ensure_shapes_classification())
    todo = unfinished(runs, runs_dir)
    estimate = estimated_wall_seconds(todo, schedule.val_images, args.workers)
    _say(args.output_dir, f"[ablate] {len(runs)} runs ({len(runs) - len(todo)} finished "
                          f"before), {args.workers} at a time with {threads} thread(s) each: "
                          f"estimated wall time {estimate / 60:.0f} min (on this project's "
                          "2-core machine of 2026-12-02; its speed varies about 2x by day)")
    start, earlier = time.perf_counter(), (previous or {}).get("wall_seconds", 0.0)
    records, text = [], ""
    finished = []

    def on_finished(run, result, seconds):
        nonlocal text
        finished.append(run_name(run))
        run_dir = os.path.join(runs_dir, run_name(run))
        for (study, cell, seed), planned in cells.items():
            if planned == run:
                records.append({"study": study, "cell": cell, "seed": seed, "output_dir": run_dir,
                                **{k: result[k] for k in ("box_ap", "mask_ap", "top1_error")
                                   if k in result}})
        wall = earlier + time.perf_counter() - start
        text = write_report(records, study_list, args.output_dir, wall, len(finished), args.quick)
        if seconds:
            metric = (f"top-1 error {result['top1_error']:.1f}%" if "top1_error" in result
                      else f"box AP {result['box_ap']:.1f}, mask AP {result['mask_ap']:.1f}")
            _say(args.output_dir, f"[ablate] {len(finished)}/{len(runs)} {run_name(run)}: "
                                  f"{metric}, {seconds / 60:.1f} min (elapsed "
                                  f"{(time.perf_counter() - start) / 60:.1f} min)")

    run_all(runs, runs_dir, data, schedule.val_images, args.workers, threads, on_finished)
    _say(args.output_dir, f"[ablate] done: {len(runs)} runs, wall time "
                          f"{(earlier + time.perf_counter() - start) / 60:.1f} min in all")
    print(text)
    return text


def run(argv=None):
    try:
        main(argument_parser().parse_args(argv))
    except USER_ERRORS as error:
        sys.exit(f"gn_det: error: {error}")


if __name__ == "__main__":
    run()
