# Lazy twin of configs/Base-MaskRCNN-FPN.yaml: Detectron's Mask R-CNN FPN recipe (BN* backbone,
# 4conv1fc box head), built on detectron2's configs/common pieces. The presets change only what
# their YAML twins change; tests/test_lazy_presets.py checks that both build the same model,
# solver, schedule and data pipeline.
from detectron2 import model_zoo
from detectron2.config import LazyCall as L
from detectron2.layers import ShapeSpec
from detectron2.modeling.poolers import ROIPooler

from gn_det.lazy import GN, add_gn_det_train_keys, as_gn_det_model, gn_det_evaluator, step_schedule
from gn_det.modeling import GNDetConvFCHead, GNDetMaskRCNNConvUpsampleHead

# G, channels per group, epsilon and weight standardization of every GN layer (MODEL.GN).
gn = dict(GN)

model = as_gn_det_model(model_zoo.get_config("common/models/mask_rcnn_fpn.py").model)
# BN*: BatchNorm frozen into a per-channel affine layer; conv1 and res2 stay at their ImageNet
# values, as in Detectron. MSRA's weights put the stride-2 in each stage's first 1x1 conv.
model.backbone.bottom_up.freeze_at = 2
# No norm in the FPN lateral and output convs for BN*.
model.backbone.norm = ""
# Detectron keeps 2000 proposals per batch of 2 images in training; 1000 per image is the same.
model.proposal_generator.pre_nms_topk = (2000, 1000)
model.proposal_generator.post_nms_topk = (1000, 1000)
# 4conv1fc box head (the paper's Table 5 head), no conv norm.
model.roi_heads.box_head = L(GNDetConvFCHead)(
    input_shape=ShapeSpec(channels=256, height=7, width=7),
    conv_dims=[256, 256, 256, 256],
    fc_dims=[1024],
    conv_norm="",
)
model.roi_heads.mask_head = L(GNDetMaskRCNNConvUpsampleHead)(
    input_shape=ShapeSpec(channels=256, width=14, height=14),
    num_classes="${..num_classes}",
    conv_dims=[256, 256, 256, 256, 256],
    conv_norm="",
)
# The loss weights as detectron2 builds them from a YAML config (the same losses).
model.roi_heads.box_predictor.loss_weight = {"loss_box_reg": 1.0}
# Detectron's RoIAlign (no half-pixel offset), 2 samples per bin.
model.roi_heads.box_pooler = L(ROIPooler)(
    output_size=7, scales=(1.0 / 4, 1.0 / 8, 1.0 / 16, 1.0 / 32), sampling_ratio=2,
    pooler_type="ROIAlign")
model.roi_heads.mask_pooler = L(ROIPooler)(
    output_size=14, scales=(1.0 / 4, 1.0 / 8, 1.0 / 16, 1.0 / 32), sampling_ratio=2,
    pooler_type="ROIAlign")

dataloader = model_zoo.get_config("common/data/coco.py").dataloader
# Single-scale training at 800 pixels, as Detectron.
dataloader.train.mapper.augmentations[0].short_edge_length = (800,)
# The test mapper as DatasetMapper(cfg, is_train=False) builds it (the same 800-pixel resize).
dataloader.test.mapper.augmentations[0].sample_style = "choice"
dataloader.test.mapper.use_instance_mask = True
# 8 GPUs x 2 images.
dataloader.train.total_batch_size = 16
dataloader.evaluator = gn_det_evaluator()

# SGD, momentum 0.9, weight decay 1e-4 and 0 on every norm gamma and beta.
optimizer = model_zoo.get_config("common/optim.py").SGD
optimizer.lr = 0.02

train = add_gn_det_train_keys(model_zoo.get_config("common/train.py").train)
# MSRA's ImageNet ResNet-50 (BN, converted to BN* here).
train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-50.pkl"
# 180k schedule ("2x" in Detectron): decay x0.1 at 120k and 160k, after a linear warmup over 500
# iterations from 1/3 of the LR.
train.max_iter = 180000
lr_multiplier = step_schedule(train.max_iter, (120000, 160000))
train.checkpointer.period = 20000
# Evaluate once, at the end.
train.eval_period = 0
