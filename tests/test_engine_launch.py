"""Multi-process training on CPU (gloo): torchrun and --num-gpus both give one consistent run."""
import json
import os
import subprocess
import sys

import pytest

from conftest import CONFIG_DIR

ROOT = os.path.dirname(CONFIG_DIR)
DEMO_CONFIG = os.path.join(CONFIG_DIR, "shapes_mask_rcnn_R18_FPN_gn.yaml")
TINY_RUN = ["SOLVER.MAX_ITER", "4", "SOLVER.IMS_PER_BATCH", "4", "TEST.EVAL_PERIOD", "0",
            "DATASETS.TEST", "()", "DATALOADER.NUM_WORKERS", "0"]
TORCHRUN = os.path.join(os.path.dirname(sys.executable), "torchrun")


def run(command, output_dir):
    result = subprocess.run(command + ["OUTPUT_DIR", str(output_dir)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.parametrize("launcher", ["torchrun", "num-gpus"])
def test_two_cpu_processes_write_one_run_that_evaluates_in_one_process(launcher, tmp_path):
    if launcher == "torchrun":
        command = [TORCHRUN, "--nproc_per_node", "2", "tools/train_net.py"]
    else:
        command = [sys.executable, "tools/train_net.py", "--num-gpus", "2"]
    output = tmp_path / "run"
    run(command + ["--config", DEMO_CONFIG, *TINY_RUN], output)

    files = sorted(os.listdir(output))
    assert [f for f in files if f.endswith(".pth")] == ["model_final.pth"]
    assert len([f for f in files if f.startswith("events.out")]) == 1
    assert "log.txt.rank1" in files  # the second process ran, and only rank 0 wrote results
    # Each process trained on its own half of every batch: rank r of 2 reads positions r, r + 2, ...
    assert "rank 0 of 2 reads positions 0, 2, ..." in (output / "log.txt").read_text()
    assert "rank 1 of 2 reads positions 1, 3, ..." in (output / "log.txt.rank1").read_text()
    metrics = [json.loads(line) for line in (output / "metrics.json").read_text().splitlines()]
    assert metrics[-1]["iteration"] == 3 and "total_loss" in metrics[-1]

    evaluation = run([sys.executable, "tools/train_net.py", "--config", DEMO_CONFIG,
                      "--eval-only", "MODEL.WEIGHTS", str(output / "model_final.pth")],
                     tmp_path / "eval")
    assert "copypaste: Task: segm" in evaluation.stdout + evaluation.stderr


def test_batch_not_divisible_by_processes_is_one_line_before_training(tmp_path):
    result = subprocess.run(
        [sys.executable, "tools/train_net.py", "--num-gpus", "2", "--config", DEMO_CONFIG,
         *TINY_RUN, "SOLVER.IMS_PER_BATCH", "3", "OUTPUT_DIR", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert ("gn_det: error: SOLVER.IMS_PER_BATCH=3 is not divisible by the 2 training processes"
            in result.stderr)
    assert "Traceback" not in result.stderr  # the worker's error reaches the launcher as one line
