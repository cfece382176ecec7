import pytest
from detectron2.config import get_cfg

from conftest import CONFIG_DIR
from gn_det.config import add_gn_config, load_config
from gn_det.errors import ConfigError


def test_add_gn_config_adds_the_gn_keys_with_paper_defaults():
    gn = add_gn_config(get_cfg()).MODEL.GN
    assert (gn.NUM_GROUPS, gn.DIM_PER_GROUP, gn.EPSILON, gn.WEIGHT_STANDARDIZATION) == (
        32, -1, 1e-5, False)


def test_add_gn_config_is_idempotent_and_keeps_values():
    cfg = add_gn_config(get_cfg())
    cfg.MODEL.GN.NUM_GROUPS = 16
    add_gn_config(cfg)
    assert cfg.MODEL.GN.NUM_GROUPS == 16


def test_missing_config_file_says_where_presets_are():
    with pytest.raises(ConfigError, match=r"Config file not found: nope.yaml.*configs/"):
        load_config("nope.yaml")


def test_unknown_key_in_a_file_names_the_file_and_the_nearest_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("MODEL:\n  GN:\n    NUM_GROUP: 8\n")
    with pytest.raises(ConfigError, match=rf"MODEL.GN.NUM_GROUP in {bad}.*MODEL.GN.NUM_GROUPS\?"):
        load_config(str(bad))


def test_unknown_key_on_the_command_line_names_the_nearest_key():
    with pytest.raises(ConfigError, match=r"SOLVER.BASE_LRR in the command-line.*SOLVER.BASE_LR\?"):
        load_config(f"{CONFIG_DIR}/mask_rcnn_R50_FPN_gn.yaml", ["SOLVER.BASE_LRR", "0.1"])


def test_wrong_type_is_one_clear_line():
    with pytest.raises(ConfigError, match=r"Type mismatch.*SOLVER.BASE_LR"):
        load_config(f"{CONFIG_DIR}/mask_rcnn_R50_FPN_gn.yaml", ["SOLVER.BASE_LR", "abc"])


def test_odd_number_of_overrides_is_an_error():
    with pytest.raises(ConfigError, match="KEY VALUE pairs"):
        load_config(f"{CONFIG_DIR}/mask_rcnn_R50_FPN_gn.yaml", ["SOLVER.BASE_LR"])


def test_cuda_device_falls_back_to_cpu_without_a_gpu():
    import torch

    cfg = load_config(f"{CONFIG_DIR}/mask_rcnn_R50_FPN_gn.yaml")
    assert cfg.MODEL.DEVICE == ("cuda" if torch.cuda.is_available() else "cpu")
