"""GNDetCheckpointer: detectron2's checkpointer that reads every supported format safely and
reports, on every load, how much of the model the file initialized."""
import logging

from detectron2.checkpoint import DetectionCheckpointer

from .anchor_order import anchor_layout
from .coverage import measure_coverage, require_backbone_loaded
from .diagnosis import likely_causes
from .fetch import local_weights_path
from .formats import convert_checkpoint
from .safe_pickle import read_weights_file

# Key of the dict that ``load`` returns under which the CoverageReport is given back.
COVERAGE_REPORT_KEY = "coverage_report"
# Carries the conversion from _load_file to _load_model inside fvcore's checkpoint dict.
_CONVERTED_KEY = "__gn_det_converted__"


class GNDetCheckpointer(DetectionCheckpointer):
    """A :class:`DetectionCheckpointer` for Detectron (Caffe2), detectron2, gn_det and
    torchvision/timm weights.

    On ``load`` / ``resume_or_load`` it

    1. resolves URLs, gn_det catalog handles, ``detectron2://`` and ``catalog://`` names through
       the weights cache, failing fast with instructions when offline (:mod:`.fetch`);
    2. reads the file without running code from it (:mod:`.safe_pickle`);
    3. detects the format and renames the weights to the model's (:mod:`.formats`), putting a
       Detectron C4 RPN's rows in the model's order of anchors (:mod:`.anchor_order`);
    4. logs a :class:`~.coverage.CoverageReport` and returns it in the result under
       ``"coverage_report"``; with ``strict_backbone`` it raises
       :class:`~.coverage.BackboneWeightsError` instead of loading when the file does not fit
       the model's ResNet exactly (a ResNet tensor would keep its random initialization, or the
       file has ResNet entries the model lacks).

    Args:
        strict_backbone: refuse files that do not initialize exactly the model's ResNet.
        trust_pickles: read files without the allow-list (only for files you trust). None:
            ``GN_DET_TRUST_PICKLES=1`` in the environment decides.
        The other arguments are DetectionCheckpointer's.
    """

    def __init__(self, model, save_dir="", *, strict_backbone=False, trust_pickles=None,
                 save_to_disk=None, **checkpointables):
        super().__init__(model, save_dir, save_to_disk=save_to_disk, **checkpointables)
        self.strict_backbone = strict_backbone
        self.trust_pickles = trust_pickles

    def load(self, path, *args, **kwargs):
        return super().load(local_weights_path(path) if path else path, *args, **kwargs)

    def _load_file(self, filename):
        data = read_weights_file(filename, self.trust_pickles)
        converted = convert_checkpoint(data, self.model.state_dict(), filename,
                                       anchor_layout(self.model))
        checkpoint = dict(converted.other_entries)
        checkpoint["model"] = converted.tensors
        checkpoint[_CONVERTED_KEY] = (converted, filename)
        return checkpoint

    def _load_model(self, checkpoint):
        converted, filename = checkpoint.pop(_CONVERTED_KEY)
        report = measure_coverage(self.model.state_dict(), converted, filename)
        report.hints = likely_causes(report, self.model, converted.conventions)
        needs_attention = report.hints or report.unloaded_resnet_keys()
        # fvcore's logger, which detectron2's default_setup sends to the console and log file.
        self.logger.log(logging.WARNING if needs_attention else logging.INFO, "%s", report)
        if self.strict_backbone:
            require_backbone_loaded(report)
        checkpoint[COVERAGE_REPORT_KEY] = report
        return super()._load_model(checkpoint)

    def _log_incompatible_keys(self, incompatible):
        """Nothing to add: the coverage report already lists every key that did not load."""


def load_weights(model, weights, *, strict_backbone=False, trust_pickles=None):
    """Load ``weights`` (path, URL or handle) into ``model``; return the :class:`CoverageReport`."""
    checkpointer = GNDetCheckpointer(model, strict_backbone=strict_backbone,
                                     trust_pickles=trust_pickles)
    return checkpointer.load(weights)[COVERAGE_REPORT_KEY]
