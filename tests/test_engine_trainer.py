"""The trainer resumes exactly: a run killed with SIGKILL and continued with --resume trains its
remaining iterations with the learning rate, data, randomness and losses of a run that was never
interrupted, and ends with bit-identical weights."""
import os
import signal

import pytest
import torch

from conftest import preset_cfg
from gn_det.engine import Trainer
from gn_det.layers import FusedConv2d
from test_tools_train_net import load_tool
from training_process import DEMO_CONFIG, TINY_RUN, last_checkpoint, start_training, wait_until

# 6 iterations, a checkpoint after iterations 1, 3 and 5 (the LR drops at 4, see TINY_RUN).
RUN = ["SOLVER.MAX_ITER", "6", "SOLVER.CHECKPOINT_PERIOD", "2"]
SCALARS = ("total_loss", "loss_cls", "loss_box_reg", "loss_mask", "loss_rpn_cls", "loss_rpn_loc",
           "lr")


@pytest.fixture(scope="module")
def train_net():
    return load_tool("train_net")


def train_in_process(train_net, output, *flags):
    """tools/train_net.py's main, keeping the trainer to read its per-iteration values."""
    args = train_net.argument_parser().parse_args(
        [*flags, "--config", DEMO_CONFIG, *TINY_RUN, *RUN, "OUTPUT_DIR", str(output)])
    trainer = Trainer(train_net.setup(args))
    trainer.resume_or_load(resume=args.resume)
    trainer.train()
    return trainer


def per_iteration(trainer, first):
    return {name: {iteration: value for value, iteration in trainer.storage.history(name).values()
                   if iteration >= first} for name in SCALARS}


def checkpoint(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def assert_same_weights(path, expected_path):
    weights, expected = checkpoint(path)["model"], checkpoint(expected_path)["model"]
    assert weights.keys() == expected.keys()
    assert [key for key in weights if not torch.equal(weights[key], expected[key])] == []


def test_a_run_killed_with_sigkill_resumes_as_if_never_interrupted(train_net, shapes_train_env,
                                                                    tmp_path):
    killed, reference = tmp_path / "killed", tmp_path / "reference"
    process = start_training(killed, shapes_train_env, *RUN)
    wait_until(lambda: last_checkpoint(killed) is not None, process, killed)
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    kept = last_checkpoint(killed)
    assert kept != "model_final.pth"
    assert checkpoint(killed / kept)["trainer"]["_trainer"]["optimizer"]["state"]

    resumed = train_in_process(train_net, killed, "--resume")
    uninterrupted = train_in_process(train_net, reference)

    start = checkpoint(killed / kept)["iteration"] + 1
    assert resumed.start_iter == start < 6
    assert per_iteration(resumed, start) == per_iteration(uninterrupted, start)
    # The killed process had computed its checkpoint exactly as the uninterrupted run did.
    assert_same_weights(killed / kept, reference / kept)
    assert_same_weights(killed / "model_final.pth", reference / "model_final.pth")


def test_a_resumed_run_follows_the_lr_schedule_of_its_config_not_the_checkpoints(
        train_net, small_shapes, tmp_path):
    # The documented remedy for a diverged run: lower SOLVER.BASE_LR, continue with --resume.
    def run(*flags_and_overrides):
        *flags, overrides = flags_and_overrides
        args = train_net.argument_parser().parse_args(
            [*flags, "--config", DEMO_CONFIG, *TINY_RUN, *overrides, "OUTPUT_DIR", str(tmp_path)])
        trainer = Trainer(train_net.setup(args))
        trainer.resume_or_load(resume=args.resume)
        trainer.train()
        return trainer

    run(["SOLVER.MAX_ITER", "2", "SOLVER.BASE_LR", "0.02"])
    resumed = run("--resume", ["SOLVER.MAX_ITER", "5", "SOLVER.BASE_LR", "0.005",
                               "SOLVER.WEIGHT_DECAY", "0.0"])

    # TINY_RUN's schedule at 0.005: warm-up over iterations 0-1, x0.1 (SOLVER.GAMMA) from 4.
    assert per_iteration(resumed, 2)["lr"] == pytest.approx({2: 0.005, 3: 0.005, 4: 0.0005},
                                                            rel=1e-12)
    assert {group["weight_decay"] for group in resumed.optimizer.param_groups} == {0.0}
    log = (tmp_path / "log.txt").read_text()
    assert ("Resuming at iteration 2 with the config's optimizer settings, which differ from the "
            "checkpoint's: base LR 0.02 -> 0.005; weight_decay 0/0.0001 -> 0. The LR follows the "
            "config's schedule: 0.005 now.") in log


def test_a_random_seed_is_drawn_once_and_kept_in_the_checkpoints(train_net, small_shapes,
                                                                 tmp_path):
    def trainer():
        args = train_net.argument_parser().parse_args(
            ["--config", DEMO_CONFIG, *TINY_RUN, *RUN, "SEED", "-1", "OUTPUT_DIR", str(tmp_path)])
        return Trainer(train_net.setup(args))

    first, second = trainer(), trainer()
    assert first.seed != second.seed
    second.load_state_dict(first.state_dict())
    assert second.seed == first.seed


@pytest.mark.parametrize("enabled", [True, False])
def test_the_trainer_builds_the_model_on_the_configured_fast_path(enabled):
    cfg = preset_cfg("shapes_mask_rcnn_R18_FPN_gn.yaml", "MODEL.FAST_PATH.ENABLED", str(enabled))
    model = Trainer.build_model(cfg)
    # detectron2 builds the RPN head; gn_det's build_model converts it too.
    assert isinstance(model.proposal_generator.rpn_head.conv, FusedConv2d) is enabled
    assert isinstance(model.backbone.bottom_up.stem.conv1, FusedConv2d) is enabled


@pytest.mark.parametrize("backend", ["pycocotools", "faster_coco_eval"])
def test_the_trainer_evaluates_with_the_configured_backend(backend, small_shapes, tmp_path):
    cfg = preset_cfg("shapes_mask_rcnn_R18_FPN_gn.yaml", "TEST.COCO_EVAL_BACKEND", backend)
    evaluator = Trainer.build_evaluator(cfg, "shapes_val", output_folder=str(tmp_path))
    assert evaluator._backend == backend
    assert evaluator._tasks == ("bbox", "segm")
