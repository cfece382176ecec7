"""A fused conv computes what the detectron2 Conv2d it was converted from computes."""
import copy

import pytest
import torch
import torch.nn.functional as F
from detectron2.layers import Conv2d, FrozenBatchNorm2d
from torch import nn

from gn_det.layers import (
    FusedConv2d,
    FusedWeightStandardizedConv2d,
    WeightStandardizedConv2d,
    fuse_conv,
)


def frozen_bn(channels):
    norm = FrozenBatchNorm2d(channels)
    norm.weight.uniform_(0.5, 1.5)
    norm.bias.uniform_(-1, 1)
    norm.running_mean.uniform_(-1, 1)
    norm.running_var.uniform_(0.5, 2)
    return norm


def conv_with(norm, bias=False, activation=None, cls=Conv2d):
    return cls(16, 32, kernel_size=3, padding=1, bias=bias, norm=norm, activation=activation)


def group_norm():
    norm = nn.GroupNorm(8, 32)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-1, 1)
    return norm


def eager_and_fused(conv):
    return conv, fuse_conv(copy.deepcopy(conv))


@pytest.mark.parametrize("make_conv", [
    lambda: conv_with(frozen_bn(32)),
    lambda: conv_with(frozen_bn(32), bias=True),
    lambda: conv_with(group_norm()),
    lambda: conv_with(group_norm(), activation=nn.ReLU()),
    lambda: conv_with(group_norm(), cls=WeightStandardizedConv2d),
    lambda: conv_with(None, bias=True, activation=nn.ReLU()),
], ids=["frozen_bn", "frozen_bn_with_bias", "gn", "gn_relu", "gn_ws", "no_norm_relu"])
def test_fused_conv_equals_eager_conv_in_inference(make_conv):
    eager, fused = eager_and_fused(make_conv())
    x = torch.randn(2, 16, 12, 10)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), eager(x), atol=1e-5, rtol=1e-5)


def test_residual_and_relu_come_after_the_norm():
    eager, fused = eager_and_fused(conv_with(group_norm()))
    x, residual = torch.randn(2, 16, 12, 10), torch.randn(2, 32, 12, 10)
    with torch.no_grad():
        torch.testing.assert_close(fused(x, residual=residual, relu=True),
                                   F.relu(eager(x) + residual))


def test_frozen_bn_folding_gives_the_conv_weight_the_same_gradient():
    eager, fused = eager_and_fused(conv_with(frozen_bn(32), bias=True))
    x = torch.randn(2, 16, 12, 10)
    F.relu(eager(x)).square().sum().backward()
    fused(x, relu=True).square().sum().backward()
    torch.testing.assert_close(fused.weight.grad, eager.weight.grad, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(fused.bias.grad, eager.bias.grad, atol=1e-4, rtol=1e-4)


def test_folded_weights_follow_a_changed_checkpoint():
    eager, fused = eager_and_fused(conv_with(frozen_bn(32)))
    x = torch.randn(2, 16, 12, 10)
    with torch.no_grad():
        fused(x)  # caches the folded weight
        other = conv_with(frozen_bn(32))
        eager.load_state_dict(other.state_dict())
        fused.load_state_dict(other.state_dict())
        torch.testing.assert_close(fused(x), eager(x), atol=1e-5, rtol=1e-5)


def test_fusing_keeps_parameters_state_dict_and_norm_type():
    conv = conv_with(frozen_bn(32), bias=True)
    weight, keys = conv.weight, list(conv.state_dict())
    assert fuse_conv(conv) is conv
    assert type(conv) is FusedConv2d and type(conv.norm) is FrozenBatchNorm2d
    assert conv.weight is weight and list(conv.state_dict()) == keys
    ws = fuse_conv(conv_with(group_norm(), cls=WeightStandardizedConv2d))
    assert type(ws) is FusedWeightStandardizedConv2d and isinstance(ws, WeightStandardizedConv2d)
    linear = nn.Linear(3, 3)
    assert fuse_conv(linear) is linear and type(linear) is nn.Linear
