"""A trained model for evaluation and pictures: built as the trainer builds it, its weights loaded
by gn_det's checkpointer, and refused when the weights leave part of it at initialization.

Evaluating a randomly initialized model "works": it reports AP ~0 and exits 0. Every tensor of
the model must therefore come from the weights file; ImageNet weights (backbone only), an empty
``MODEL.WEIGHTS`` or a checkpoint of another config are refused with one line that says which
parts are missing and what to pass instead.
"""
from detectron2.data import transforms as T
from detectron2.engine import DefaultPredictor

from ..checkpoint import COVERAGE_REPORT_KEY
from ..errors import GNDetError
from ..evaluation import check_backend
from .preflight import check_datasets
from .trainer import Trainer

_PASS_TRAINED = ("Pass the weights of a model trained with this config, e.g. MODEL.WEIGHTS "
                 "output/model_final.pth")
# Added where the tool has --resume (tools/train_net.py --eval-only).
_OR_RESUME = " (or --resume to use OUTPUT_DIR's last checkpoint)"


def _pass_trained(offers_resume):
    return f"{_PASS_TRAINED}{_OR_RESUME if offers_resume else ''}."


class UntrainedModelError(GNDetError, RuntimeError):
    """Weights that leave part of the model to be evaluated at initialization."""


def require_trained_weights(report, offers_resume=False):
    """Raise :class:`UntrainedModelError` unless the load that ``report`` (a CoverageReport, or
    None when nothing was loaded) describes initialized every tensor of the model.
    ``offers_resume``: the message also suggests the caller's --resume."""
    if report is None:
        raise UntrainedModelError(
            "No weights to evaluate: MODEL.WEIGHTS is empty, so the model would keep its random "
            f"initialization and score AP ~0. {_pass_trained(offers_resume)}")
    unloaded = len(report.missing) + len(report.mismatched)
    if not unloaded:
        return
    counts = report.group_counts()
    parts = [f"{group} {row['missing'] + row['shape mismatch']} of {row['in model']}"
             for group, row in counts.items() if row["missing"] + row["shape mismatch"]]
    hints = "".join(f" Likely cause: {hint}" for hint in report.hints)
    raise UntrainedModelError(
        f"{report.source} ({report.format}) leaves {unloaded} of {len(report.model_keys)} model "
        f"tensors at random initialization ({', '.join(parts)}): it is not a trained model for "
        f"this config, and its AP would be meaningless. {_pass_trained(offers_resume)}{hints}")


def load_trained_model(cfg, resume=None, trainer=Trainer):
    """``cfg``'s model (as :meth:`Trainer.build_model` builds it) in eval mode with
    ``MODEL.WEIGHTS`` loaded by gn_det's checkpointer (coverage report,
    ``GN_DET.STRICT_BACKBONE_WEIGHTS``), or with OUTPUT_DIR's last checkpoint when ``resume``
    finds one (None: the calling tool has no --resume). Raises :class:`UntrainedModelError` for
    weights that do not cover the model."""
    model = trainer.build_model(cfg)
    loaded = trainer.build_checkpointer(cfg, model).resume_or_load(cfg.MODEL.WEIGHTS,
                                                                    resume=bool(resume))
    require_trained_weights(loaded.get(COVERAGE_REPORT_KEY), offers_resume=resume is not None)
    return model.eval()


def evaluate_trained_model(cfg, resume=False, trainer=Trainer):
    """``--eval-only``: check the evaluation backend, load the trained model, validate the test
    datasets, then evaluate on them as the trainer does; returns the results. ``trainer``: the
    trainer class whose builders read ``cfg`` (:class:`~gn_det.engine.lazy_trainer.LazyTrainer`
    for a lazy config's view)."""
    check_backend(cfg.TEST.COCO_EVAL_BACKEND)
    model = load_trained_model(cfg, resume, trainer)
    check_datasets(cfg, training=False)
    return trainer.test(cfg, model)


class TrainedModelPredictor(DefaultPredictor):
    """detectron2's DefaultPredictor (its preprocessing and ``__call__``) on the model of
    :func:`load_trained_model`: gn_det's build (``MODEL.FAST_PATH``), any supported weights
    format, refusal of weights that do not cover the model."""

    def __init__(self, cfg):  # DefaultPredictor's own __init__ would load with its checkpointer
        self.cfg = cfg.clone()
        self.model = load_trained_model(self.cfg)
        self.aug = T.ResizeShortestEdge([cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MIN_SIZE_TEST],
                                        cfg.INPUT.MAX_SIZE_TEST)
        self.input_format = cfg.INPUT.FORMAT
