"""GN normalizes each sample on its own: a sample's output does not depend on its batch."""
import pytest
import torch
from detectron2.modeling import build_backbone

from conftest import preset_cfg


@pytest.mark.parametrize("training", [True, False])
def test_gn_backbone_output_of_a_sample_is_the_same_alone_or_in_a_batch_of_four(training):
    backbone = build_backbone(preset_cfg("mask_rcnn_R50_FPN_gn_scratch.yaml")).train(training)
    batch = torch.randn(4, 3, 64, 96)
    with torch.no_grad():
        in_batch = backbone(batch)
        alone = backbone(batch[2:3])
    for level, features in alone.items():
        assert torch.allclose(features[0], in_batch[level][2], atol=1e-4), level


def test_bn_backbone_in_training_mode_does_depend_on_the_batch():
    # The control: the same check fails for batch statistics.
    cfg = preset_cfg("mask_rcnn_R50_FPN_syncbn_scratch.yaml", "MODEL.RESNETS.NORM", "BN",
                     "MODEL.FPN.NORM", "BN")
    backbone = build_backbone(cfg).train()
    batch = torch.randn(4, 3, 64, 96)
    with torch.no_grad():
        in_batch, alone = backbone(batch), backbone(batch[2:3])
    assert not torch.allclose(alone["p2"][0], in_batch["p2"][2], atol=1e-4)
