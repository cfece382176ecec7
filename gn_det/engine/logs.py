"""The tools' logs: detectron2's loggers, with colour codes only where a terminal shows them.

detectron2 colours its console lines (termcolor) and, in ``default_setup``, the config it logs
(pygments, always, into log.txt too), so a log redirected to a file was full of ANSI escape codes.
:func:`setup_logging` creates the loggers ``default_setup`` would (the same ``setup_logger`` calls,
which detectron2 caches, so ``default_setup`` reuses them) and strips those codes from every
handler that does not write to a terminal.
"""
import logging
import re
import sys

from detectron2.utils.logger import setup_logger

# The loggers the tools write to: detectron2's, fvcore's (checkpoints) and gn_det's.
LOGGERS = ("detectron2", "fvcore", "gn_det")

# ANSI "select graphic rendition" sequences: what termcolor and pygments emit.
_COLOUR_CODE = re.compile(r"\x1b\[[0-9;]*m")


class _PlainText(logging.Formatter):
    """Formats as the wrapped formatter does, without colour codes."""

    def __init__(self, formatter):
        super().__init__()
        self.wrapped = formatter or logging.Formatter()

    def format(self, record):
        return _COLOUR_CODE.sub("", self.wrapped.format(record))


def _without_model_summary(record):
    # The model's module tree (DefaultTrainer logs it, ~1,800 lines for a ResNet) is for the file.
    return not record.getMessage().startswith("Model:\n")


def _is_console(handler):
    return getattr(handler, "stream", None) in (sys.stdout, sys.__stdout__)


def setup_logging(output_dir, rank=0, model_on_console=True):
    """Log to the console (rank 0) and to ``output_dir``/log.txt, as detectron2's tools do; call it
    before ``default_setup``. Files, and a console that is not a terminal, get no colour codes.
    ``model_on_console=False`` leaves the model summary out of the console (it stays in log.txt)."""
    setup_logger(output_dir, distributed_rank=rank, name="fvcore")  # default_setup's two calls
    setup_logger(output_dir, distributed_rank=rank)
    setup_logger(output_dir, distributed_rank=rank, name="gn_det")
    for name in LOGGERS:
        for handler in logging.getLogger(name).handlers:
            shows_colours = _is_console(handler) and handler.stream.isatty()
            if not shows_colours and not isinstance(handler.formatter, _PlainText):
                handler.setFormatter(_PlainText(handler.formatter))
            if _is_console(handler) and not model_on_console:
                if _without_model_summary not in handler.filters:
                    handler.addFilter(_without_model_summary)
