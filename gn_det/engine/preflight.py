"""Checks that stop a run before any heavy work, each with one line that says what to change.

* :func:`check_training_config`: settings that cannot work or would silently spoil a run.
* :func:`check_datasets`: every dataset of the run validated (:mod:`gn_det.data.validation`) by the
  main process, for what the run does with it (an evaluated dataset needs the fields COCO
  evaluation reads, a mask model's datasets their masks), the verdict shared with all processes so
  that they all stop together.

Errors of the model's construction (e.g. GN groups that do not divide a layer's channels) are
turned into ConfigError where the trainer builds the model, and errors of the weights file come
from gn_det.checkpoint; both are GNDetErrors, which the tools print as one line.
"""
import logging

from detectron2.utils import comm

from ..data.required_fields import dataset_uses
from ..data.validation import validate_dataset
from ..errors import USER_ERRORS, ConfigError, DatasetError
from ..evaluation import check_backend

logger = logging.getLogger(__name__)

# The training sampler whose order the trainer reproduces on resume (gn_det.data.sample_stream).
SUPPORTED_SAMPLER = "TrainingSampler"


def check_training_config(cfg, num_processes):
    """Raise ConfigError for a training config that cannot work in ``num_processes`` processes."""
    batch = cfg.SOLVER.IMS_PER_BATCH
    if batch % num_processes:
        raise ConfigError(
            f"SOLVER.IMS_PER_BATCH={batch} is not divisible by the {num_processes} training "
            f"processes: each process needs the same whole number of images. Use a multiple of "
            f"{num_processes} (and scale SOLVER.BASE_LR with it, the linear scaling rule)."
        )
    freeze_at = cfg.MODEL.BACKBONE.FREEZE_AT
    if not cfg.MODEL.WEIGHTS and freeze_at > 0:
        frozen = "the stem" + (f" and res2..res{freeze_at}" if freeze_at > 2 else
                               " and res2" if freeze_at == 2 else "")
        raise ConfigError(
            f"MODEL.WEIGHTS is empty (training from scratch) but MODEL.BACKBONE.FREEZE_AT is "
            f"{freeze_at}: {frozen} would stay frozen at random initialization. Set "
            f"MODEL.BACKBONE.FREEZE_AT 0 (as the *_scratch presets do) or give MODEL.WEIGHTS."
        )
    if cfg.DATALOADER.SAMPLER_TRAIN != SUPPORTED_SAMPLER:
        raise ConfigError(
            f"DATALOADER.SAMPLER_TRAIN {cfg.DATALOADER.SAMPLER_TRAIN!r} is not supported: gn_det's "
            f"trainer reads its data in a resumable seeded order and needs {SUPPORTED_SAMPLER!r}."
        )
    try:  # evaluation runs hours after the start: an unusable backend must stop the run now
        check_backend(cfg.TEST.COCO_EVAL_BACKEND)
    except (ValueError, ImportError) as error:
        raise ConfigError(str(error)) from None


def _first_dataset_error(uses, check_image_files):
    for name, use in uses.items():
        try:
            report = validate_dataset(name, check_files=check_image_files, use=use)
        except USER_ERRORS as error:
            return str(error)
        logger.info(report.summary())
        error = report.error()
        if error:
            return str(error)
    return None


def check_datasets(cfg, training=True):
    """Validate the datasets a run of ``cfg`` reads (the training sets when ``training``, and the
    evaluated ones, each for what it is used for) in the main process and raise its first error as
    a DatasetError in every process; the summary of each dataset (sizes, skips) goes to the log."""
    message = (_first_dataset_error(dataset_uses(cfg, training), cfg.GN_DET.CHECK_IMAGE_FILES)
               if comm.is_main_process() else None)
    if comm.get_world_size() > 1:
        message = comm.all_gather(message)[0]
    if message:
        raise DatasetError(message)
