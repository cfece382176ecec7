"""gn_det's trainer: detectron2's DefaultTrainer with the parts GN Mask R-CNN needs changed."""
import os
import weakref

from detectron2.engine import DefaultTrainer

from ..checkpoint import GNDetCheckpointer
from ..evaluation import GNDetCOCOEvaluator
from ..solver import build_optimizer


class Trainer(DefaultTrainer):
    """DefaultTrainer with COCO evaluation through pycocotools, norm weight decay 0, and weights
    loaded by :class:`GNDetCheckpointer` (any supported format, coverage report, strict mode)."""

    @classmethod
    def build_checkpointer(cls, cfg, model, **checkpointables):
        return GNDetCheckpointer(model, cfg.OUTPUT_DIR,
                                 strict_backbone=cfg.GN_DET.STRICT_BACKBONE_WEIGHTS,
                                 **checkpointables)

    def build_hooks(self):
        # DefaultTrainer.__init__ makes a plain DetectionCheckpointer just before calling this;
        # replace it here so that the checkpointing hook built below uses gn_det's.
        self.checkpointer = self.build_checkpointer(self.cfg, self._trainer.model,
                                                    trainer=weakref.proxy(self))
        return super().build_hooks()

    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_folder=None):
        if output_folder is None:
            output_folder = os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        # Tasks from the config, so a model without predictions still reports both.
        tasks = ("bbox", "segm") if cfg.MODEL.MASK_ON else ("bbox",)
        return GNDetCOCOEvaluator(dataset_name, tasks=tasks, output_dir=output_folder)

    @classmethod
    def build_optimizer(cls, cfg, model):
        return build_optimizer(cfg, model)

    def train(self):
        """Train, then return the last evaluation's results (None on other ranks or without one).

        DefaultTrainer returns them only when TEST.EXPECTED_RESULTS is set."""
        super().train()
        return getattr(self, "_last_eval_results", None)
