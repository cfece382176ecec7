import pytest
import torch
from torch import nn

from gn_det.config import add_gn_config
from gn_det.layers import GroupNormSpec, norm_from_config
from detectron2.config import get_cfg


def group_norm_float64(x, num_groups, gamma, beta, eps):
    """The paper's definition: per sample, mean and variance over (C/G, H, W) of each group."""
    x = x.double()
    n, c, h, w = x.shape
    grouped = x.reshape(n, num_groups, c // num_groups, h, w)
    mean = grouped.mean(dim=(2, 3, 4), keepdim=True)
    var = ((grouped - mean) ** 2).mean(dim=(2, 3, 4), keepdim=True)
    normalized = ((grouped - mean) / torch.sqrt(var + eps)).reshape(n, c, h, w)
    return normalized * gamma.double().view(1, c, 1, 1) + beta.double().view(1, c, 1, 1)


def gn_cfg(**gn):
    cfg = add_gn_config(get_cfg())
    for key, value in gn.items():
        cfg.MODEL.GN[key] = value
    cfg.MODEL.FPN.NORM = "GN"
    return cfg


@pytest.mark.parametrize("settings,expected_groups", [
    ({"NUM_GROUPS": 32}, 32),
    ({"NUM_GROUPS": 1}, 1),  # LN
    ({"NUM_GROUPS": 4}, 4),
    ({"NUM_GROUPS": -1, "DIM_PER_GROUP": 1}, 64),  # IN
    ({"NUM_GROUPS": -1, "DIM_PER_GROUP": 16}, 4),
])
def test_group_norm_matches_float64_definition(settings, expected_groups):
    factory = norm_from_config(gn_cfg(**settings), "MODEL.FPN.NORM", "test layer")
    layer = factory(64)
    assert layer.num_groups == expected_groups
    with torch.no_grad():
        layer.weight.uniform_(0.5, 1.5)
        layer.bias.uniform_(-1, 1)
    x = torch.randn(3, 64, 9, 7) * 3 + 2
    expected = group_norm_float64(x, expected_groups, layer.weight, layer.bias, layer.eps)
    assert torch.allclose(layer(x).double(), expected, atol=1e-5)


def test_epsilon_comes_from_config():
    layer = norm_from_config(gn_cfg(EPSILON=1e-3), "MODEL.FPN.NORM", "test layer")(32)
    assert layer.eps == 1e-3


def test_groups_not_dividing_channels_name_layer_channels_and_setting():
    factory = norm_from_config(gn_cfg(NUM_GROUPS=32), "MODEL.FPN.NORM", "backbone res3")
    with pytest.raises(ValueError, match=r"backbone res3.*NUM_GROUPS=32.*48 channels"):
        factory(48)


def test_dim_per_group_not_dividing_channels_is_an_error():
    factory = norm_from_config(gn_cfg(NUM_GROUPS=-1, DIM_PER_GROUP=5), "MODEL.FPN.NORM", "fpn")
    with pytest.raises(ValueError, match=r"fpn.*DIM_PER_GROUP=5.*64 channels"):
        factory(64)


@pytest.mark.parametrize("num_groups,dim_per_group", [(32, 16), (-1, -1)])
def test_exactly_one_of_groups_and_dim_per_group(num_groups, dim_per_group):
    with pytest.raises(ValueError, match="Exactly one of MODEL.GN.NUM_GROUPS"):
        GroupNormSpec.from_config(gn_cfg(NUM_GROUPS=num_groups, DIM_PER_GROUP=dim_per_group))


def test_unknown_norm_name_is_an_error_naming_the_key():
    cfg = gn_cfg()
    cfg.MODEL.FPN.NORM = "GroupNorm"
    with pytest.raises(ValueError, match=r"MODEL.FPN.NORM='GroupNorm' is not a known norm"):
        norm_from_config(cfg, "MODEL.FPN.NORM", "fpn")


@pytest.mark.parametrize("norm", ["", "BN", "FrozenBN", "SyncBN"])
def test_other_norms_pass_through_to_detectron2(norm):
    cfg = gn_cfg()
    cfg.MODEL.FPN.NORM = norm
    assert norm_from_config(cfg, "MODEL.FPN.NORM", "fpn") == norm


def test_group_norm_is_torch_group_norm_so_detectron2_treats_it_as_a_norm():
    layer = norm_from_config(gn_cfg(), "MODEL.FPN.NORM", "fpn")(64)
    assert type(layer) is nn.GroupNorm
