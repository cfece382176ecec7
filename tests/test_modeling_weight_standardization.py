"""GN+WS models compute what GN+WS is: every conv followed by GroupNorm convolves with its
standardized weights, in the ResNet, the FPN and the heads, with and without the fast path.

The reference below is written from the definitions, in float64, reading the built model's
parameters by their detectron2 names: weight standardization as Qiao et al.'s code
(github.com/joe-siyuan-qiao/WeightStandardization) and mmdetection's conv_ws_2d compute it, GroupNorm
from its formula (Wu & He 2018, Eq. 1-3), and detectron2's ResNet bottleneck, FPN (lateral,
nearest top-down, output, p6 = stride-2 subsampling of p5), box head and mask head structure.
"""
import pytest
import torch
import torch.nn.functional as F
from detectron2.layers import ShapeSpec
from detectron2.modeling import build_backbone, build_model
from detectron2.modeling.roi_heads import build_box_head, build_mask_head, build_roi_heads

from conftest import preset_cfg
from gn_det.checkpoint import GNDetCheckpointer, load_weights

GNWS = "mask_rcnn_R50_FPN_gnws.yaml"
C4_GN = "mask_rcnn_R50_C4_gn.yaml"
GROUPS = 8
EPS = 1e-5
# The presets' structure with 1/4 of their widths (1/16 of the float64 reference's work).
NARROW = ("MODEL.RESNETS.STEM_OUT_CHANNELS", 16, "MODEL.RESNETS.RES2_OUT_CHANNELS", 64,
          "MODEL.RESNETS.WIDTH_PER_GROUP", 16, "MODEL.FPN.OUT_CHANNELS", 64,
          "MODEL.ROI_BOX_HEAD.CONV_DIM", 64, "MODEL.ROI_BOX_HEAD.FC_DIM", 64,
          "MODEL.ROI_MASK_HEAD.CONV_DIM", 64, "MODEL.GN.NUM_GROUPS", GROUPS)


def ws_reference(weight):
    centered = weight - weight.mean(dim=(1, 2, 3), keepdim=True)
    std = centered.flatten(1).std(dim=1, unbiased=True).reshape(-1, 1, 1, 1)
    return centered / (std + EPS)


def gn_reference(x, weight, bias):
    n, c, h, w = x.shape
    grouped = x.reshape(n, GROUPS, -1)
    mean = grouped.mean(dim=2, keepdim=True)
    var = ((grouped - mean) ** 2).mean(dim=2, keepdim=True)
    normalized = ((grouped - mean) / torch.sqrt(var + EPS)).reshape(n, c, h, w)
    return normalized * weight.reshape(1, -1, 1, 1) + bias.reshape(1, -1, 1, 1)


class Reference:
    """float64 GN+WS (``standardize=True``) or plain GN forward over a state dict."""

    def __init__(self, module, standardize=True):
        self.params = {k: v.detach().double() for k, v in module.state_dict().items()}
        self.standardize = standardize

    def conv_gn(self, x, name, stride=1, padding=0, relu=False):
        weight = self.params[f"{name}.weight"]
        if self.standardize:
            weight = ws_reference(weight)
        x = F.conv2d(x, weight, self.params.get(f"{name}.bias"), stride, padding)
        x = gn_reference(x, self.params[f"{name}.norm.weight"], self.params[f"{name}.norm.bias"])
        return F.relu(x) if relu else x

    def bottleneck(self, x, name, stride):
        # STRIDE_IN_1X1 False in these presets: the stride is in the 3x3 conv.
        out = self.conv_gn(x, f"{name}.conv1", relu=True)
        out = self.conv_gn(out, f"{name}.conv2", stride=stride, padding=1, relu=True)
        out = self.conv_gn(out, f"{name}.conv3")
        shortcut = (self.conv_gn(x, f"{name}.shortcut", stride=stride)
                    if f"{name}.shortcut.weight" in self.params else x)
        return F.relu(out + shortcut)

    def stage(self, x, prefix, first_stride):
        blocks = sorted({int(k[len(prefix):].split(".")[0]) for k in self.params
                         if k.startswith(prefix)})
        for block in blocks:
            x = self.bottleneck(x, f"{prefix}{block}", first_stride if block == 0 else 1)
        return x

    def resnet(self, x, prefix):
        x = self.conv_gn(x, f"{prefix}stem.conv1", stride=2, padding=3, relu=True)
        x = F.max_pool2d(x, kernel_size=3, stride=2, padding=1)
        features = {}
        for stage in (2, 3, 4, 5):
            x = self.stage(x, f"{prefix}res{stage}.", 1 if stage == 2 else 2)
            features[f"res{stage}"] = x
        return features

    def fpn(self, bottom_up):
        outputs = {}
        top_down = None
        for level in (5, 4, 3, 2):
            lateral = self.conv_gn(bottom_up[f"res{level}"], f"fpn_lateral{level}")
            if top_down is not None:
                lateral = lateral + F.interpolate(top_down, scale_factor=2.0, mode="nearest")
            top_down = lateral
            outputs[f"p{level}"] = self.conv_gn(lateral, f"fpn_output{level}", padding=1)
        outputs["p6"] = outputs["p5"][:, :, ::2, ::2]
        return outputs

    def box_head(self, x):
        for i in range(1, 5):
            x = self.conv_gn(x, f"conv{i}", padding=1, relu=True)
        return F.relu(F.linear(x.flatten(1), self.params["fc1.weight"], self.params["fc1.bias"]))

    def mask_head(self, x):
        for i in range(1, 5):
            x = self.conv_gn(x, f"mask_fcn{i}", padding=1, relu=True)
        # The deconv and the predictor have no GroupNorm after them: not standardized.
        x = F.relu(F.conv_transpose2d(x, self.params["deconv.weight"], self.params["deconv.bias"],
                                      stride=2))
        return F.conv2d(x, self.params["predictor.weight"], self.params["predictor.bias"])


