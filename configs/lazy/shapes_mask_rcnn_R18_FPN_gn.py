# The demo: a small full-GN Mask R-CNN (GN in the ResNet, the FPN, the 4conv1fc box head and the
# mask head) trained from scratch on the synthetic shapes set on a 2-core CPU. Lazy twin of
# configs/shapes_mask_rcnn_R18_FPN_gn.yaml. Not a COCO preset.
from detectron2.config import LazyCall as L
from detectron2.layers import ShapeSpec
from detectron2.modeling.anchor_generator import DefaultAnchorGenerator
from detectron2.modeling.poolers import ROIPooler
from detectron2.solver.build import get_default_optimizer_params

from gn_det.lazy import basic_block_stages, clipped_sgd, gn_norm, step_schedule

from .base.mask_rcnn_fpn_gn import dataloader, gn, model, train  # noqa: F401

# 8 groups: the narrowest layers have 32 channels (4 per group).
gn.num_groups = 8

# From scratch: random init, and every stage trains.
train.init_checkpoint = ""
model.backbone.bottom_up.freeze_at = 0
# Scratch training normalizes the input to unit scale.
model.pixel_mean = [127.5, 127.5, 127.5]
model.pixel_std = [64.0, 64.0, 64.0]
# ResNet-18 layout at half width: 32, 64, 128, 256 channels in res2..res5, GN everywhere.
model.backbone.bottom_up.stem.out_channels = 32
model.backbone.bottom_up.stages = basic_block_stages(
    18, stem_out_channels=32, res2_out_channels=32,
    norm=gn_norm("backbone.bottom_up (res2..res5)"))
model.backbone.out_channels = 64
model.proposal_generator.head.in_channels = 64
model.proposal_generator.anchor_generator = L(DefaultAnchorGenerator)(
    sizes=[[8], [16], [32], [64], [128]], aspect_ratios=[0.5, 1.0, 2.0],
    strides=[4, 8, 16, 32, 64], offset=0.0)
model.proposal_generator.pre_nms_topk = (500, 250)
model.proposal_generator.post_nms_topk = (250, 100)
model.proposal_generator.batch_size_per_image = 128
# 32 RoIs per image, up to half foreground: the heads are most of a training step at this size.
model.roi_heads.batch_size_per_image = 32
model.roi_heads.positive_fraction = 0.5
model.roi_heads.num_classes = 5
# 4conv1fc with GN in the convs, 64 channels wide; RoIAlign with the half-pixel offset.
model.roi_heads.box_pooler.pooler_type = "ROIAlignV2"
model.roi_heads.box_head.input_shape = ShapeSpec(channels=64, height=7, width=7)
model.roi_heads.box_head.conv_dims = [64, 64, 64, 64]
model.roi_heads.box_head.fc_dims = [256]
model.roi_heads.box_predictor.input_shape = ShapeSpec(channels=256)
model.roi_heads.box_predictor.test_topk_per_image = 50
# 4 convs with GN, then a deconv to 28x28 masks.
model.roi_heads.mask_pooler = L(ROIPooler)(
    output_size=14, scales=(1.0 / 4, 1.0 / 8, 1.0 / 16, 1.0 / 32), sampling_ratio=2,
    pooler_type="ROIAlignV2")
model.roi_heads.mask_head.input_shape = ShapeSpec(channels=64, width=14, height=14)
model.roi_heads.mask_head.conv_dims = [64, 64, 64, 64, 64]

dataloader.train.dataset.names = "shapes_train"
dataloader.test.dataset.names = "shapes_val"
dataloader.train.num_workers = 1
dataloader.train.total_batch_size = 4
# The shapes set has RLE masks (occluded instances, rings), which need bitmasks; 128-pixel images.
dataloader.train.mapper.instance_mask_format = "bitmask"
dataloader.test.mapper.instance_mask_format = "bitmask"
dataloader.train.mapper.augmentations[0].short_edge_length = (128,)
dataloader.train.mapper.augmentations[0].max_size = 128
dataloader.test.mapper.augmentations[0].short_edge_length = 128
dataloader.test.mapper.augmentations[0].max_size = 128

# Scratch training with a high LR: clip gradients (L2 norm 5) to keep the first iterations stable.
optimizer = L(clipped_sgd)(
    params=L(get_default_optimizer_params)(weight_decay_norm=0.0),
    lr=0.02, momentum=0.9, weight_decay=1e-4, clip_value=5.0)

train.seed = 0
# 1600 iterations of 4 images (5.3 passes over the 1200 training images); LR /10 at 1300, 1500.
train.max_iter = 1600
lr_multiplier = step_schedule(train.max_iter, (1300, 1500), warmup_iters=160, warmup_factor=0.001)
train.checkpointer.period = 800
train.eval_period = 800
