"""gn_det's trainer: detectron2's DefaultTrainer with the parts GN Mask R-CNN and long runs need."""
import logging
import os
import weakref

from detectron2.data import DatasetMapper, build_detection_test_loader
from detectron2.engine import DefaultTrainer
from detectron2.engine.train_loop import TrainerBase
from detectron2.utils import comm

from ..checkpoint import GNDetCheckpointer
from ..data.evaluation_mapper import EvaluationMapper
from ..data.sample_stream import ResumableTrainLoader, TrainingStream
from ..data.training_records import training_records
from ..errors import ConfigError, GNDetError
from ..evaluation import evaluator_from_config
from ..modeling import build_model
from ..seeding import STEP, derive_seed, seed_all_rngs
from ..solver import build_optimizer
from .atomic_checkpoint import AtomicSaveMixin
from .config_schedule import follow_config_schedule, optimizer_settings
from .finite_losses import stop_on_diverged_predictions, stop_on_diverging_losses
from .preflight import check_datasets, check_training_config

logger = logging.getLogger(__name__)


class TrainingCheckpointer(AtomicSaveMixin, GNDetCheckpointer):
    """Loads weights as :class:`GNDetCheckpointer` does (any supported format, coverage report,
    strict mode) and saves checkpoints atomically (:class:`AtomicSaveMixin`)."""


def _run_seed(cfg):
    # SEED < 0 asks for a random run; every process must draw the same seed.
    return cfg.SEED if cfg.SEED >= 0 else comm.shared_random_seed()


class _NoTracebackForUserErrors(logging.Filter):
    # TrainerBase.train logs every exception with its traceback before re-raising it. A gn_det
    # error (a divergence stop, say) is printed by the tool as one line: drop its log record.
    # Any other exception keeps its traceback.
    def filter(self, record):
        return not (record.exc_info and isinstance(record.exc_info[1], GNDetError))


