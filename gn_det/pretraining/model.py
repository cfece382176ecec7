"""The classifier that pretrains a detection config's ResNet, and the weight file it leaves for
that config's MODEL.WEIGHTS."""
from detectron2.layers import ShapeSpec
from detectron2.modeling.backbone.resnet import BasicBlock, BottleneckBlock
from torch import nn

from ..modeling.backbone import build_gn_det_resnet

# Batch norms of a detection config that pretrain as BN with each process's batch statistics, as
# the paper's BN backbones were (32 images per GPU); BN* (FrozenBN) then freezes the statistics.
_BATCH_NORMS = ("BN", "SyncBN", "FrozenBN", "nnSyncBN", "naiveSyncBN")
# A BN layer's step counter, which FrozenBN layers do not have.
_BN_STEP_COUNTER = "num_batches_tracked"
WEIGHTS_AUTHOR = "gn_det tools/pretrain_backbone.py"


def pretraining_config(cfg):
    """The config of the ResNet that pretrains for detection config ``cfg``: the same ResNet
    (depth, widths, stride placement, GN groups, GN+WS), all four stages built and trained, batch
    norms in training mode, no fast path (an inference optimization; the state dict is the same)."""
    cfg = cfg.clone()
    cfg.defrost()
    if cfg.MODEL.RESNETS.NORM in _BATCH_NORMS:
        cfg.MODEL.RESNETS.NORM = "BN"
    cfg.MODEL.RESNETS.OUT_FEATURES = ["res5"]
    cfg.MODEL.BACKBONE.FREEZE_AT = 0
    cfg.MODEL.FAST_PATH.ENABLED = False
    cfg.freeze()
    return cfg


def norm_name(cfg):
    """The pretraining norm of detection config ``cfg`` in words, e.g. "GN+WS (32 groups)"."""
    cfg = pretraining_config(cfg)
    norm = cfg.MODEL.RESNETS.NORM or "no norm"
    if norm != "GN":
        return norm
    gn = cfg.MODEL.GN
    groups = (f"{gn.NUM_GROUPS} groups" if gn.NUM_GROUPS > 0
              else f"{gn.DIM_PER_GROUP} channels per group")
    return f"GN{'+WS' if gn.WEIGHT_STANDARDIZATION else ''} ({groups})"


class ResNetClassifier(nn.Module):
    """The detection config's ResNet (``trunk``, module names as in the detection model), global
    average pooling and a linear classifier (``fc``)."""

    def __init__(self, cfg, num_classes):
        super().__init__()
        self.trunk = build_gn_det_resnet(pretraining_config(cfg), ShapeSpec(channels=3))
        self.fc = nn.Linear(self.trunk.output_shape()["res5"].channels, num_classes)
        nn.init.normal_(self.fc.weight, std=0.01)
        nn.init.zeros_(self.fc.bias)
        # The paper (after Goyal et al.): gamma 0 in each residual block's last norm, so that
        # every block starts as the identity.
        for block in self.trunk.modules():
            if isinstance(block, (BasicBlock, BottleneckBlock)):
                last = block.conv3 if isinstance(block, BottleneckBlock) else block.conv2
                if getattr(last.norm, "weight", None) is not None:
                    nn.init.zeros_(last.norm.weight)

    def forward(self, images):
        return self.fc(self.trunk(images)["res5"].mean(dim=(2, 3)))


def backbone_weights(classifier, cfg):
    """The ResNet of ``classifier`` as a weight file for detection config ``cfg``'s MODEL.WEIGHTS.

    detectron2's ResNet names (``res2.0.conv1.weight``), which the checkpointer places by suffix
    wherever the model nests its ResNet (``backbone.bottom_up`` in FPN models, ``roi_heads.res5`` in
    C4 ones), as detectron2's own ImageNet backbones; BN step counters are left out for FrozenBN
    models, which have none. The classifier ``fc`` is not part of it.
    """
    keep_counters = cfg.MODEL.RESNETS.NORM != "FrozenBN"
    tensors = {name: tensor.detach().cpu().clone()
               for name, tensor in classifier.trunk.state_dict().items()
               if keep_counters or not name.endswith(_BN_STEP_COUNTER)}
    return {"model": tensors, "matching_heuristics": True, "__author__": WEIGHTS_AUTHOR}
