"""gn_det's trainer for LazyConfig (Python) configs: :class:`~gn_det.engine.Trainer` itself, with
the model, optimizer, LR schedule, data mapper, test loader and evaluator instantiated from the
lazy config instead of built from yacs keys.

It runs on the config's :func:`gn_det.lazy.training_view`, so everything else is the YAML
trainer's own code: the config and dataset checks before training, the checkpointer (weights
coverage report, strict backbone mode, atomic saves), exact resume (seeded training stream,
optimizer state and seed in checkpoints, the config's LR schedule on resume), the divergence stop
and the end-of-training evaluation.
"""
import copy
import os

from detectron2.config import instantiate
from detectron2.solver import LRMultiplier
from omegaconf import OmegaConf

from ..errors import ConfigError
from ..lazy import lazy_config_of
from .trainer import Trainer


def _instantiate(node, what, errors=(TypeError, ValueError)):
    # Errors of the config's own arguments (a wrong argument name or value) as one line.
    try:
        return instantiate(node)
    except ConfigError:
        raise
    except errors as error:
        raise ConfigError(f"Cannot build the {what}: {error}") from None


class LazyTrainer(Trainer):
    """:class:`~gn_det.engine.Trainer` for the :func:`~gn_det.lazy.training_view` of a lazy
    config (``LazyTrainer(training_view(cfg))``)."""

    @classmethod
    def construct_model(cls, cfg):
        # Trainer.build_model reports the model's ValueErrors (e.g. GN groups that do not divide
        # a layer's channels).
        model = _instantiate(lazy_config_of(cfg).model, "model", errors=(TypeError,))
        return model.to(cfg.MODEL.DEVICE)

    @classmethod
    def build_optimizer(cls, cfg, model):
        node = copy.deepcopy(lazy_config_of(cfg).optimizer)  # the config keeps no model
        node.params.model = model
        return _instantiate(node, "optimizer")

    @classmethod
    def build_lr_scheduler(cls, cfg, optimizer):
        multiplier = _instantiate(lazy_config_of(cfg).lr_multiplier, "LR schedule")
        return LRMultiplier(optimizer, multiplier=multiplier, max_iter=cfg.SOLVER.MAX_ITER)

    @classmethod
    def build_train_mapper(cls, cfg):
        return _instantiate(lazy_config_of(cfg).dataloader.train.mapper, "training mapper")

    @classmethod
    def build_test_loader(cls, cfg, dataset_name):
        node = copy.deepcopy(lazy_config_of(cfg).dataloader.test)
        node.dataset.names = dataset_name
        return _instantiate(node, "test data loader")

    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_folder=None):
        node = copy.deepcopy(lazy_config_of(cfg).dataloader.evaluator)
        node.dataset_name = dataset_name
        if "output_dir" in node or OmegaConf.is_dict(node):
            node.output_dir = output_folder or os.path.join(cfg.OUTPUT_DIR, "inference",
                                                            dataset_name)
        return _instantiate(node, "evaluator")