class Trainer(DefaultTrainer):
    """DefaultTrainer with COCO evaluation through pycocotools, norm weight decay 0, weights loaded
    by :class:`GNDetCheckpointer`, and runs that fail early and resume exactly:

    * before any heavy work, the config is checked (:func:`check_training_config`), model build
      errors become one-line ConfigErrors, and every dataset of the run is validated
      (:func:`check_datasets`) before its data is read;
    * the training data is a :class:`TrainingStream` (sample = f(seed, position)) and every
      iteration reseeds the random generators from (seed, iteration, rank), so the run's
      randomness depends on nothing but its seed and the iteration;
    * checkpoints hold the optimizer state (SGD momentum) and the seed besides the model,
      iteration and LR schedule, and are written atomically: a run killed at any point and resumed
      with ``--resume`` continues as if it had not been interrupted;
    * a resumed run follows the config's LR schedule and optimizer settings, not the checkpoint's
      (:mod:`.config_schedule`), so a diverged run can be continued with a lower LR;
    * a NaN, Inf or exploding (``GN_DET.MAX_LOSS``) loss, or NaN RPN proposals, stop training
      before that iteration's update with one line naming the iteration and the loss term
      (:mod:`.finite_losses`).
    """

    def __init__(self, cfg):
        check_training_config(cfg, comm.get_world_size())
        super().__init__(cfg)

    @classmethod
    def construct_model(cls, cfg):
        """The model as the config describes it, on MODEL.DEVICE (gn_det's build_model:
        detectron2's, with the whole model on MODEL.FAST_PATH)."""
        return build_model(cfg)

    @classmethod
    def build_model(cls, cfg):
        try:
            model = cls.construct_model(cfg)
        except ValueError as error:
            raise ConfigError(f"Cannot build the model: {error}") from None
        logger.info(f"Model:\n{model}")
        stop_on_diverging_losses(model, cfg.GN_DET.MAX_LOSS)
        return model

    @classmethod
    def build_checkpointer(cls, cfg, model, **checkpointables):
        return TrainingCheckpointer(model, cfg.OUTPUT_DIR,
                                    strict_backbone=cfg.GN_DET.STRICT_BACKBONE_WEIGHTS,
                                    **checkpointables)

    def build_hooks(self):
        # DefaultTrainer.__init__ makes a plain DetectionCheckpointer just before calling this;
        # replace it here so that the checkpointing hook built below uses gn_det's.
        self.checkpointer = self.build_checkpointer(self.cfg, self._trainer.model,
                                                    trainer=weakref.proxy(self))
        return super().build_hooks()

    @classmethod
    def build_train_loader(cls, cfg):
        # Called once the model is built: every dataset of the run (evaluated ones too, which are
        # read only hours later) is validated before any training data is read.
        check_datasets(cfg)
        stream = TrainingStream(training_records(cfg), cls.build_train_mapper(cfg), _run_seed(cfg))
        return ResumableTrainLoader(stream, cfg.SOLVER.IMS_PER_BATCH,
                                    aspect_ratio_grouping=cfg.DATALOADER.ASPECT_RATIO_GROUPING,
                                    num_workers=cfg.DATALOADER.NUM_WORKERS)

    @classmethod
    def build_train_mapper(cls, cfg):
        """What reads and augments one training image."""
        return DatasetMapper(cfg, True)

    @classmethod
    def build_test_loader(cls, cfg, dataset_name):
        return build_detection_test_loader(cfg, dataset_name, mapper=EvaluationMapper(cfg, False))

    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_folder=None):
        if output_folder is None:
            output_folder = os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        # Tasks from the config, so a model without predictions still reports both.
        tasks = ("bbox", "segm") if cfg.MODEL.MASK_ON else ("bbox",)
        return evaluator_from_config(cfg, dataset_name, output_dir=output_folder, tasks=tasks)

    @classmethod
    def build_optimizer(cls, cfg, model):
        return build_optimizer(cfg, model)

    @property
    def seed(self):
        """The run's seed: ``SEED``, or the random one drawn when the run started."""
        return self.data_loader.stream.seed

    def state_dict(self):
        state = super().state_dict()
        # detectron2 0.6's DefaultTrainer leaves the optimizer out of its checkpoints, so a resume
        # would restart SGD momentum from zero; the key is the one later detectron2 uses.
        state["_trainer"] = self._trainer.state_dict()
        state["seed"] = self.seed
        return state

    def load_state_dict(self, state_dict):
        configured = optimizer_settings(self.optimizer)
        # TrainerBase's: iteration and hooks (the LR scheduler); the rest is handled here.
        TrainerBase.load_state_dict(self, state_dict)
        if "_trainer" in state_dict:
            self._trainer.load_state_dict(state_dict["_trainer"])
        else:
            logger.warning("The checkpoint has no optimizer state (written by detectron2's own "
                           "trainer?): SGD momentum restarts from zero.")
        # The checkpoint holds iteration self.iter, done: training goes on at the next one.
        follow_config_schedule(self.optimizer, self.scheduler, configured, self.iter + 1)
        if "seed" in state_dict:
            self.data_loader.stream.seed = state_dict["seed"]

    def train(self):
        """Train from ``start_iter`` (0, or the iteration after the resumed checkpoint), then
        return the last evaluation's results (None on other ranks or without one).

        DefaultTrainer returns them only when TEST.EXPECTED_RESULTS is set."""
        self.data_loader.start_at(self.start_iter)
        train_loop_logger = logging.getLogger(TrainerBase.__module__)
        no_traceback = _NoTracebackForUserErrors()
        train_loop_logger.addFilter(no_traceback)
        try:
            super().train()
        finally:
            train_loop_logger.removeFilter(no_traceback)
        return getattr(self, "_last_eval_results", None)

    def run_step(self):
        # RPN and ROI sampling draw from torch's generator: seeded from (seed, iteration, rank),
        # a resumed iteration draws what the uninterrupted run drew.
        seed_all_rngs(derive_seed(self.seed, STEP, self.iter, comm.get_rank()))
        with stop_on_diverged_predictions(self.cfg.MODEL.DEVICE):
            super().run_step()
