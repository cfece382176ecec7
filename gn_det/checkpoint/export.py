"""Writing converted weights as a detectron2 checkpoint, only when they fit the model."""
import os

from ..errors import GNDetError


class ConversionRefusedError(GNDetError, ValueError):
    """Converted weights that the coverage report flags, or an output that cannot be written."""


def prepare_output(path):
    """Create the folder of ``path`` now, so a bad ``--output`` fails before the conversion."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        raise ConversionRefusedError(
            f"cannot write --output {path}: its folder {folder} cannot be created ({error}). "
            "Pass a path in a writable folder.") from None
    if os.path.isdir(path):
        raise ConversionRefusedError(f"--output {path} is a folder; pass a file name (.pth).")


def require_fitting_weights(report, output):
    """Raise when the report has hints (wrong norm, depth, conventions or format)."""
    if not report.hints:
        return
    causes = " ".join(f"({number}) {hint}" for number, hint in enumerate(report.hints, start=1))
    raise ConversionRefusedError(
        f"not writing {output}: the weights do not fit the model of the config: {causes} Fix the "
        "config or the weights (see the report above), or pass --force to write the tensors "
        "that loaded anyway.")


def detectron2_checkpoint(model, report, source):
    """The loaded tensors of ``model`` as a checkpoint that detectron2 loads by name."""
    state_dict = model.state_dict()
    return {
        "model": {key: state_dict[key] for key in report.loaded},
        "__author__": f"gn_det tools/convert_weights.py from {source}",
        "matching_heuristics": False,
    }
