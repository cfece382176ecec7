# GN version of detectron2's new_baselines/mask_rcnn_R_50_FPN_100ep_LSJ.py: Mask R-CNN R-50-FPN
# from scratch, large-scale jitter, 100 epochs, with GN (G=32, the root gn node) in the ResNet, the
# FPN, the 4conv1fc box head and the mask head, wherever detectron2 puts SyncBN. Schedule, solver,
# data and AMP are detectron2's recipe, unchanged (64 images per batch).
from gn_det.lazy import gn_version_of

dataloader, gn, lr_multiplier, model, optimizer, train = gn_version_of(
    "new_baselines/mask_rcnn_R_50_FPN_100ep_LSJ.py")
