"""Names for published weights: gn_det's handles and detectron2's URL schemes, resolved to URLs.

``MODEL.WEIGHTS`` may be a local path, an ``http(s)://`` URL, a handle of :data:`WEIGHTS_CATALOG`
(``Detectron/GN/48616381``), or one of detectron2's ``detectron2://...`` and ``catalog://...``.
"""
from detectron2.checkpoint.catalog import ModelCatalog

from ..errors import GNDetError

DETECTRON_URL_PREFIX = "https://dl.fbaipublicfiles.com/detectron"
DETECTRON2_URL_PREFIX = "https://dl.fbaipublicfiles.com/detectron2/"

DETECTRON2_SCHEME = "detectron2://"
CATALOG_SCHEME = "catalog://"

# Where Detectron's training jobs wrote the final weights of a COCO model (MODEL_ZOO layout).
_DETECTRON_COCO_FINAL = (
    "output/train/coco_2014_train%3Acoco_2014_valminusminival/generalized_rcnn/model_final.pkl"
)


def _detectron_gn_model(run):
    return f"{DETECTRON_URL_PREFIX}/GN/{run}/{_DETECTRON_COCO_FINAL}"


# Handle -> URL of FAIR's GN weights (Detectron projects/GN). All are Caffe2 blob files: they need
# RESNETS.STRIDE_IN_1X1 False, BGR input and PIXEL_STD [1, 1, 1] (caffe2.FAIR_GN_CONVENTIONS).
WEIGHTS_CATALOG = {
    # ImageNet ResNet-50 with GN (G=32), 24.0% top-1 error.
    "Detectron/ImageNetPretrained/R-50-GN":
        f"{DETECTRON_URL_PREFIX}/ImageNetPretrained/47261647/R-50-GN.pkl",
    # ImageNet ResNet-101 with GN (G=32), 22.6% top-1 error.
    "Detectron/ImageNetPretrained/R-101-GN":
        f"{DETECTRON_URL_PREFIX}/ImageNetPretrained/47592356/R-101-GN.pkl",
    # Mask R-CNN R-50-FPN GN 2x, 40.3 box AP / 35.7 mask AP.
    "Detectron/GN/48616381": _detectron_gn_model(
        "48616381/04_2018_gn_baselines/e2e_mask_rcnn_R-50-FPN_2x_gn_0416.13_23_38.bTlTI97Q"),
    # Mask R-CNN R-101-FPN GN 2x, 41.8 / 36.8.
    "Detectron/GN/48616724": _detectron_gn_model(
        "48616724/04_2018_gn_baselines/e2e_mask_rcnn_R-101-FPN_2x_gn_0416.13_26_34.GLnri4GR"),
    # Mask R-CNN R-50-FPN GN 3x, 40.8 / 36.1.
    "Detectron/GN/48734751": _detectron_gn_model(
        "48734751/04_2018_gn_baselines/e2e_mask_rcnn_R-50-FPN_3x_gn_0417.09_54_59.nwCTtPVk"),
    # Mask R-CNN R-101-FPN GN 3x, 42.3 / 37.2.
    "Detectron/GN/48734779": _detectron_gn_model(
        "48734779/04_2018_gn_baselines/e2e_mask_rcnn_R-101-FPN_3x_gn_0417.09_55_23.HMtcR8wg"),
}


class UnknownCatalogEntryError(GNDetError, LookupError):
    """A ``catalog://`` name that detectron2's catalog does not have."""


def url_of(weights):
    """The URL that ``weights`` stands for, or None when it is no URL, scheme or handle."""
    if weights.startswith(("http://", "https://")):
        return weights
    if weights.startswith(DETECTRON2_SCHEME):
        return DETECTRON2_URL_PREFIX + weights[len(DETECTRON2_SCHEME):]
    if weights.startswith(CATALOG_SCHEME):
        return _detectron2_catalog_url(weights[len(CATALOG_SCHEME):])
    return WEIGHTS_CATALOG.get(weights)


def _detectron2_catalog_url(name):
    try:
        return ModelCatalog.get(name)
    except (RuntimeError, KeyError):
        raise UnknownCatalogEntryError(
            f"'{CATALOG_SCHEME}{name}' is not in detectron2's model catalog. gn_det's handles "
            f"are: {', '.join(WEIGHTS_CATALOG)}") from None
