"""``MODEL.FAST_PATH.REUSE_CPU_MEMORY`` measured: s/image and page faults with and without it.

The setting is process-wide (:mod:`gn_det.cpu_allocator`), so each measurement runs in a fresh
process; processes with it off and on alternate (off, on, off, on, ...) so that load from other
processes affects both alike. Run as a module, one process's measurement:
``python -m gn_det.benchmark.allocator MODEL_ID on|off CALLS THREADS`` prints JSON.
"""
import json
import resource
import statistics
import subprocess
import sys

import torch

from .models import MODELS, build_models, inference_input, model_config
from .timing import summary, timed


def _measure_in_this_process(model_id, reuse, calls):
    """s/image and minor page faults per call of ``model_id`` (the benchmark's image and weights)
    with REUSE_CPU_MEMORY ``reuse``, after one warm-up call."""
    # This process measures one setting: add it to the model's overrides.
    MODELS[model_id].overrides = [*MODELS[model_id].overrides,
                                  "MODEL.FAST_PATH.REUSE_CPU_MEMORY", reuse]
    image = inference_input(model_config(model_id, "cpu"), "cpu")
    _, model = build_models([model_id], "cpu", image)[model_id]
    seconds, faults = [], []
    with torch.no_grad():
        model([image])
        for _ in range(calls):
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            seconds.append(timed(lambda: model([image]), "cpu")[0])
            faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return {"seconds": seconds, "page_faults": faults}


def allocator_part(model_id="gn_default", processes=3, calls=3):
    """``processes`` fresh processes per setting, alternating, ``calls`` timed calls each."""
    measured = {"off": {"seconds": [], "page_faults": []}, "on": {"seconds": [], "page_faults": []}}
    for _ in range(processes):
        for setting in ("off", "on"):
            child = subprocess.run(
                [sys.executable, "-m", __name__, model_id, setting, str(calls),
                 str(torch.get_num_threads())], capture_output=True, text=True)
            if child.returncode != 0:
                raise RuntimeError(f"the REUSE_CPU_MEMORY {setting} measurement process failed:\n"
                                   f"{child.stderr[-4000:]}")
            result = json.loads(child.stdout.strip().splitlines()[-1])
            for key in measured[setting]:
                measured[setting][key] += result[key]
    return {"model": model_id, "processes": processes, "calls": calls,
            **{setting: {"seconds": summary(m["seconds"]),
                         "page_faults_median": statistics.median_low(m["page_faults"])}
               for setting, m in measured.items()}}


if __name__ == "__main__":
    model_id, setting, calls, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    print(json.dumps(_measure_in_this_process(model_id, setting == "on", calls)))
