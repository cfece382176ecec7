"""tools/lazyconfig_train_net.py and gn_det.lazy.config: bad input is one line, overrides are
checked against the config, and gn_det's engine reads a lazy config through its training view."""
import os
import sys

import pytest

from conftest import CONFIG_DIR
from gn_det.engine.lazy_trainer import LazyTrainer
from gn_det.lazy import in_lazy_terms, load_lazy_config, training_view

sys.path.insert(0, os.path.join(os.path.dirname(CONFIG_DIR), "tools"))
import lazyconfig_train_net  # noqa: E402

SHAPES = os.path.join(CONFIG_DIR, "lazy", "shapes_mask_rcnn_R18_FPN_gn.py")
SHAPES_LSJ = os.path.join(CONFIG_DIR, "lazy", "shapes_mask_rcnn_R18_FPN_gn_LSJ.py")


def error_line(capsys_or_none, *argv):
    with pytest.raises(SystemExit) as stop:
        lazyconfig_train_net.run(list(argv))
    message = str(stop.value.code)
    assert message.startswith("gn_det: error: ") and "\n" not in message, message
    return message


def test_missing_config_file_is_one_line():
    assert "Config file not found: nope.py" in error_line(None, "--config-file", "nope.py")


def test_typo_in_an_override_key_names_the_nearest_key():
    message = error_line(None, "--config-file", SHAPES, "train.max_iters=100")
    assert "Unknown config key train.max_iters" in message
    assert "Did you mean train.max_iter?" in message


def test_group_norm_groups_that_do_not_divide_name_the_layer_and_the_field(tmp_path):
    message = error_line(None, "--config-file", SHAPES_LSJ, "gn.num_groups=24",
                         f"train.output_dir={tmp_path}")
    assert ("GroupNorm in backbone.bottom_up.stem: gn.num_groups=24 does not divide its 32 "
            "channels") in message


def test_a_yaml_preset_is_sent_to_the_yaml_tool():
    message = error_line(None, "--config-file", os.path.join(CONFIG_DIR, "mask_rcnn_R50_FPN_gn.yaml"))
    assert "tools/train_net.py" in message


def test_override_without_equals_sign_is_one_line():
    assert "is not key=value" in error_line(None, "--config-file", SHAPES, "train.max_iter")


def test_overrides_reach_the_config_and_may_set_a_default_argument():
    cfg = load_lazy_config(SHAPES, ["train.max_iter=7", "dataloader.train.aspect_ratio_grouping=False",
                                    "+train.note=x"])
    assert cfg.train.max_iter == 7 and cfg.dataloader.train.aspect_ratio_grouping is False
    assert cfg.train.note == "x"


def test_flags_may_follow_the_overrides():
    args = lazyconfig_train_net.parse_args(
        lazyconfig_train_net.default_argument_parser(),
        ["--config-file", SHAPES, "train.max_iter=7", "--resume", "gn.eps=0.001"],
        override_tokens=1)
    assert args.resume and args.opts == ["train.max_iter=7", "gn.eps=0.001"]


def test_training_view_feeds_the_yaml_trainers_checks_in_lazy_terms():
    cfg = load_lazy_config(os.path.join(CONFIG_DIR, "lazy", "mask_rcnn_R50_FPN_gn.py"),
                           ["train.init_checkpoint="])
    view = training_view(cfg)
    assert (view.MODEL.WEIGHTS, view.MODEL.BACKBONE.FREEZE_AT, view.SOLVER.IMS_PER_BATCH) == ("", 2, 16)
    with pytest.raises(Exception) as error:
        LazyTrainer(view)  # Trainer.__init__: check_training_config, before any model is built
    message = in_lazy_terms(str(error.value))
    assert message.startswith("train.init_checkpoint is empty (training from scratch) but "
                              "model.backbone.bottom_up.freeze_at is 2")
