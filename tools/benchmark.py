#!/usr/bin/env python
"""Side-by-side speed of gn_det's models and detectron2's own GN Mask R-CNN R-50-FPN, in one run.

    python tools/benchmark.py                       # CPU, 2 threads, every part
    python tools/benchmark.py --parts inference limit --repeats 7
    python tools/benchmark.py --device cuda

Every model is built in this process on the same image and weights; compared calls are timed
interleaved (median and range of the repeats); first calls (which include any torch.compile) are
timed apart. The floors, the machine's limit (peak FLOP/s of a matmul and a convolution against the
model's FLOPs per image) and, where a floor is missed, the profile that explains it are printed with
the tables.
Models and parts: gn_det.benchmark. Writes OUTPUT_DIR/benchmark.json and benchmark.md.
"""
import argparse

import gn_det  # noqa: F401  (first: detectron2 fixes and registration)
import torch

from gn_det.benchmark import MODELS, PARTS, run_benchmark, write_report
from gn_det.benchmark.models import TRAINING_MODELS


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (set_num_threads)")
    parser.add_argument("--parts", nargs="+", default=PARTS, choices=PARTS)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--train-models", nargs="+", default=TRAINING_MODELS,
                        choices=list(MODELS))
    parser.add_argument("--repeats", type=int, default=5, help="timed inference calls per model")
    parser.add_argument("--train-repeats", type=int, default=5, help="timed iterations per model")
    parser.add_argument("--demo-repeats", type=int, default=7, help="timed demo iterations")
    parser.add_argument("--kernel-repeats", type=int, default=21)
    parser.add_argument("--output-dir", default="output/benchmark")
    args = parser.parse_args(argv)

    if args.device == "cpu":
        torch.set_num_threads(args.threads)
    results = run_benchmark(args.device, args.parts, args.models, args.train_models, args.repeats,
                            args.train_repeats, args.demo_repeats, args.kernel_repeats)
    results["command"] = vars(args)
    print(write_report(results, args.output_dir))


if __name__ == "__main__":
    main()
