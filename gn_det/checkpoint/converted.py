"""What every format converter returns: the weights under the model's names, and their origin."""
from dataclasses import dataclass, field
from typing import Optional

import torch

# Pixel values are 0-255: means closer than this are the same convention.
_MEAN_TOLERANCE = 1.0


@dataclass(frozen=True)
class InputConventions:
    """How the weights' authors built the network and fed it images; None where unknown.

    A mismatch does not change any shape, so loading succeeds, but the features are wrong.
    """

    stride_in_1x1: Optional[bool] = None  # stride-2 of a bottleneck in its 1x1 conv (MSRA style)
    input_format: Optional[str] = None  # channel order, "BGR" or "RGB"
    pixel_mean: Optional[tuple[float, float, float]] = None  # in input_format's channel order
    pixel_std: Optional[tuple[float, float, float]] = None

    def config_overrides(self):
        """The known conventions as detectron2 config KEY VALUE pairs, for ``merge_from_list``."""
        keys = {
            "MODEL.RESNETS.STRIDE_IN_1X1": self.stride_in_1x1,
            "INPUT.FORMAT": self.input_format,
            "MODEL.PIXEL_MEAN": None if self.pixel_mean is None else list(self.pixel_mean),
            "MODEL.PIXEL_STD": None if self.pixel_std is None else list(self.pixel_std),
        }
        return [item for key, value in keys.items() if value is not None for item in (key, value)]

    def differences(self, stride_in_1x1, input_format, pixel_mean, pixel_std):
        """``KEY wanted (the model has ...)`` for each known convention the model's setup breaks."""
        found = []
        if self.stride_in_1x1 is not None and stride_in_1x1 not in (None, self.stride_in_1x1):
            found.append(f"MODEL.RESNETS.STRIDE_IN_1X1 {self.stride_in_1x1} "
                         f"(the model has {stride_in_1x1})")
        if self.input_format is not None and input_format not in (None, self.input_format):
            found.append(f"INPUT.FORMAT {self.input_format} (the model has {input_format})")
        if not _close(self.pixel_mean, pixel_mean):
            found.append(f"MODEL.PIXEL_MEAN {list(self.pixel_mean)} (the model has "
                         f"{[round(value, 3) for value in pixel_mean]})")
        if not _close(self.pixel_std, pixel_std, tolerance=1e-3):
            found.append(f"MODEL.PIXEL_STD {list(self.pixel_std)} (the model has "
                         f"{[round(value, 3) for value in pixel_std]})")
        return found


def _close(wanted, actual, tolerance=_MEAN_TOLERANCE):
    if wanted is None or actual is None:
        return True
    return all(abs(a - b) <= tolerance for a, b in zip(wanted, actual))


@dataclass
class ConvertedWeights:
    """A weight file converted for one model.

    ``tensors`` holds the file's weights under the model's state-dict keys; entries that match no
    key keep their (converted) name and are reported as unexpected.
    """

    format: str
    tensors: dict[str, torch.Tensor]
    # Key in ``tensors`` -> the name it has in the file (the same for detectron2 files).
    source_names: dict[str, str]
    # Name in the file -> why it is deliberately not loaded (classifier, optimizer state).
    ignored: dict[str, str] = field(default_factory=dict)
    conventions: InputConventions = InputConventions()
    # Other entries of a training checkpoint (optimizer, scheduler, iteration), loaded as usual.
    other_entries: dict[str, object] = field(default_factory=dict)
