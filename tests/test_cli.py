"""gn_det.cli.parse_args on detectron2's own default_argument_parser."""
import pytest
from detectron2.engine import default_argument_parser

from gn_det.cli import parse_args


def test_flags_after_the_overrides_are_parsed_as_flags():
    args = parse_args(default_argument_parser(), [
        "--config-file", "a.yaml", "SOLVER.BASE_LR", "0.1", "--resume", "--num-gpus", "2",
        "MODEL.DEVICE", "cpu", "--dist-url=tcp://127.0.0.1:1"])
    assert (args.config_file, args.resume, args.num_gpus, args.dist_url) == (
        "a.yaml", True, 2, "tcp://127.0.0.1:1")
    assert args.opts == ["SOLVER.BASE_LR", "0.1", "MODEL.DEVICE", "cpu"]


def test_override_values_that_look_like_flags_stay_values():
    args = parse_args(default_argument_parser(), ["MODEL.PIXEL_STD", "-1", "--eval-only"])
    assert args.opts == ["MODEL.PIXEL_STD", "-1"] and args.eval_only


def test_flags_before_the_overrides_parse_as_argparse_does():
    argv = ["--num-gpus", "3", "--resume", "SOLVER.MAX_ITER", "10"]
    assert parse_args(default_argument_parser(), argv) == default_argument_parser().parse_args(argv)


def test_an_abbreviated_flag_after_the_overrides_is_accepted_as_before_them():
    args = parse_args(default_argument_parser(), ["SOLVER.MAX_ITER", "1", "--num-gpu", "4"])
    assert args.num_gpus == 4


def test_an_unknown_flag_after_the_overrides_is_argparses_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(default_argument_parser(), ["SOLVER.MAX_ITER", "1", "--num-gpuz", "4"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --num-gpuz" in capsys.readouterr().err
