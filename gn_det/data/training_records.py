"""The training images and annotations of a config, as training uses them."""
from detectron2.data.build import (
    filter_images_with_only_crowd_annotations,
    get_detection_dataset_dicts,
)

from ..errors import DatasetError
from .annotation_checks import usable_annotations
from .required_fields import dataset_uses
from .validation import listing_command


def training_records(cfg):
    """The dataset dicts of ``cfg.DATASETS.TRAIN`` that training uses: skipped annotations removed,
    then images left without annotations removed (``DATALOADER.FILTER_EMPTY_ANNOTATIONS``)."""
    records = get_detection_dataset_dicts(
        cfg.DATASETS.TRAIN,
        filter_empty=False,
        min_keypoints=(cfg.MODEL.ROI_KEYPOINT_HEAD.MIN_KEYPOINTS_PER_IMAGE
                       if cfg.MODEL.KEYPOINT_ON else 0),
        proposal_files=cfg.DATASETS.PROPOSAL_FILES_TRAIN if cfg.MODEL.LOAD_PROPOSALS else None,
    )
    records = [usable_annotations(record) for record in records]
    if cfg.DATALOADER.FILTER_EMPTY_ANNOTATIONS:
        records = filter_images_with_only_crowd_annotations(records)
    if not records:
        uses = dataset_uses(cfg)
        listing = "; ".join(listing_command(name, uses[name]) for name in cfg.DATASETS.TRAIN)
        raise DatasetError(f"No image of {', '.join(cfg.DATASETS.TRAIN)} has a usable annotation: "
                           f"nothing to train on. What was skipped is listed by {listing}.")
    return records
