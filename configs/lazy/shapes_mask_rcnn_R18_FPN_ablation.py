# The base of the CPU ablations (tools/ablate.py): the demo preset at 2 images per batch, with every
# layer at least 64 channels wide so that G = 32 differs from IN. Lazy twin of
# configs/shapes_mask_rcnn_R18_FPN_ablation.yaml. Not a COCO preset.
from gn_det.lazy import basic_block_stages, gn_norm, step_schedule

from .shapes_mask_rcnn_R18_FPN_gn import dataloader, gn, model, optimizer, train  # noqa: F401

# ResNet-18 layout: 64, 128, 256, 512 channels in res2..res5 (stem 64).
model.backbone.bottom_up.stem.out_channels = 64
model.backbone.bottom_up.stages = basic_block_stages(
    18, stem_out_channels=64, res2_out_channels=64,
    norm=gn_norm("backbone.bottom_up (res2..res5)"))
# The paper's default.
gn.num_groups = 32
# 64 RoIs per image, a quarter foreground, as when docs/ablation/results.json was measured.
model.roi_heads.batch_size_per_image = 64
model.roi_heads.positive_fraction = 0.25
# 2 images per batch, one pass over the 1200 training images; LR by linear scaling from 0.02 at 4.
dataloader.train.total_batch_size = 2
optimizer.lr = 0.01
train.max_iter = 600
lr_multiplier = step_schedule(train.max_iter, (450, 540), warmup_iters=100, warmup_factor=0.001)
train.checkpointer.period = 100000
# Evaluate once, at the end.
train.eval_period = 0
