"""gn_det.engine.logs: tools/train_net.py's logs carry no colour codes when not on a terminal."""
import os
import subprocess
import sys

from conftest import CONFIG_DIR

REPO = os.path.dirname(CONFIG_DIR)

# train_net's setup (load_config, setup_logging, default_setup), then a warning and a model summary.
SCRIPT = """
import logging, sys
sys.path.insert(0, "tools")
import train_net
from gn_det.engine.logs import setup_logging

cfg = train_net.setup(train_net.argument_parser().parse_args(sys.argv[1:]))
logging.getLogger("detectron2.engine").warning("a warning")
setup_logging(cfg.OUTPUT_DIR, model_on_console=False)
logging.getLogger("gn_det.engine.trainer").info("Model:\\nGeneralizedRCNN(...)")
"""


def test_train_net_logs_to_a_pipe_and_to_log_txt_without_colour_codes(tmp_path):
    # FORCE_COLOR makes termcolor colour a pipe, as older termcolor releases always did; pygments
    # (detectron2's config highlighting) colours whatever the terminal.
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, "--config-file",
         f"{CONFIG_DIR}/shapes_mask_rcnn_R18_FPN_gn.yaml", "OUTPUT_DIR", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "FORCE_COLOR": "1"})
    assert result.returncode == 0, result.stderr
    log_file = (tmp_path / "log.txt").read_text()
    for output in (result.stdout, log_file):
        assert "\x1b[" not in output
        assert output.count("Running with full config:") == 1  # default_setup reused the loggers
        assert "WARNING" in output and "a warning" in output
    assert "GeneralizedRCNN(...)" in log_file and "GeneralizedRCNN(...)" not in result.stdout