def randomize_(module):
    """Filters with their own mean and scale, GN affines away from (1, 0): then standardizing
    changes every conv's output, and a conv left unstandardized shows."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in module.named_parameters():
            shape = (param.shape[0],) + (1,) * (param.dim() - 1)
            scale = torch.rand(shape, generator=generator) * 2.5 + 0.5
            shift = torch.rand(shape, generator=generator) * 2 - 1
            if param.dim() == 4 and not name.startswith("deconv"):
                param.mul_(scale / param.std()).add_(shift * 0.1)
            elif name.endswith("norm.weight"):
                param.copy_(scale.flatten())
            elif name.endswith("norm.bias"):
                param.copy_(shift.flatten())
    return module.eval()


def assert_close(actual, expected, name):
    actual = actual.detach().double()
    error = (actual - expected).abs().max().item()
    scale = expected.abs().max().item()
    assert error <= 1e-4 * max(scale, 1.0), f"{name}: max |model - GN+WS reference| = {error:.3g}"


def assert_differs(actual, expected, name):
    error = (actual.detach().double() - expected).abs().max().item()
    assert error > 1e-2, f"{name}: plain GN and GN+WS agree ({error:.3g}); the test is too weak"


def narrow_cfg(preset, fast, *overrides):
    """``preset`` narrowed, with the fast path (channels-last included) on or off."""
    fast_path = (("MODEL.FAST_PATH.ENABLED", True, "MODEL.FAST_PATH.CHANNELS_LAST", True) if fast
                 else ("MODEL.FAST_PATH.ENABLED", False))
    return preset_cfg(preset, *NARROW, *fast_path, *overrides)


@pytest.mark.parametrize("fast", [False, True], ids=["eager", "fast_path"])
def test_fpn_backbone_equals_float64_gn_ws_reference(fast):
    backbone = randomize_(build_backbone(narrow_cfg(GNWS, fast)))
    x = torch.randn(1, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        outputs = backbone(x.float())
        bottom_up = backbone.bottom_up(x.float())
    expected_bottom_up = Reference(backbone).resnet(x, "bottom_up.")
    expected = Reference(backbone).fpn(expected_bottom_up)
    plain_gn = Reference(backbone, standardize=False).fpn(expected_bottom_up)
    for name, value in expected_bottom_up.items():
        assert_close(bottom_up[name], value, name)
    assert sorted(outputs) == sorted(expected)
    for name, value in expected.items():
        assert_close(outputs[name], value, name)
        assert_differs(outputs[name], plain_gn[name], name)


@pytest.mark.parametrize("fast", [False, True], ids=["eager", "fast_path"])
def test_box_and_mask_head_convs_equal_float64_gn_ws_reference(fast):
    cfg = narrow_cfg(GNWS, fast)
    box_head = randomize_(build_box_head(cfg, ShapeSpec(channels=64, height=7, width=7)))
    mask_head = randomize_(build_mask_head(cfg, ShapeSpec(channels=64, height=14, width=14)))
    boxes = torch.randn(3, 64, 7, 7, dtype=torch.float64)
    masks = torch.randn(3, 64, 14, 14, dtype=torch.float64)
    with torch.no_grad():
        box_features = box_head(boxes.float())
        mask_logits = mask_head.layers(masks.float())
    assert_close(box_features, Reference(box_head).box_head(boxes), "box head")
    assert_close(mask_logits, Reference(mask_head).mask_head(masks), "mask head")
    assert_differs(box_features, Reference(box_head, False).box_head(boxes), "box head")
    assert_differs(mask_logits, Reference(mask_head, False).mask_head(masks), "mask head")


@pytest.mark.parametrize("fast", [False, True], ids=["eager", "fast_path"])
def test_c4_res5_head_equals_float64_gn_ws_reference(fast):
    cfg = narrow_cfg(C4_GN, fast, "MODEL.GN.WEIGHT_STANDARDIZATION", True)
    roi_heads = build_roi_heads(cfg, {"res4": ShapeSpec(channels=256, stride=16)})
    res5 = randomize_(roi_heads.res5)
    x = torch.randn(2, 256, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        actual = res5(x.float())
    assert_close(actual, Reference(res5).stage(x, "", 2), "res5")
    assert_differs(actual, Reference(res5, False).stage(x, "", 2), "res5")


def test_gn_ws_checkpoint_keeps_detectron2_keys_and_round_trips_into_the_fast_path(tmp_path):
    eager = build_model(narrow_cfg(GNWS, False))
    randomize_(eager.backbone)
    GNDetCheckpointer(eager, str(tmp_path)).save("gnws")
    saved = torch.load(tmp_path / "gnws.pth", map_location="cpu", weights_only=True)["model"]
    assert "backbone.fpn_lateral2.weight" in saved and "backbone.fpn_output2.norm.weight" in saved
    assert not any("parametrizations" in key or "original" in key for key in saved)
    fast = build_model(narrow_cfg(GNWS, True)).eval()
    report = load_weights(fast, str(tmp_path / "gnws.pth"))
    assert report.missing == [] and report.unexpected == [] and report.mismatched == []
    x = torch.randn(1, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        outputs = fast.backbone(x.float())
    reference = Reference(eager.backbone)
    for name, value in reference.fpn(reference.resnet(x, "bottom_up.")).items():
        assert_close(outputs[name], value, name)
