import torch
import torch.nn.functional as F
from detectron2.layers import Conv2d
from torch import nn

from gn_det.layers import WeightStandardizedConv2d, standardize_conv_weights, standardize_weight


def test_standardized_filters_have_zero_mean_and_unit_variance():
    weight = torch.randn(8, 4, 3, 3) * 5 + 3
    standardized = standardize_weight(weight).double()
    assert torch.allclose(standardized.mean(dim=(1, 2, 3)), torch.zeros(8, dtype=torch.double),
                          atol=1e-6)
    assert torch.allclose(standardized.var(dim=(1, 2, 3), unbiased=False),
                          torch.ones(8, dtype=torch.double), atol=1e-4)


def test_only_convs_followed_by_group_norm_are_standardized_and_keep_their_parameters():
    block = nn.Sequential(
        Conv2d(3, 8, 3, padding=1, bias=False, norm=nn.GroupNorm(4, 8)),
        Conv2d(8, 8, 1, norm=None),
    )
    weight = block[0].weight
    standardize_conv_weights(block)
    assert type(block[0]) is WeightStandardizedConv2d and block[0].weight is weight
    assert type(block[1]) is Conv2d
    x = torch.randn(2, 3, 10, 10)
    expected = block[0].norm(F.conv2d(x, standardize_weight(weight), padding=1))
    assert torch.allclose(block[0](x), expected, atol=1e-6)
    assert list(block.state_dict()) == ["0.weight", "0.norm.weight", "0.norm.bias", "1.weight",
                                        "1.bias"]
