# The base of the CPU ablations (tools/ablate.py): the demo preset at 2 images per batch. Lazy twin
# of configs/shapes_mask_rcnn_R18_FPN_ablation.yaml. Not a COCO preset.
from gn_det.lazy import step_schedule

from .shapes_mask_rcnn_R18_FPN_gn import dataloader, gn, model, optimizer, train  # noqa: F401

# 2 images per batch, LR by linear scaling from 0.02 at 4; 4800 images, LR /10 at 75% and 90%.
dataloader.train.total_batch_size = 2
optimizer.lr = 0.01
train.max_iter = 2400
lr_multiplier = step_schedule(train.max_iter, (1800, 2160), warmup_iters=400, warmup_factor=0.001)
# A checkpoint every quarter of the schedule.
train.checkpointer.period = 600
# Evaluate once, at the end.
train.eval_period = 0
