"""After weight standardization and the fast path, every module a parent's forward can reach is
the registered child: detectron2's forwards also reach children through plain lists and
attributes (FPN.lateral_convs / output_convs, ResNet.stages, a head's conv_norm_relus), and a
module replaced only in the registry would leave them running the old one."""
import pytest
from detectron2.modeling import build_model
from torch import nn

from conftest import preset_cfg
from gn_det.layers import FusedWeightStandardizedConv2d, WeightStandardizedConv2d


def modules_in(value, path):
    """(path, module) for every module in ``value``, looking into lists, tuples and dicts."""
    if isinstance(value, nn.Module):
        yield path, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from modules_in(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from modules_in(item, f"{path}[{key!r}]")


def unregistered_references(model):
    """Attributes (outside the module registry) holding a module that is not in ``model``."""
    registered = {id(module) for module in model.modules()}
    return [path
            for name, owner in model.named_modules()
            for attr, value in vars(owner).items() if attr not in ("_modules", "_parameters",
                                                                   "_buffers")
            for path, module in modules_in(value, f"{name}.{attr}")
            if id(module) not in registered]


FAST_PATH = ("MODEL.FAST_PATH.ENABLED", True, "MODEL.FAST_PATH.CHANNELS_LAST", True)
EAGER = ("MODEL.FAST_PATH.ENABLED", False)
C4_WS = ("MODEL.GN.WEIGHT_STANDARDIZATION", True)


@pytest.mark.parametrize("preset,overrides", [
    ("mask_rcnn_R50_FPN_gnws.yaml", EAGER),
    ("mask_rcnn_R50_FPN_gnws.yaml", FAST_PATH),
    ("mask_rcnn_R50_C4_gn.yaml", C4_WS + EAGER),
    ("mask_rcnn_R50_C4_gn.yaml", C4_WS + FAST_PATH),
], ids=["fpn_gnws", "fpn_gnws_fast_path", "c4_gnws", "c4_gnws_fast_path"])
def test_every_module_a_forward_reaches_is_registered(preset, overrides):
    assert unregistered_references(build_model(preset_cfg(preset, *overrides))) == []


@pytest.mark.parametrize("overrides,conv_class", [
    (EAGER, WeightStandardizedConv2d), (FAST_PATH, FusedWeightStandardizedConv2d)])
def test_the_convs_fpn_forward_iterates_are_weight_standardized(overrides, conv_class):
    backbone = build_model(preset_cfg("mask_rcnn_R50_FPN_gnws.yaml", *overrides)).backbone
    convs = backbone.lateral_convs + backbone.output_convs
    assert len(convs) == 8 and {type(conv) for conv in convs} == {conv_class}
