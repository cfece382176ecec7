"""detectron2's Conv2d with its norm, a residual add and its ReLU fused (gn_det's fast path).

:func:`fuse_conv` turns an existing ``Conv2d`` (or :class:`WeightStandardizedConv2d`) into a
:class:`FusedConv2d` by changing its class, the way ``torch.nn.utils.parametrize`` does: the module
keeps its parameters, buffers, child norm, name and hooks, so state dicts and checkpoints do not
change. Its forward then:

* folds a ``FrozenBatchNorm2d`` into the conv's weight and bias (BN* costs one conv, no extra pass);
* runs ``GroupNorm`` + residual + ReLU through :func:`gn_det.layers.fused_norm.group_norm_act`;
* applies the residual add and ReLU in place on the conv output, which nothing else holds;
* in inference, keeps the derived weight (folded, or weight-standardized for GN+WS) until a
  parameter or buffer it comes from changes (loading a checkpoint, an optimizer step).
"""
import torch
import torch.nn.functional as F
from detectron2.layers import Conv2d, FrozenBatchNorm2d
from torch import nn

from .fused_norm import group_norm_act
from .module_class import convert_class
from .weight_standardization import WeightStandardizedConv2d, standardize_weight


def _needs_autograd(*tensors):
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def _version_key(tensors):
    return tuple((t.data_ptr(), t._version, t.dtype, t.device) for t in tensors if t is not None)


class FusedConv2d(Conv2d):
    """``activation(norm(conv(x)) + residual)``, fused; see the module docstring.

    ``forward(x, residual=None, relu=False)``: ``relu`` asks for a ReLU after the residual add (the
    ResNet blocks apply theirs outside the conv); a conv built with ``activation=nn.ReLU()`` gets
    its ReLU fused without asking.
    """

    # Set by fuse_conv on the instances it converts: torch.compile the fused GN kernels.
    compile_norm = True

    def forward(self, x, residual=None, relu=False):
        relu = relu or isinstance(self.activation, nn.ReLU)
        weight, bias, norm = self._weight_bias_norm()
        x = F.conv2d(x, weight, bias, self.stride, self.padding, self.dilation, self.groups)
        if isinstance(norm, nn.GroupNorm):
            x = group_norm_act(x, norm, residual, relu, compile=self.compile_norm)
        else:
            if norm is not None:
                x = norm(x)
            if residual is not None:
                x += residual
            if relu:
                x = F.relu_(x)
        if self.activation is not None and not isinstance(self.activation, nn.ReLU):
            x = self.activation(x)
        return x

    def _conv_weight(self):
        return self.weight

    def _derives_weight(self):
        return isinstance(self.norm, FrozenBatchNorm2d)

    def _weight_bias_norm(self):
        """Weight and bias to convolve with, and the norm still to apply after the conv."""
        if not self._derives_weight():
            return self.weight, self.bias, self.norm
        sources = [self.weight, self.bias]
        if isinstance(self.norm, FrozenBatchNorm2d):
            sources += [self.norm.weight, self.norm.bias, self.norm.running_mean,
                        self.norm.running_var]
        if _needs_autograd(*sources):
            return self._derive()
        key = _version_key(sources)
        cached = self.__dict__.get("_derived_cache")
        if cached is None or cached[0] != key:
            with torch.no_grad():
                cached = (key, *self._derive())
            self.__dict__["_derived_cache"] = cached
        return cached[1:]

    def _derive(self):
        weight, bias, norm = self._conv_weight(), self.bias, self.norm
        if isinstance(norm, FrozenBatchNorm2d):
            scale = norm.weight * (norm.running_var + norm.eps).rsqrt()
            shift = norm.bias - norm.running_mean * scale
            weight = weight * scale.reshape(-1, 1, 1, 1).to(weight.dtype)
            bias = shift if bias is None else bias * scale + shift
            norm = None
        return weight, bias, norm


class FusedWeightStandardizedConv2d(FusedConv2d, WeightStandardizedConv2d):
    """:class:`FusedConv2d` that convolves with standardized weights (GN+WS)."""

    def _conv_weight(self):
        return standardize_weight(self.weight)

    def _derives_weight(self):
        return True


def fuse_conv(conv, compile_norm=True):
    """Turn ``conv`` (a detectron2 ``Conv2d`` or ``WeightStandardizedConv2d``) into its fused class,
    in place, and return it. Other modules are returned unchanged."""
    if type(conv) is WeightStandardizedConv2d:
        convert_class(conv, FusedWeightStandardizedConv2d)
    elif type(conv) is Conv2d:
        convert_class(conv, FusedConv2d)
    else:
        return conv
    conv.compile_norm = compile_norm
    return conv
