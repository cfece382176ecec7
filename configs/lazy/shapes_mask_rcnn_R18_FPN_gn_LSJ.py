# The new_baselines recipe on the shapes set, small enough to train on a CPU: the demo model (full GN
# from scratch) with large-scale jitter (each image rescaled by 0.1-2.0, then cropped or padded to
# 128x128) as in detectron2's *_LSJ.py configs, and a short schedule. Not a COCO preset.
import detectron2.data.transforms as T
from detectron2.config import LazyCall as L

from gn_det.lazy import step_schedule

from .shapes_mask_rcnn_R18_FPN_gn import dataloader, gn, model, optimizer, train  # noqa: F401

image_size = 128
dataloader.train.mapper.augmentations = [
    L(T.ResizeScale)(min_scale=0.1, max_scale=2.0, target_height=image_size,
                     target_width=image_size),
    L(T.FixedSizeCrop)(crop_size=(image_size, image_size)),
    L(T.RandomFlip)(horizontal=True),
]
# Boxes recomputed from the cropped masks.
dataloader.train.mapper.recompute_boxes = True
# 1500 iterations of 4 images (5 passes over the 1200 training images).
train.max_iter = 1500
lr_multiplier = step_schedule(train.max_iter, (1200, 1400), warmup_iters=200, warmup_factor=0.001)
train.checkpointer.period = 500
# Evaluate once, at the end.
train.eval_period = 0
