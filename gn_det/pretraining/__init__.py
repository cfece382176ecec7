"""Classification pretraining of gn_det's ResNets (tools/pretrain_backbone.py): the backbone of a
detection config, trained on a dataset in ImageFolder layout (ImageNet, or the shapes
classification proxy), saved as a weight file that the config's MODEL.WEIGHTS loads."""
from .data import check_image_folder
from .model import ResNetClassifier, backbone_weights, pretraining_config
from .recipe import IMAGENET, LR_PER_256_IMAGES, SHAPES, Recipe
from .training import CHECKPOINT, RESULT, WEIGHTS, finished_result, pretrain

__all__ = [
    "CHECKPOINT",
    "IMAGENET",
    "LR_PER_256_IMAGES",
    "RESULT",
    "Recipe",
    "ResNetClassifier",
    "SHAPES",
    "WEIGHTS",
    "backbone_weights",
    "check_image_folder",
    "finished_result",
    "pretrain",
    "pretraining_config",
]
