"""Weight standardization (Qiao et al., 2019) for convs followed by GroupNorm ("GN+WS")."""
import torch.nn.functional as F
from detectron2.layers import Conv2d
from torch import nn

from .module_class import convert_class

# Added to each filter's standard deviation, as in Qiao et al.'s code and mmdetection's
# conv_ws_2d (which trained the GN+WS ImageNet weights gn_det's GN+WS preset loads).
WS_EPSILON = 1e-5


def standardize_weight(weight, eps=WS_EPSILON):
    """Each output filter's weights minus their mean, divided by their standard deviation + eps.

    As Qiao et al.'s reference code and mmdetection compute it: the unbiased (n - 1) standard
    deviation over in-channels and kernel, eps outside the square root. (The paper's Eq. 5 uses the
    biased variance + eps under the root: its factor sqrt((n - 1) / n) scales all filters of a conv
    alike, which the GroupNorm after it removes; the two eps placements differ only for filters
    whose standard deviation is not large against eps.)
    """
    centered = weight - weight.mean(dim=(1, 2, 3), keepdim=True)
    return centered / (centered.flatten(1).std(dim=1).reshape(-1, 1, 1, 1) + eps)


class WeightStandardizedConv2d(Conv2d):
    """detectron2's Conv2d (with its norm and activation) that convolves with standardized weights.

    :func:`standardize_conv_weights` converts existing convs to it in place (parameters, names and
    checkpoints unchanged).
    """

    def forward(self, x):
        x = F.conv2d(x, standardize_weight(self.weight), self.bias, self.stride, self.padding,
                     self.dilation, self.groups)
        if self.norm is not None:
            x = self.norm(x)
        if self.activation is not None:
            x = self.activation(x)
        return x


def standardize_conv_weights(module):
    """Convert, in place, every detectron2 Conv2d followed by a GroupNorm inside ``module`` to a
    :class:`WeightStandardizedConv2d` and return ``module``.

    The convs stay the same objects (:func:`gn_det.layers.module_class.convert_class`), so the
    lists detectron2's forwards iterate (``FPN.lateral_convs`` / ``output_convs``) run them
    standardized too. Apply it before the fast path, which fuses what it finds.
    """
    for child in module.modules():
        if type(child) is Conv2d and isinstance(child.norm, nn.GroupNorm):
            convert_class(child, WeightStandardizedConv2d)
    return module
