import glob
import subprocess
import sys

import pytest
import torch
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
    cfg = load_config(f"{CONFIG_DIR}/mask_rcnn_R50_FPN_gn.yaml")
    assert cfg.MODEL.DEVICE == ("cuda" if torch.cuda.is_available() else "cpu")


def test_malformed_yaml_names_the_file_and_the_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("MODEL:\n  GN:\n    NUM_GROUPS: 8\n  WEIGHTS: a: b\n")
    with pytest.raises(ConfigError, match=rf"{bad} is not valid YAML: .* at line 4, column 13\."):
        load_config(str(bad))


def test_a_file_without_keys_is_one_clear_line(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    with pytest.raises(ConfigError, match=rf"{empty} holds no config keys"):
        load_config(str(empty))


def test_missing_base_names_the_file_that_refers_to_it_and_the_resolved_path(tmp_path):
    (tmp_path / "sub").mkdir()
    leaf = tmp_path / "sub" / "leaf.yaml"
    leaf.write_text('_BASE_: "../Base-Missing.yaml"\nSOLVER:\n  BASE_LR: 0.1\n')
    with pytest.raises(ConfigError) as error:
        load_config(str(leaf))
    assert str(error.value) == (
        f"_BASE_ file not found: '../Base-Missing.yaml' in {leaf} resolves to "
        f"{tmp_path / 'sub' / '..' / 'Base-Missing.yaml'}, which does not exist (a _BASE_ path is "
        "relative to the file that names it).")


def test_a_missing_base_of_a_base_names_the_intermediate_file(tmp_path):
    (tmp_path / "Base.yaml").write_text('_BASE_: ["Gone.yaml"]\n')
    (tmp_path / "leaf.yaml").write_text('_BASE_: "Base.yaml"\n')
    with pytest.raises(ConfigError, match=rf"'Gone.yaml' in {tmp_path / 'Base.yaml'} resolves"):
        load_config(str(tmp_path / "leaf.yaml"))


def test_gn_det_get_cfg_merges_every_preset():
    from gn_det.config import get_cfg as gn_det_get_cfg

    for path in sorted(glob.glob(f"{CONFIG_DIR}/*.yaml")):
        gn_det_get_cfg().merge_from_file(path)


def test_building_gn_det_components_from_a_config_without_gn_keys_says_to_call_add_gn_config():
    from detectron2.modeling import build_backbone

    cfg = get_cfg()  # detectron2's, without add_gn_config: the bnfrozen presets merge into it
    cfg.merge_from_file(f"{CONFIG_DIR}/mask_rcnn_R50_FPN_bnfrozen.yaml")
    with pytest.raises(ConfigError, match=r"gn_det.config.get_cfg\(\).*add_gn_config\(cfg\)"):
        build_backbone(cfg)


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU fallback happens without a GPU")
def test_cuda_fallback_to_cpu_is_logged_once_per_process():
    code = ("from gn_det.config import load_config\n"
            "for _ in range(3):\n"
            "    assert load_config(None).MODEL.DEVICE == 'cpu'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "MODEL.DEVICE" in line]
    assert lines == ["MODEL.DEVICE is 'cuda' but torch finds no CUDA GPU: running on the CPU "
                     "(MODEL.DEVICE cpu says so and hides this warning)."]
