import math

import torch
import torch.nn.functional as F
from detectron2.layers import Conv2d
from torch import nn

from gn_det.layers import WeightStandardizedConv2d, standardize_conv_weights, standardize_weight


def reference_standardized(weight):
    """Qiao et al.'s code / mmdetection's conv_ws_2d, per filter, in float64 Python arithmetic."""
    out = torch.empty_like(weight, dtype=torch.float64)
    for i, filter_weights in enumerate(weight.double()):
        values = filter_weights.flatten().tolist()
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
        out[i] = (filter_weights - mean) / (std + 1e-5)
    return out


def test_standardized_weight_matches_the_reference_definition():
    weight = torch.randn(8, 4, 3, 3, dtype=torch.float64) * torch.rand(8, 1, 1, 1) * 5 + 3
    weight[0] = 1e-4 * torch.randn(4, 3, 3)  # a tiny filter, where eps matters
    assert torch.allclose(standardize_weight(weight), reference_standardized(weight), atol=1e-12)
    assert torch.allclose(standardize_weight(weight.float()).double(),
                          reference_standardized(weight), atol=1e-5)


def test_only_convs_followed_by_group_norm_are_standardized_and_stay_the_same_objects():
    block = nn.Sequential(
        Conv2d(3, 8, 3, padding=1, bias=False, norm=nn.GroupNorm(4, 8)),
        Conv2d(8, 8, 1, norm=None),
    )
    gn_conv, plain_conv, weight = block[0], block[1], block[0].weight
    standardize_conv_weights(block)
    assert block[0] is gn_conv and type(gn_conv) is WeightStandardizedConv2d
    assert gn_conv.weight is weight
    assert block[1] is plain_conv and type(plain_conv) is Conv2d
    x = torch.randn(2, 3, 10, 10)
    expected = gn_conv.norm(F.conv2d(x, reference_standardized(weight).float(), padding=1))
    assert torch.allclose(gn_conv(x), expected, atol=1e-5)
    assert list(block.state_dict()) == ["0.weight", "0.norm.weight", "0.norm.bias", "1.weight",
                                        "1.bias"]


class ConvsInAList(nn.Module):
    """Like detectron2's FPN: children registered by name, forward iterating a plain list."""

    def __init__(self):
        super().__init__()
        self.convs = [Conv2d(3, 8, 1, bias=False, norm=nn.GroupNorm(2, 8)) for _ in range(2)]
        for i, conv in enumerate(self.convs):
            self.add_module(f"conv{i}", conv)

    def forward(self, x):
        return [conv(x) for conv in self.convs]


def test_convs_a_forward_reaches_through_a_plain_list_run_standardized():
    module = standardize_conv_weights(ConvsInAList())
    x = torch.randn(2, 3, 5, 5)
    for conv, output in zip((module.conv0, module.conv1), module(x)):
        expected = F.group_norm(F.conv2d(x, reference_standardized(conv.weight).float()), 2,
                                conv.norm.weight, conv.norm.bias)
        assert torch.allclose(output, expected, atol=1e-5)
