"""tools/pretrain_backbone.py: the weights it writes load into the detection model of the same
config with the whole ResNet covered (strict mode, as training loads MODEL.WEIGHTS), also from
torchrun processes; its defaults; bad data is one error line."""
import json
import os
import subprocess
import sys

import pytest
from detectron2.modeling import build_model

from conftest import CONFIG_DIR, TINY_RESNET
from gn_det.checkpoint import load_weights
from gn_det.checkpoint.coverage import RESNET_GROUPS
from gn_det.config import load_config
from gn_det.pretraining import IMAGENET, SHAPES
from test_tools_train_net import load_tool

REPO = os.path.dirname(CONFIG_DIR)
ABLATION_CONFIG = os.path.join(CONFIG_DIR, "shapes_mask_rcnn_R18_FPN_ablation.yaml")
TINY_RUN = ["--epochs", "1", "--batch-size", "8", "--image-size", "32", "--workers", "0"]
TORCHRUN = os.path.join(os.path.dirname(sys.executable), "torchrun")


def strict_coverage_report(overrides, weights):
    """The coverage report of ``weights`` loaded into the ablation preset's detection model."""
    cfg = load_config(ABLATION_CONFIG, [*overrides, "MODEL.WEIGHTS", weights])
    assert cfg.GN_DET.STRICT_BACKBONE_WEIGHTS
    report = load_weights(build_model(cfg), cfg.MODEL.WEIGHTS, strict_backbone=True)
    counts = report.group_counts()
    assert all(counts[group]["loaded"] == counts[group]["in model"] > 0 for group in RESNET_GROUPS)
    assert report.unexpected == [] and report.hints == []
    return report


@pytest.mark.parametrize("norm", ["GN", "FrozenBN"])
def test_written_weights_load_into_the_detection_model_with_full_backbone_coverage(
        norm, tiny_image_folder, tmp_path):
    tool = load_tool("pretrain_backbone")
    overrides = [*TINY_RESNET, "MODEL.RESNETS.NORM", norm]
    result = tool.main(["--data", str(tiny_image_folder), "--output", str(tmp_path), *TINY_RUN,
                        *overrides])

    strict_coverage_report(overrides, str(tmp_path / result["weights"]))


def test_torchrun_processes_train_together_and_evaluate_every_val_image_once(tiny_image_folder,
                                                                             tmp_path):
    command = [TORCHRUN, "--standalone", "--nproc_per_node", "2", "tools/pretrain_backbone.py",
               "--data", str(tiny_image_folder), "--output", str(tmp_path), *TINY_RUN,
               "--batch-size", "4", *TINY_RESNET]
    run = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]

    result = json.loads((tmp_path / "result.json").read_text())
    assert result["processes"] == 2 and result["val_images"] == 20
    assert result["lr"] == pytest.approx(0.1 * 4 * 2 / 256)
    assert run.stdout.count("[pretrain] epoch 1/1") == 1  # the main process reports
    strict_coverage_report(TINY_RESNET, str(tmp_path / "model_final.pth"))


def test_without_data_it_pretrains_on_the_shapes_set_with_the_shapes_recipe(monkeypatch):
    tool = load_tool("pretrain_backbone")
    calls = []
    monkeypatch.setattr(tool, "ensure_shapes_classification", lambda: "/cache/shapes_cls")
    monkeypatch.setattr(tool, "pretrain", lambda *args, **kwargs: calls.append((args, kwargs)))

    tool.main(["--output", "out", "--resume"])

    (cfg, data, recipe, output), kwargs = calls[0]
    assert (data, recipe, output, kwargs["resume"]) == ("/cache/shapes_cls", SHAPES, "out", True)
    assert cfg.MODEL.RESNETS.NORM == "GN" and cfg.MODEL.RESNETS.DEPTH == 18


def test_with_data_the_imagenet_recipe_is_the_default_and_options_override_it():
    tool = load_tool("pretrain_backbone")
    args = tool.argument_parser().parse_args(["--data", "/imagenet", "--batch-size", "16"])

    recipe = tool.recipe_from_args(args)

    assert (recipe.epochs, recipe.image_size, recipe.images_per_batch) == (IMAGENET.epochs, 224, 16)
    assert recipe.total_lr(processes=8) == pytest.approx(0.1 * 16 * 8 / 256)


def _missing_data_folder(tmp_path):
    return str(tmp_path / "imagenet"), "does not exist: --data takes a folder in ImageFolder layout"


def _images_without_class_folders(tmp_path):
    for split in ("train", "val"):
        (tmp_path / split).mkdir()
        (tmp_path / split / "0001.png").write_bytes(b"")
    return str(tmp_path), "train has no class folders: pretraining data must be in ImageFolder"


@pytest.mark.parametrize("make_data", [_missing_data_folder, _images_without_class_folders])
def test_bad_data_is_one_error_line_without_traceback(make_data, tmp_path):
    data, words = make_data(tmp_path)

    result = subprocess.run(
        [sys.executable, "tools/pretrain_backbone.py", "--data", data, "--output",
         str(tmp_path / "out"), "--workers", "0"],
        cwd=REPO, capture_output=True, text=True, timeout=300)

    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith("gn_det: error: ")
    assert words in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
