"""The mapper of evaluated images: detectron2's test-time DatasetMapper, with whole float image
sizes as integers."""
from detectron2.data import DatasetMapper


class EvaluationMapper(DatasetMapper):
    """detectron2's ``DatasetMapper(cfg, is_train=False)`` for an image whose ``height`` / ``width``
    a COCO file writes as whole floats (``60.0``, which detectron2's loader keeps as they are).

    detectron2 pastes the predicted masks into a tensor of that size (``detector_postprocess``),
    which refuses floats; dataset validation refuses sizes that are not whole numbers, so the ints
    here are exact."""

    def __call__(self, dataset_dict):
        dataset_dict = dict(dataset_dict)
        for key in ("height", "width"):
            if isinstance(dataset_dict.get(key), float):
                dataset_dict[key] = int(dataset_dict[key])
        return super().__call__(dataset_dict)
