"""tools/train_net.py end to end on a few shapes images: train, checkpoint, evaluate, eval-only."""
import glob
import importlib.util
import json
import os
import subprocess
import sys

import pytest

from conftest import CONFIG_DIR
from training_process import TINY_RUN

ROOT = os.path.dirname(CONFIG_DIR)
DEMO_CONFIG = os.path.join(CONFIG_DIR, "shapes_mask_rcnn_R18_FPN_gn.yaml")
# A few iterations with a checkpoint and an evaluation halfway.
SHORT_RUN = ["SOLVER.MAX_ITER", "6", "SOLVER.IMS_PER_BATCH", "2", "SOLVER.CHECKPOINT_PERIOD", "3",
             "TEST.EVAL_PERIOD", "3", "SOLVER.WARMUP_ITERS", "2", "SOLVER.STEPS", "(4,)",
             "DATALOADER.NUM_WORKERS", "0"]


def load_tool(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "tools", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tool(*args):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def train_net():
    return load_tool("train_net")


def test_training_writes_checkpoints_metrics_events_and_coco_results(train_net, small_shapes,
                                                                      tmp_path):
    output = tmp_path / "run"
    args = train_net.argument_parser().parse_args(
        ["--config", DEMO_CONFIG, *SHORT_RUN, "OUTPUT_DIR", str(output)])
    results = train_net.main(args)

    assert set(results) == {"bbox", "segm"}
    assert 0 <= results["bbox"]["AP"] <= 100 and 0 <= results["segm"]["AP"] <= 100
    assert (output / "last_checkpoint").read_text().strip() == "model_final.pth"
    assert (output / "model_0000002.pth").exists() and (output / "model_final.pth").exists()
    metrics = [json.loads(line) for line in (output / "metrics.json").read_text().splitlines()]
    assert any("total_loss" in m for m in metrics) and any("bbox/AP" in m for m in metrics)
    assert glob.glob(str(output / "events.out.tfevents.*"))
    detections = json.loads(
        (output / "inference" / "shapes_val" / "coco_instances_results.json").read_text())
    assert isinstance(detections, list)

    eval_args = train_net.argument_parser().parse_args(
        ["--config-file", DEMO_CONFIG, "--eval-only", "MODEL.WEIGHTS",
         str(output / "model_final.pth"), "OUTPUT_DIR", str(tmp_path / "eval")])
    assert train_net.main(eval_args)["bbox"]["AP"] == pytest.approx(results["bbox"]["AP"])


@pytest.mark.parametrize("args,message", [
    (["--config", "configs/nope.yaml"], "Config file not found: configs/nope.yaml"),
    (["--config", DEMO_CONFIG, "MODEL.GN.NUM_GROUP", "4"],
     "Unknown config key MODEL.GN.NUM_GROUP in the command-line overrides. Did you mean "
     "MODEL.GN.NUM_GROUPS?"),
    (["--config", DEMO_CONFIG, "DATASETS.TRAIN", "('shapes_trian',)"],
     "Dataset 'shapes_trian' is not registered"),
])
def test_first_errors_are_one_line_without_traceback(args, message):
    result = run_tool("tools/train_net.py", *args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_weights_that_leave_the_resnet_at_random_init_stop_training_before_it_starts(tmp_path):
    weights = tmp_path / "wrong_depth.pth"
    import torch

    torch.save({"model": {"backbone.bottom_up.stem.conv1.weight": torch.zeros(64, 3, 7, 7)}},
               weights)
    result = run_tool("tools/train_net.py", "--config", DEMO_CONFIG, "MODEL.WEIGHTS", str(weights),
                      "OUTPUT_DIR", str(tmp_path / "run"))
    assert result.returncode != 0
    assert "gn_det: error:" in result.stderr and "Traceback" not in result.stderr
    assert "stem.conv1.weight" in result.stderr
    assert not (tmp_path / "run" / "model_final.pth").exists()


def test_a_loss_above_max_loss_stops_training_with_one_line_and_no_traceback(shapes_train_env,
                                                                             tmp_path):
    result = run_tool("tools/train_net.py", "--config", DEMO_CONFIG, *TINY_RUN,
                      "SOLVER.MAX_ITER", "3", "GN_DET.MAX_LOSS", "0.01",
                      "OUTPUT_DIR", str(tmp_path / "run"))
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "GN_DET.MAX_LOSS" in line]
    assert len(lines) == 1 and lines[0].startswith(
        "gn_det: error: Loss above GN_DET.MAX_LOSS at iteration 0: loss_")
    assert "lower SOLVER.BASE_LR" in lines[0] and "continue with --resume" in lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert "Exception during training" not in result.stdout + result.stderr


@pytest.mark.parametrize("overrides,message", [
    ([], "gn_det: error: No weights to evaluate: MODEL.WEIGHTS is empty"),
    (["TEST.COCO_EVAL_BACKEND", "cocoapi"],
     "gn_det: error: TEST.COCO_EVAL_BACKEND='cocoapi' is not a COCO evaluation backend"),
])
def test_eval_only_refuses_a_model_without_weights_and_an_unknown_backend(train_net, overrides,
                                                                          message, tmp_path):
    with pytest.raises(SystemExit) as stop:  # run() prints the one line and exits with it
        train_net.run(["--config", DEMO_CONFIG, "--eval-only", *overrides,
                       "OUTPUT_DIR", str(tmp_path)])
    assert str(stop.value).startswith(message)
