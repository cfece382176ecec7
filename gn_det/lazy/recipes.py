"""GN versions of detectron2's model zoo LazyConfig recipes."""
from detectron2 import model_zoo
from omegaconf import OmegaConf

from .config import add_gn_det_train_keys, gn_det_evaluator
from .model import GN, as_gn_det_model, use_group_norm


def gn_version_of(recipe):
    """detectron2's model zoo recipe ``recipe`` (e.g. "new_baselines/mask_rcnn_R_50_FPN_100ep_LSJ.py")
    with GN (:func:`use_group_norm`) wherever it puts a norm, built by gn_det
    (:func:`as_gn_det_model`), evaluated by gn_det's COCO evaluator and with gn_det's train keys;
    everything else (schedule, solver, data, AMP) is the recipe's.

    Returns ``(dataloader, gn, lr_multiplier, model, optimizer, train)`` for a config file to
    bind at its top level (the model's GN layers read the root ``gn`` node)."""
    cfg = model_zoo.get_config(recipe)
    cfg.dataloader.evaluator = gn_det_evaluator()
    model = as_gn_det_model(use_group_norm(cfg.model))
    return (cfg.dataloader, OmegaConf.create(GN), cfg.lr_multiplier, model, cfg.optimizer,
            add_gn_det_train_keys(cfg.train))
