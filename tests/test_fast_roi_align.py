"""RoIAlign on channels-last features as embedding_bag equals torchvision's roi_align."""
import pytest
import torch
from detectron2.modeling.poolers import ROIPooler
from detectron2.structures import Boxes
from torchvision.ops import roi_align

from gn_det.layers.roi_align import FastROIAlign, FastROIPooler, roi_align_channels_last


def channels_last_features(n=2, channels=16, height=20, width=28):
    return torch.randn(n, channels, height, width).contiguous(memory_format=torch.channels_last)


def random_rois(count, n, height, width, scale):
    centers = torch.rand(count, 2) * torch.tensor([width, height]) / scale
    sizes = torch.rand(count, 2) * 60
    sizes[:3] = torch.tensor([0.0, 0.3, 0.0])[:, None]  # empty and sub-pixel boxes
    boxes = torch.cat([centers - sizes / 2, centers + sizes / 2], dim=1)
    boxes[3] = torch.tensor([-30.0, -30.0, 500.0, 500.0])  # partly outside the image
    return torch.cat([torch.randint(0, n, (count, 1)).float(), boxes], dim=1)


@pytest.mark.parametrize("sampling_ratio", [2, 0])
@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("output_size", [(7, 7), (14, 14)])
def test_values_equal_torchvision(sampling_ratio, aligned, output_size):
    features = channels_last_features()
    rois = random_rois(40, 2, 20, 28, scale=0.25)
    expected = roi_align(features, rois, output_size, 0.25, sampling_ratio, aligned)
    actual = roi_align_channels_last(features, rois, output_size, 0.25, sampling_ratio, aligned)
    torch.testing.assert_close(actual.permute(0, 3, 1, 2), expected, atol=2e-6, rtol=1e-5)


def test_gradient_equals_torchvision():
    features = channels_last_features().requires_grad_()
    rois = random_rois(30, 2, 20, 28, scale=0.25)
    weights = torch.randn(30, 16, 7, 7)
    expected, = torch.autograd.grad(
        (roi_align(features, rois, (7, 7), 0.25, 0, True) * weights).sum(), features)
    actual, = torch.autograd.grad(
        (roi_align_channels_last(features, rois, (7, 7), 0.25, 0, True).permute(0, 3, 1, 2)
         * weights).sum(), features)
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)


def test_pooler_over_levels_equals_detectron2s():
    scales = (1 / 4, 1 / 8, 1 / 16, 1 / 32)
    pooler = ROIPooler((7, 7), scales, sampling_ratio=2, pooler_type="ROIAlignV2")
    fast = ROIPooler((7, 7), scales, sampling_ratio=2, pooler_type="ROIAlignV2")
    fast.__class__ = FastROIPooler
    for level_pooler in fast.level_poolers:
        level_pooler.__class__ = FastROIAlign
    features = [channels_last_features(2, 8, 256 // s, 320 // s) for s in (4, 8, 16, 32)]
    boxes = [Boxes(random_rois(25, 1, 256, 320, scale=1.0)[:, 1:].clamp(min=0) * 4)
             for _ in range(2)]
    actual = fast(features, boxes)
    assert actual.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(actual, pooler(features, boxes), atol=2e-6, rtol=1e-5)
    contiguous = [f.contiguous() for f in features]  # not channels-last: detectron2's path
    torch.testing.assert_close(fast(contiguous, boxes), pooler(contiguous, boxes))
