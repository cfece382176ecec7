# GN + weight standardization (Qiao et al., 2019; mmdetection configs/gn+ws): full GN with every conv
# before a GN layer standardized, R-50-FPN, 180k. Lazy twin of configs/mask_rcnn_R50_FPN_gnws.yaml.
from .base.mask_rcnn_fpn_gn import dataloader, gn, lr_multiplier, model, optimizer, train  # noqa: F401

# Standardize the weights of every conv followed by GN.
gn["weight_standardization"] = True
# ImageNet ResNet-50 trained with GN+WS by the WS authors (JHU), torchvision naming.
train.init_checkpoint = "https://download.openmmlab.com/pretrain/third_party/resnet50_gn_ws-15beedd8.pth"
# Those weights take RGB input normalized by ImageNet's mean and std (in 0-255 units).
model.pixel_mean = [123.675, 116.28, 103.53]
model.pixel_std = [58.395, 57.12, 57.375]
model.input_format = "RGB"
dataloader.train.mapper.image_format = "RGB"
