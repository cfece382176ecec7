"""Helpers for tests that start tools/train_net.py in a real process, kill it and resume it."""
import os
import subprocess
import sys
import time

from conftest import CONFIG_DIR

ROOT = os.path.dirname(CONFIG_DIR)
DEMO_CONFIG = os.path.join(CONFIG_DIR, "shapes_mask_rcnn_R18_FPN_gn.yaml")
# The demo model on 2 images per iteration, without evaluation; the LR warms up over 2 iterations
# and drops at iteration 4.
TINY_RUN = ["SOLVER.IMS_PER_BATCH", "2", "SOLVER.WARMUP_ITERS", "2", "SOLVER.STEPS", "(4,)",
            "DATASETS.TEST", "()", "DATALOADER.NUM_WORKERS", "0"]


def start_training(output, env, *overrides, flags=()):
    """tools/train_net.py ``flags`` training into ``output`` in a new process; its console goes to
    ``output``.console (a pipe could fill up and stall it)."""
    output.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, os.path.join(ROOT, "tools", "train_net.py"), *flags, "--config",
               DEMO_CONFIG, *TINY_RUN, *overrides, "OUTPUT_DIR", str(output)]
    with open(f"{output}.console", "a") as console:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=console,
                                stderr=subprocess.STDOUT)


def wait_until(condition, process, output, timeout=120, poll=0.005):
    """Poll ``condition()`` until true; fail with the process's console if it ends first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            with open(f"{output}.console") as console:
                raise AssertionError(f"training ended (status {process.returncode}) or timed out "
                                     f"first:\n{console.read()[-3000:]}")
        time.sleep(poll)


def last_checkpoint(output):
    """The name ``last_checkpoint`` holds, or None when there is none."""
    path = output / "last_checkpoint"
    return path.read_text() if path.exists() else None
