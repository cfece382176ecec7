# Lazy twin of configs/Base-MaskRCNN-C4.yaml: Detectron's Mask R-CNN C4 recipe (the 180k schedule),
# ResNet up to res4 as the backbone, res5 as the RoI head on 14x14 RoIAlign features and 14x14
# masks from res5's output; BN* as written here. Built on detectron2's configs/common pieces.
from detectron2 import model_zoo
from detectron2.config import LazyCall as L
from detectron2.layers import ShapeSpec

from gn_det.lazy import GN, add_gn_det_train_keys, as_gn_det_model, gn_det_evaluator, step_schedule
from gn_det.modeling import GNDetMaskRCNNConvUpsampleHead, GNDetRes5ROIHeads

# G, channels per group, epsilon and weight standardization of every GN layer (MODEL.GN).
gn = dict(GN)

model = as_gn_det_model(model_zoo.get_config("common/models/mask_rcnn_c4.py").model)
# conv1 and res2 stay at their ImageNet values, as in Detectron.
model.backbone.freeze_at = 2
# res5 as the RoI head, normalized like the backbone (model.roi_heads.res5.norm).
model.roi_heads._target_ = GNDetRes5ROIHeads
# Detectron's RoIAlign (no half-pixel offset) to 14x14; res5 (stride 2) makes it 7x7.
model.roi_heads.pooler.pooler_type = "ROIAlign"
# No mask convs: a deconv on res5's 7x7 output gives 14x14 masks.
model.roi_heads.mask_head = L(GNDetMaskRCNNConvUpsampleHead)(
    input_shape=L(ShapeSpec)(channels="${...res5.out_channels}", width="${...pooler.output_size}",
                             height="${...pooler.output_size}"),
    num_classes="${..num_classes}",
    conv_dims=[256],
    conv_norm="",
)
# The loss weights as detectron2 builds them from a YAML config (the same losses).
model.roi_heads.box_predictor.loss_weight = {"loss_box_reg": 1.0}

dataloader = model_zoo.get_config("common/data/coco.py").dataloader
# Single-scale training at 800 pixels, as Detectron.
dataloader.train.mapper.augmentations[0].short_edge_length = (800,)
# The test mapper as DatasetMapper(cfg, is_train=False) builds it (the same 800-pixel resize).
dataloader.test.mapper.augmentations[0].sample_style = "choice"
dataloader.test.mapper.use_instance_mask = True
# 8 GPUs x 1 image.
dataloader.train.total_batch_size = 8
dataloader.evaluator = gn_det_evaluator()

# SGD, momentum 0.9, weight decay 1e-4 and 0 on every norm gamma and beta.
optimizer = model_zoo.get_config("common/optim.py").SGD
optimizer.lr = 0.01

train = add_gn_det_train_keys(model_zoo.get_config("common/train.py").train)
# MSRA's ImageNet ResNet-50 (BN, converted to BN* here).
train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-50.pkl"
# 180k schedule: decay x0.1 at 120k and 160k, after a linear warmup over 500 iterations from 1/3.
train.max_iter = 180000
lr_multiplier = step_schedule(train.max_iter, (120000, 160000))
train.checkpointer.period = 20000
# Evaluate once, at the end.
train.eval_period = 0
