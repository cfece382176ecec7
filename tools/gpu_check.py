#!/usr/bin/env python
"""GPU readiness in a few minutes on one CUDA GPU: the fast path (COMPILE and CHANNELS_LAST on)
against eager on CUDA, 20 training iterations with and without SOLVER.AMP.ENABLED, and the
benchmark table (GN vs BN* vs detectron2's own GN model: s/image, s/iteration, peak memory).

    python tools/gpu_check.py [--output-dir output/gpu_check]

Without a CUDA GPU it says so and exits 0. Exits 1 when a check fails. Logic:
gn_det.benchmark.gpu.
"""
import argparse
import json
import os
import sys

import gn_det  # noqa: F401  (first: detectron2 fixes and registration)
import torch


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default="output/gpu_check")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per model")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print(f"gpu_check: no CUDA GPU found (torch {torch.__version__}, "
              "torch.cuda.is_available() is False): nothing to check on this machine.")
        return 0

    from gn_det.benchmark import write_report
    from gn_det.benchmark.gpu import run_gpu_check

    results, benchmark = run_gpu_check("cuda", args.repeats)
    table = write_report(benchmark, args.output_dir)
    with open(os.path.join(args.output_dir, "gpu_check.json"), "w") as f:
        json.dump(results, f, indent=1)
    parity, training = results["parity"], results["amp_training"]
    print(f"GPU: {results['device']}")
    print(f"Fast path vs eager on CUDA, {parity['images']} shapes_val images, every detection "
          f"matched: {'yes' if parity['all_matched'] else 'NO'}")
    for name, run in training.items():
        finite = "finite" if run["finite"] else "NOT finite"
        print(f"20 training iterations, {name}: {run['seconds_per_iteration']:.3f} s/iteration, "
              f"last total loss {run['last_total_loss']:.3f} ({finite})")
    print(table)
    return 0 if parity["all_matched"] and all(r["finite"] for r in training.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
