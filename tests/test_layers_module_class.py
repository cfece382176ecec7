import pytest
import torch
from detectron2.layers import Conv2d
from torch import nn

from gn_det.layers import FusedConv2d, convert_class


def test_conversion_keeps_the_object_its_parameters_hooks_and_state_dict_keys():
    conv = Conv2d(3, 4, 1, norm=nn.GroupNorm(2, 4))
    holder = [conv]
    keys, weight = list(conv.state_dict()), conv.weight
    calls = []
    conv.register_forward_hook(lambda *args: calls.append(1))
    assert convert_class(conv, FusedConv2d) is conv
    assert type(holder[0]) is FusedConv2d and conv.weight is weight
    assert list(conv.state_dict()) == keys
    conv(torch.randn(1, 3, 2, 2))
    assert calls == [1]


def test_converting_to_a_class_that_is_not_a_subclass_is_refused():
    with pytest.raises(TypeError, match=r"gn_det: error: cannot convert a Conv2d to GroupNorm"):
        convert_class(Conv2d(3, 4, 1), nn.GroupNorm)
