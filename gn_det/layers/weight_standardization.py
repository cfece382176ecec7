"""Weight standardization (Qiao et al., 2019) for convs followed by GroupNorm ("GN+WS")."""
import torch
import torch.nn.functional as F
from detectron2.layers import Conv2d
from torch import nn

# Added to the variance of each filter's weights; the value used by GN+WS implementations.
WS_EPSILON = 1e-5


def standardize_weight(weight, eps=WS_EPSILON):
    """Each output filter's weights with zero mean and unit variance (over in-channels and kernel)."""
    var, mean = torch.var_mean(weight, dim=(1, 2, 3), keepdim=True, unbiased=False)
    return (weight - mean) / (var + eps).sqrt()


class WeightStandardizedConv2d(Conv2d):
    """detectron2's Conv2d (with its norm and activation) that convolves with standardized weights.

    Parameters and their names are those of the Conv2d it replaces, so checkpoints load unchanged.
    """

    def forward(self, x):
        x = F.conv2d(x, standardize_weight(self.weight), self.bias, self.stride, self.padding,
                     self.dilation, self.groups)
        if self.norm is not None:
            x = self.norm(x)
        if self.activation is not None:
            x = self.activation(x)
        return x

    @classmethod
    def from_conv(cls, conv):
        ws_conv = cls(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                      padding=conv.padding, dilation=conv.dilation, groups=conv.groups,
                      bias=conv.bias is not None, norm=conv.norm, activation=conv.activation)
        ws_conv.weight = conv.weight
        ws_conv.bias = conv.bias
        return ws_conv


def standardize_conv_weights(module):
    """Replace, in place, every detectron2 Conv2d followed by a GroupNorm inside ``module``."""
    for name, child in module.named_children():
        if type(child) is Conv2d and isinstance(child.norm, nn.GroupNorm):
            setattr(module, name, WeightStandardizedConv2d.from_conv(child))
        else:
            standardize_conv_weights(child)
    return module
