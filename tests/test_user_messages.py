"""What a user sees when a tool is given bad input: one "gn_det: error: ..." line naming the file
or key and the fix, a non-zero exit status, and no traceback. Each row runs a tool as a user would
(a subprocess) on input that fails before any heavy work."""
import os
import subprocess
import sys

import pytest

from conftest import CONFIG_DIR

REPO = os.path.dirname(CONFIG_DIR)
SHAPES_CONFIG = os.path.join(CONFIG_DIR, "shapes_mask_rcnn_R18_FPN_gn.yaml")


def _plot_a_file_that_is_not_a_run(tmp_path):
    (tmp_path / "log.txt").write_text("not metrics\n")
    return ["tools/plot_metrics.py", str(tmp_path / "log.txt"), "--output", str(tmp_path / "c.png")]


def _report_of_a_folder_without_results(tmp_path):
    return ["tools/ablate.py", "--report-only", "--output-dir", str(tmp_path / "never_ran")]


def _malformed_yaml(tmp_path):
    (tmp_path / "bad.yaml").write_text("MODEL:\n  WEIGHTS: a: b\n")
    return ["tools/train_net.py", "--config-file", str(tmp_path / "bad.yaml")]


def _missing_base(tmp_path):
    (tmp_path / "leaf.yaml").write_text('_BASE_: "Base-Gone.yaml"\n')
    return ["tools/train_net.py", "--config-file", str(tmp_path / "leaf.yaml")]


def _flags_after_a_mistyped_override(tmp_path):
    return ["tools/train_net.py", "--config-file", SHAPES_CONFIG, "SOLVER.BASE_LRR", "0.1",
            "--num-gpus", "1", "--resume", "OUTPUT_DIR", str(tmp_path)]


def _export_with_a_missing_sample_image(tmp_path):
    return ["tools/export_model.py", "--config-file", SHAPES_CONFIG, "--format", "onnx",
            "--output", str(tmp_path / "exported"), "--sample-image", str(tmp_path / "photo.jpg")]


# (command builder, words the error line must contain)
CASES = {
    "plot_metrics on a file": (_plot_a_file_that_is_not_a_run,
                               ["log.txt is a file", "metrics.json"]),
    "ablate --report-only without results": (_report_of_a_folder_without_results,
                                             ["No results.json in", "never_ran", "first"]),
    "malformed YAML": (_malformed_yaml, ["bad.yaml is not valid YAML", "line 2, column 13"]),
    "missing _BASE_": (_missing_base, ["_BASE_ file not found", "'Base-Gone.yaml' in",
                                       "leaf.yaml", "relative to the file that names it"]),
    "flags after the overrides": (_flags_after_a_mistyped_override,
                                  ["Unknown config key SOLVER.BASE_LRR", "SOLVER.BASE_LR?"]),
    "export with a missing sample image": (_export_with_a_missing_sample_image,
                                           ["--sample-image", "photo.jpg: no such file"]),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_error_line_without_traceback(case, tmp_path):
    build_command, words = CASES[case]
    result = subprocess.run([sys.executable, *build_command(tmp_path)], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    last_line = result.stderr.strip().splitlines()[-1]
    assert result.returncode != 0
    assert last_line.startswith("gn_det: error: "), result.stderr
    assert all(word in last_line for word in words), last_line
    assert "Traceback" not in result.stdout + result.stderr
    assert "can't open/read file" not in result.stderr  # OpenCV's own warning
    assert not (tmp_path / "never_ran").exists()


def test_a_tools_help_is_all_it_prints():
    # No FutureWarnings from fvcore's and detectron2's torch.jit.script calls at import.
    result = subprocess.run([sys.executable, "tools/train_net.py", "--help"], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.startswith("usage: ")
    assert result.stderr == ""
